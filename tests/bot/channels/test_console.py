"""The embedded default: import the sample catalogue, create a code, and take the whole
survey in the console chat through standard input, all by the command line's `main`."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.cli_helpers import Result, run_cli

ROOT = Path(__file__).resolve().parents[3]


def run_bot(cwd: Path, *args: str, stdin: str | None = None) -> Result:
    return run_cli(cwd, *args, env={"LOG_LEVEL": "WARNING"}, stdin=stdin)


def count(cwd: Path, table: str) -> int:
    with sqlite3.connect(cwd / "sipas.db") as connection:
        return connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_console_survey_through_a_pipe(tmp_path):
    for noun in ("agencies", "services"):
        result = run_bot(tmp_path, noun, "import", str(ROOT / f"bot/data/sample_{noun}.csv"))
        assert result.returncode == 0, result.stderr
    created = run_bot(
        tmp_path, "codes", "create", "--agency", "DNAI-XDONGXOAI", "--service", "HT-KS"
    )
    assert created.returncode == 0, created.stderr
    code = created.stdout.strip()

    likert = [
        "5",
        "hài lòng",
        "binh thuong",
        "Không hài lòng",
        "rat khong hai long",
        "Không ý kiến",
    ]
    lines = [f"/start {code}"]
    lines += [likert[i % len(likert)] for i in range(18)]  # F1-F4
    lines += ["sticker?", "có"]  # an unreadable answer to the gate, then yes
    lines += ["4", "4", "5", "3"]  # F5
    lines += ["Nữ", "2", "/skip", "/skip", "Kinh"]  # profile
    lines += ["Cán bộ nhiệt tình."]
    result = run_bot(tmp_path, stdin="\n".join(lines) + "\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("No chat platform is configured")
    assert "Cảm ơn Ông/Bà đã dành thời gian đánh giá!" in result.stdout
    assert "Câu 29/29" in result.stdout

    # Held until the day is over: today's pool is published only on request, with --force.
    assert count(tmp_path, "response_pool") == 1 and count(tmp_path, "responses") == 0
    published = run_bot(tmp_path, "responses", "publish")
    assert published.returncode == 0, published.stderr
    assert published.stdout.startswith("0 held chat responses published; 1 still held")
    refused = run_bot(tmp_path, "responses", "publish", "--all-days")
    assert refused.returncode == 2 and "--force" in refused.stderr
    published = run_bot(tmp_path, "responses", "publish", "--all-days", "--force")
    assert published.returncode == 0, published.stderr
    assert published.stdout.startswith("1 held chat responses published; 0 still held")
    assert count(tmp_path, "response_pool") == 0
    assert count(tmp_path, "survey_sessions") == 0

    with sqlite3.connect(tmp_path / "sipas.db") as connection:
        answers = dict(
            connection.execute(
                "SELECT item_id, COALESCE(CAST(value AS TEXT), text) FROM response_answers"
            ).fetchall()
        )
        channels = connection.execute("SELECT channel_kind FROM responses").fetchall()
    assert channels == [("console",)]
    expected_likert = ["5", "4", "3", "2", "1", "0"]
    assert [answers[f"F1.{i}"] for i in range(1, 5)] == expected_likert[:4]
    assert answers["feedback_given"] == "1"
    assert [answers[f"F5.{i}"] for i in range(1, 5)] == ["4", "4", "5", "3"]
    assert answers["gender"] == "2" and answers["age_band"] == "2"
    assert "education" not in answers and "occupation" not in answers
    assert answers["suggestion"] == "Cán bộ nhiệt tình."
    assert len(answers) == 18 + 1 + 4 + 3 + 1


def test_import_reports_bad_rows_and_keeps_good_ones(tmp_path):
    path = tmp_path / "agencies.csv"
    path.write_text(
        "Mã,Tên,Cấp,Hiệu lực đến,Mã kế thừa\n"
        "A1,UBND xã Một,xã,,\n"
        ",Không có mã,xa,,\n"
        "A2,UBND xã Hai,thon,,\n"
        "A3,UBND huyện Ba,huyện,30/06/2025,A1\n"
        "A4,UBND xã Bốn,xa,31-02-2025,\n",
        encoding="utf-8",
    )
    result = run_bot(tmp_path, "agencies", "import", str(path))
    assert result.returncode == 1
    assert result.stdout.strip() == "agencies.csv: 2 created, 0 updated, 3 rejected"
    errors = result.stderr.strip().splitlines()
    assert [line.split(":")[1].strip() for line in errors] == ["row 3", "row 4", "row 6"]
    again = run_bot(tmp_path, "agencies", "import", str(path))
    assert again.stdout.strip() == "agencies.csv: 0 created, 0 updated, 3 rejected"
    with sqlite3.connect(tmp_path / "sipas.db") as connection:
        rows = connection.execute(
            "SELECT code, level, valid_to, successor_code FROM agencies ORDER BY code"
        ).fetchall()
    assert rows == [("A1", "commune", None, None), ("A3", "district", "2025-06-30", "A1")]


def test_codes_for_an_unknown_agency_are_refused(tmp_path):
    result = run_bot(tmp_path, "codes", "create", "--agency", "NOPE", "--service", "HT-KS")
    assert result.returncode == 2
    assert result.stderr.strip() == "error: unknown agency code 'NOPE'"
