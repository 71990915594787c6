"""`python -m bot report` and `responses import` as an official runs them (`main` in-process
on a temporary SQLite file): every format opens and holds the hand-computed figures.

Two forms in July 2025: P1 answers 5 everywhere, P2 answers 1, both say "no" to the
feedback gate. So every F1-F4 criterion is 1 of 2 satisfied (50 %), F5 is missing,
SIPAS = 50, and two respondents are a small sample below the 80 target.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from contextlib import closing
from pathlib import Path

import jsonschema
import pytest
from openpyxl import load_workbook

from tests.cli_helpers import Result, run_cli

ROOT = Path(__file__).resolve().parents[3]
CRITERIA = [
    *(f"F1.{i}" for i in range(1, 5)),
    *(f"F2.{i}" for i in range(1, 6)),
    *(f"F3.{i}" for i in range(1, 7)),
    *(f"F4.{i}" for i in range(1, 4)),
]


def bot(workdir: Path, *args: str) -> Result:
    """The command in `workdir` (no .env of the developer's), on its own SQLite file."""
    return run_cli(workdir, *args, env={"DATABASE_URL": f"sqlite:///{workdir / 'bot.db'}"})


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    workdir = tmp_path_factory.mktemp("cli")
    (workdir / "agencies.csv").write_text(
        "code,name,level\nSTP,Sở Tư pháp,province\n", encoding="utf-8"
    )
    with open(workdir / "forms.csv", "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["form_id", "agency", "date", *CRITERIA, "feedback_given"])
        writer.writerow(["P1", "STP", "2025-07-01", *[5] * len(CRITERIA), 2])
        writer.writerow(["P2", "STP", "2025-07-20", *[1] * len(CRITERIA), 2])
        writer.writerow(["P3", "NOPE", "2025-07-20", *[1] * len(CRITERIA), 2])
    assert bot(workdir, "agencies", "import", "agencies.csv").returncode == 0
    imported = bot(workdir, "responses", "import", "forms.csv", "--channel", "paper")
    assert imported.returncode == 1  # one row rejected
    assert "forms.csv: row 4: unknown agency code 'NOPE'" in imported.stderr
    assert "2 forms stored" in imported.stdout
    # Chat sessions that ended in July, as the survey counts them: 3 completed, 2 left
    # at question 9 (step 8), 1 while choosing the agency.
    with closing(sqlite3.connect(workdir / "bot.db")) as db, db:
        (stp,) = db.execute("SELECT id FROM agencies WHERE code = 'STP'").fetchone()
        db.executemany(
            "INSERT INTO survey_funnel VALUES (?, ?, ?, 'sipas-2017', 'telegram', ?, ?, ?, ?)",
            [
                ("2025-07-05", stp, 0, "questions", 28, "completed", 3),
                ("2025-07-06", stp, 0, "questions", 8, "expired", 2),
                ("2025-07-06", 0, 0, "agency", 0, "cancelled", 1),
            ],
        )
    return workdir


def test_json(workdir):
    result = bot(workdir, "report", "--month", "2025-07", "--format", "json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    total = data["total"]
    assert data["rule"] == "mean_of_factors"
    assert (data["target"], data["min_sample"]) == (80.0, 30)
    assert total["respondents"] == 2
    assert total["overall"]["index"] == 50.0
    assert total["overall"]["to_target"] == -30.0
    assert total["overall"]["factors_missing"] == ["F5"]
    assert total["flags"] == ["small_sample", "below_target", "missing:F5"]
    factors = {f["factor"]: f for f in total["factors"]}
    assert factors["F2"]["index"] == 50.0
    assert factors["F2"]["name"] == "Thủ tục hành chính"
    assert factors["F5"]["index"] is None
    assert 0 < total["overall"]["ci_low"] < 50 < total["overall"]["ci_high"] < 100
    assert [(g["key"]["agency"], g["respondents"]) for g in data["groups"]] == [("STP", 2)]
    assert data["groups"][0]["names"] == {"agency": "Sở Tư pháp"}  # the code stays in "key"
    assert factors["F5"]["criteria"] == ["F5.1", "F5.2", "F5.3", "F5.4"]
    assert factors["F5"]["criteria_without_data"] == factors["F5"]["criteria"]
    assert factors["F2"]["criteria_without_data"] == []
    f51 = next(c for c in total["criteria"] if c["item_id"] == "F5.1")
    assert (f51["has_data"], f51["valid_n"], f51["index"]) == (False, 0, None)
    dropoff = data["dropoff"]
    assert (dropoff["started"], dropoff["outcomes"]["completed"]) == (6, 3)
    assert dropoff["completion_rate"] is None and not dropoff["reliable"]  # 6 < 30
    assert dropoff["before_questions"] == {"agency": 1, "service": 0, "unknown": 0}
    assert dropoff["most_left_at"] == "F2.5"
    step = dropoff["steps"][8]
    assert (step["number"], step["question_id"], step["reached"], step["left"]) == (
        9,
        "F2.5",
        5,
        2,
    )
    assert step["name"].startswith("Thời hạn giải quyết")


SCHEMA = json.loads((ROOT / "handlers" / "reports" / "report.schema.json").read_text("utf-8"))


@pytest.mark.parametrize(
    "args",
    [
        ("--month", "2025-07"),
        ("--month", "2025-07", "--group-by", "agency,service,month", "--lang", "en"),
        ("--year", "2019"),  # no data at all: nulls, never zeros
    ],
)
def test_json_output_matches_its_published_schema(workdir, args):
    result = bot(workdir, "report", *args, "--format", "json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    jsonschema.Draft202012Validator(SCHEMA).validate(data)
    # The schema is strict enough to catch a renamed or extra field.
    data["total"]["factors"][0]["surprise"] = 1
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(SCHEMA).validate(data)
    del data["total"]["factors"][0]["surprise"]
    data["dropoff"]["steps"][0]["chat_id"] = 1
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(SCHEMA).validate(data)


def test_csv(workdir):
    result = bot(workdir, "report", "--month", "2025-07", "--format", "csv", "--lang", "en")
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    total = [row for row in rows if row["agency"] == ""]
    assert total[0]["scope"] == "overall" and total[0]["index"] == "50.0"
    f2 = next(row for row in total if row["id"] == "F2")
    assert f2["name"] == "Administrative procedures"
    assert {row["agency"] for row in rows} == {"", "STP"}
    # total and STP: overall, factors, criteria; the total's drop-off: completion, 29 questions
    assert len(rows) == 2 * (1 + 5 + 22) + 1 + 29
    completion = next(row for row in rows if row["scope"] == "completion")
    assert (completion["valid_n"], completion["count"], completion["index"]) == ("6", "3", "")
    f25 = next(row for row in rows if row["scope"] == "dropoff" and row["id"] == "F2.5")
    assert (f25["valid_n"], f25["count"], f25["reliable"]) == ("5", "2", "False")


def test_xlsx(workdir):
    path = workdir / "report.xlsx"
    result = bot(workdir, "report", "--month", "2025-07", "--format", "xlsx", "--output", str(path))
    assert result.returncode == 0, result.stderr
    workbook = load_workbook(path)
    assert workbook.sheetnames == ["Tổng quan", "Yếu tố", "Tiêu chí", "Theo cơ quan", "Bỏ dở"]
    overview = {row[0]: row[1] for row in workbook["Tổng quan"].iter_rows(values_only=True)}
    assert overview["SIPAS (%)"] == pytest.approx(50.0)
    assert overview["Số phiếu"] == 2
    assert overview["Từ ngày"] == "01/07/2025"
    assert overview["Cách tính"].startswith("trung bình chỉ số các yếu tố")
    factors = list(workbook["Yếu tố"].iter_rows(values_only=True))
    assert factors[0][:3] == ("Yếu tố", "Tên", "Chỉ số (%)")
    assert factors[3][:3] == ("F3", "Công chức trực tiếp giải quyết công việc", 50.0)
    # Numbers stay numbers; the reader's spreadsheet writes them with its own separators.
    assert workbook["Yếu tố"]["C4"].number_format == "0.00"
    assert workbook["Yếu tố"]["G4"].number_format == "#,##0"
    assert len(list(workbook["Tiêu chí"].iter_rows())) == 1 + 22
    by_agency = list(workbook["Theo cơ quan"].iter_rows(values_only=True))
    assert by_agency[0][:2] == ("Cơ quan: mã", "Cơ quan: tên")
    assert by_agency[1][:5] == ("STP", "Sở Tư pháp", 2, False, 50.0)
    assert overview["Phiên chat hoàn thành"] == 3
    dropoff = list(workbook["Bỏ dở"].iter_rows(values_only=True))
    assert dropoff[0][:5] == ("Câu số", "Mã", "Câu hỏi", "Đến câu này", "Bỏ dở tại câu")
    assert len(dropoff) == 1 + 29 + 1  # every question, then those left before any
    assert dropoff[9][:2] == (9, "F2.5") and dropoff[9][3:8] == (5, 2, 2, 0, 0)
    assert dropoff[-1][1:5] == ("agency", "Trước câu hỏi đầu tiên: khi chọn cơ quan", None, 1)


def test_xlsx_in_english(workdir):
    path = workdir / "report.xlsx"
    result = bot(
        workdir,
        "report",
        "--month",
        "2025-07",
        "--format",
        "xlsx",
        "--lang",
        "en",
        "--output",
        str(path),
    )
    assert result.returncode == 0, result.stderr
    workbook = load_workbook(path)
    assert workbook.sheetnames == ["Overview", "Factors", "Criteria", "By agency", "Drop-off"]


def test_png(workdir):
    from PIL import Image

    path = workdir / "report.png"
    result = bot(workdir, "report", "--period", "2025-07", "--format", "png", "--output", str(path))
    assert result.returncode == 0, result.stderr
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(path) as image:
        assert image.width > 800 and image.height > 400


def test_table(workdir):
    result = bot(workdir, "report", "--from", "2025-07-01", "--to", "2025-07-31")
    assert result.returncode == 0, result.stderr
    assert "SIPAS: 50,00" in result.stdout  # Vietnamese decimals by default
    assert "(01/07/2025 – 31/07/2025)" in result.stdout
    assert "Cách tính: trung bình chỉ số các yếu tố" in result.stdout
    assert "mean_of" not in result.stdout  # words, not identifiers
    assert "F2 Thủ tục hành chính" in result.stdout
    assert "STP Sở Tư pháp" in result.stdout
    assert "mẫu nhỏ" in result.stdout  # small sample, in Vietnamese by default
    assert "Bắt đầu 6; Hoàn thành 3; tỷ lệ hoàn thành mẫu nhỏ" in result.stdout
    assert "Dừng trước câu hỏi đầu tiên: khi chọn cơ quan 1" in result.stdout


def test_table_in_english_keeps_english_numbers(workdir):
    result = bot(workdir, "report", "--month", "2025-07", "--lang", "en")
    assert result.returncode == 0, result.stderr
    assert "SIPAS: 50.00" in result.stdout
    assert "Rule: mean of the factor indices" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "png"], "--format png needs --output FILE"),
        (["--agency", "NOPE"], "unknown agency code NOPE"),
        (["--month", "2025-13"], "no month 13"),
        (["--group-by", "weekday"], "--group-by: unknown weekday"),
        (["--month", "2025-07", "--year", "2025"], "give one period"),
    ],
)
def test_usage_errors(workdir, args, message):
    result = bot(workdir, "report", *args)
    assert result.returncode == 2
    assert message in result.stderr
