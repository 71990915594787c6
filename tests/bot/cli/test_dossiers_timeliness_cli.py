"""`bot dossiers timeliness` as an official runs it, in-process on both databases."""

from __future__ import annotations

import json

import jsonschema
import pytest

from bot.cli import UsageError, build_parser
from handlers.dossiers.timeliness_text import SCHEMA_PATH
from tests.dossier_helpers import dossier_settings, vn_time
from tests.timeliness_helpers import seed_february


async def run(database, *argv: str) -> int:
    args = build_parser().parse_args(list(argv))
    args.clock = lambda: vn_time(2027, 3, 1)
    return await args.func(args, dossier_settings(database), database)


async def test_table_json_scope_and_refusals(database, capsys):
    await seed_february(database)
    assert await run(database, "dossiers", "timeliness", "--period", "2027-02") == 0
    table = capsys.readouterr().out
    assert "Tỷ lệ" in table and "1. DNAI-XTEST UBND xã Tân Lợi" in table
    assert "50,0%" in table and "Tổng cộng" in table
    assert "Ngoài ra 1 hồ sơ đã xong không có ngày hẹn" in table
    assert await run(database, "dossiers", "timeliness", "--period", "2027-02", "--lang", "en") == 0
    assert "Share" in (english := capsys.readouterr().out) and "50.0%" in english

    argv = ("dossiers", "timeliness", "--period", "2027-02", "--format", "json")
    assert await run(database, *argv, "--agency", "DNAI-XTEST") == 0
    data = json.loads(capsys.readouterr().out)
    jsonschema.Draft202012Validator(json.loads(SCHEMA_PATH.read_text())).validate(data)
    assert data["period"] == {"label": "2027-02", "start": "2027-02-01", "end": "2027-02-28"}
    assert data["as_of"] == "2027-03-01"
    assert (data["total"]["finished"], data["total"]["finished_on_time"]) == (6, 3)
    assert data["total"]["on_time_share"] == 0.5
    assert [unit["agency_code"] for unit in data["units"]] == ["DNAI-XTEST"]

    assert await run(database, *argv, "--agency", "DNAI-SYT") == 0
    assert json.loads(capsys.readouterr().out)["units"] == []
    with pytest.raises(UsageError, match="no agency NOPE"):
        await run(database, *argv, "--agency", "DNAI-XTEST,NOPE")
    with pytest.raises(UsageError, match="--period"):
        await run(database, "dossiers", "timeliness", "--period", "2027-13")


def test_help_says_what_on_time_means(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["dossiers", "timeliness", "--help"])
    text = capsys.readouterr().out
    assert "on or before the appointment date" in text and "--agency CODE" in text
