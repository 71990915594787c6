"""`python -m bot responses rebuild-rollups` recounts every grain from the answers: a
report over days outside whole months is the same before and after."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from tests.cli_helpers import Result, run_cli

CRITERIA = [
    *(f"F1.{i}" for i in range(1, 5)),
    *(f"F2.{i}" for i in range(1, 6)),
    *(f"F3.{i}" for i in range(1, 7)),
    *(f"F4.{i}" for i in range(1, 4)),
]


def bot(workdir: Path, *args: str) -> Result:
    return run_cli(workdir, *args, env={"DATABASE_URL": f"sqlite:///{workdir / 'bot.db'}"})


def test_rebuild_keeps_a_report_of_days_outside_whole_months(tmp_path):
    (tmp_path / "agencies.csv").write_text(
        "code,name,level\nSTP,Sở Tư pháp,province\n", encoding="utf-8"
    )
    with open(tmp_path / "forms.csv", "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["form_id", "agency", "date", *CRITERIA, "feedback_given"])
        for number, (day, value) in enumerate(
            [("2025-06-29", 5), ("2025-07-03", 5), ("2025-07-15", 1), ("2025-08-02", 2)]
        ):
            writer.writerow([f"P{number}", "STP", day, *[value] * len(CRITERIA), 2])
    assert bot(tmp_path, "agencies", "import", "agencies.csv").returncode == 0
    assert bot(tmp_path, "responses", "import", "forms.csv", "--channel", "paper").returncode == 0

    def report() -> dict:
        result = bot(tmp_path, "report", "--period", "2025-06-29..2025-07-14", "--format", "json")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    before = report()
    assert before["total"]["respondents"] == 2  # 29 June and 3 July
    assert before["total"]["overall"]["index"] == 100.0
    rebuilt = bot(tmp_path, "responses", "rebuild-rollups")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert report() == before
