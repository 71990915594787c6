"""GET /api/v1/reports and /api/v1/reports/dossiers over real loopback HTTP, both databases:
the command line's JSON, keys and their scope, refusals, and what a key's use records."""

from __future__ import annotations

import json
from contextlib import asynccontextmanager
from datetime import date, timedelta
from pathlib import Path

import aiohttp
import jsonschema
from sqlalchemy import select

from bot.cli import build_parser
from bot.database import Database
from bot.models import ReportConsumer
from bot.web import build_app, start_server
from bot.web.reports_api import DOSSIERS_PATH, PATH, add_reports_routes
from handlers.consumers import create_consumer, revoke_consumer
from handlers.dossiers.keys import create_key
from handlers.dossiers.timeliness_text import SCHEMA_PATH as TIMELINESS_SCHEMA
from handlers.reports.render import __file__ as RENDER_FILE
from tests.bot.web.test_dossiers_api import free_port
from tests.builders import QUESTIONNAIRES, FakeClock
from tests.dossier_helpers import dossier_settings, vn_time
from tests.officials_helpers import all_at, respond
from tests.timeliness_helpers import seed_february

NOW = vn_time(2027, 3, 1)
CHECKER = jsonschema.Draft202012Validator.FORMAT_CHECKER


def validator(path) -> jsonschema.Draft202012Validator:
    schema = json.loads(Path(path).read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema, format_checker=CHECKER)


REPORT = validator(RENDER_FILE.replace("render.py", "report.schema.json"))
TIMELINESS = validator(TIMELINESS_SCHEMA)


@asynccontextmanager
async def api(database, clock=None):
    app = build_app(database)
    add_reports_routes(
        app, database, dossier_settings(database), QUESTIONNAIRES, clock or FakeClock(NOW)
    )
    port = free_port()
    runner = await start_server(app, "127.0.0.1", port)
    try:
        async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{port}") as client:
            yield client
    finally:
        await runner.cleanup()


async def consumers(database) -> dict[str, str]:
    """February's dossiers, three responses, and keys of every kind."""
    ids = await seed_february(database)
    for agency, value in (("DNAI-STP", 5), ("DNAI-XTEST", 1), ("DNAI-XTEST", 5)):
        await respond(database, ids, agency, date(2027, 2, 10), all_at(value))
    async with database.transaction() as session:
        keys = {
            "province": await create_consumer(
                session, agency_code=None, label="IOC Đồng Nai", now=NOW
            ),
            "commune": await create_consumer(
                session, agency_code="DNAI-XTEST", label="UBND xã", now=NOW
            ),
            "revoked": await create_consumer(session, agency_code=None, label="old", now=NOW),
            "dossier key": await create_key(session, "DNAI-XTEST", NOW),
        }
        await revoke_consumer(session, keys["revoked"].split(".")[0][7:], NOW)
    return keys


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def cli_json(database, capsys, *argv: str) -> dict:
    args = build_parser().parse_args([*argv, "--format", "json"])
    args.clock = lambda: NOW
    assert await args.func(args, dossier_settings(database), database) == 0
    return json.loads(capsys.readouterr().out)


async def test_the_report_is_the_commands_json(database: Database, capsys):
    keys = await consumers(database)
    async with api(database) as client:
        for query, argv in [
            ("period=2027-02&lang=en", ["--period", "2027-02", "--lang", "en"]),
            (
                "from=2027-02-01&to=2027-02-20&group_by=agency,month&agency=DNAI-STP,DNAI-XTEST",
                ["--from", "2027-02-01", "--to", "2027-02-20", "--group-by", "agency,month"]
                + ["--agency", "DNAI-STP", "--agency", "DNAI-XTEST"],
            ),
            (
                "period=2027-Q1&group_by=none&channel=telegram",
                ["--period", "2027-Q1"] + ["--group-by", "none", "--channel", "telegram"],
            ),
            ("period=2027-02&service=HT-KS", ["--period", "2027-02", "--service", "HT-KS"]),
        ]:
            response = await client.get(f"{PATH}?{query}", headers=bearer(keys["province"]))
            assert response.status == 200, await response.text()
            assert response.content_type == "application/json"
            body = await response.json()
            REPORT.validate(body)
            assert body == await cli_json(database, capsys, "report", *argv), query
        everything = await (
            await client.get(f"{PATH}?period=2027-02", headers=bearer(keys["province"]))
        ).json()
    assert everything["total"]["respondents"] == 3
    assert [group["key"]["agency"] for group in everything["groups"]] == ["DNAI-STP", "DNAI-XTEST"]


async def test_the_dossier_figures_are_the_commands_json(database: Database, capsys):
    keys = await consumers(database)
    async with api(database) as client:
        response = await client.get(
            f"{DOSSIERS_PATH}?period=2027-02", headers=bearer(keys["province"])
        )
        assert response.status == 200
        body = await response.json()
        TIMELINESS.validate(body)
        assert body == await cli_json(
            database, capsys, "dossiers", "timeliness", "--period", "2027-02"
        )
        assert body["total"]["on_time_share"] == 0.5
        ranged = await client.get(
            f"{DOSSIERS_PATH}?from=2027-02-01&to=2027-02-10&agency=DNAI-XTEST",
            headers={"X-Api-Key": keys["province"]},
        )
        assert await ranged.json() == await cli_json(
            database,
            capsys,
            "dossiers",
            "timeliness",
            "--period",
            "2027-02-01..2027-02-10",
            "--agency",
            "DNAI-XTEST",
        )


async def test_an_agency_key_reads_its_agency_and_others_are_unknown(database: Database, capsys):
    keys = await consumers(database)
    commune = bearer(keys["commune"])
    async with api(database) as client:
        own = await (await client.get(f"{PATH}?period=2027-02", headers=commune)).json()
        assert own == await cli_json(
            database, capsys, "report", "--period", "2027-02", "--agency", "DNAI-XTEST"
        )
        assert own["total"]["respondents"] == 2
        figures = await (
            await client.get(f"{DOSSIERS_PATH}?period=2027-02", headers=commune)
        ).json()
        assert [unit["agency_code"] for unit in figures["units"]] == ["DNAI-XTEST"]
        for path in (PATH, DOSSIERS_PATH):
            outside = await client.get(f"{path}?period=2027-02&agency=DNAI-STP", headers=commune)
            unknown = await client.get(
                f"{path}?period=2027-02&agency=DNAI-NONE", headers=bearer(keys["province"])
            )
            assert outside.status == unknown.status == 404
            texts = [(await r.json())["error"] for r in (outside, unknown)]
            assert [t.rsplit(" ", 1)[0] for t in texts] == ["unknown agency code"] * 2
            also_unknown = await client.get(
                f"{path}?period=2027-02&agency=DNAI-NONE", headers=commune
            )
            assert await also_unknown.json() == await unknown.json()


async def test_keys_are_checked_before_the_query_and_say_nothing(database: Database):
    keys = await consumers(database)
    wrong = keys["province"][:-4] + ("AAAA" if not keys["province"].endswith("AAAA") else "BBBB")
    async with api(database) as client:
        answers = []
        for headers in (
            {},
            bearer(wrong),
            bearer(keys["revoked"]),
            bearer(keys["dossier key"]),  # a one-stop system's key reads no report
            {"Authorization": "Basic abc"},
            {"X-Api-Key": "sipasr_" + "x" * 500},
        ):
            for path in (PATH, DOSSIERS_PATH):
                response = await client.get(f"{path}?period=bad&nonsense=1", headers=headers)
                answers.append((response.status, await response.json()))
        assert set(json.dumps(a) for a in answers) == {json.dumps([401, {"error": "unauthorized"}])}

        province = bearer(keys["province"])
        for query, reason in [
            ("period=2027-13", "period: no month 13"),
            ("period=1999", "period: periods lie between 2000 and 2100"),
            ("from=2027-02-01", "query: from and to go together"),
            ("period=2027-02&from=2027-02-01&to=2027-02-02", "query: give period"),
            ("group_by=agency,colour", "group_by: choose from"),
            ("lang=fr", "lang:"),
            ("agency=%27%3B--", "agency.0:"),
            ("period=2027-02&period=2027-03", "period: given more than once"),
            ("pretty=1", "pretty: unknown parameter"),
            ("channel=" + "x" * 40, "channel:"),
            ("agency=" + ",".join(f"A{n}" for n in range(60)), "agency:"),
        ]:
            response = await client.get(f"{PATH}?{query}", headers=province)
            body = await response.json()
            assert response.status == 400, query
            assert body["error"] == "invalid query"
            assert any(r.startswith(reason) for r in body["reasons"]), (query, body)
        dossiers = await client.get(f"{DOSSIERS_PATH}?group_by=agency", headers=province)
        assert dossiers.status == 400  # the figures have no grouping to choose
        long = await client.get(f"{PATH}?period=2027-02&x={'y' * 5000}", headers=province)
        assert long.status == 400


async def test_a_key_records_its_use_at_most_once_a_minute(database: Database):
    keys = await consumers(database)
    clock = FakeClock(NOW)

    async def last_used():
        async with database.transaction() as session:
            return await session.scalar(
                select(ReportConsumer.last_used_at).where(ReportConsumer.label == "IOC Đồng Nai")
            )

    async with api(database, clock) as client:
        assert await last_used() is None
        await client.get(f"{PATH}?period=2027-02", headers=bearer(keys["province"]))
        assert await last_used() == NOW
        clock.advance(seconds=59)
        await client.get(f"{DOSSIERS_PATH}", headers=bearer(keys["province"]))
        assert await last_used() == NOW
        clock.advance(seconds=2)
        await client.get(f"{PATH}?lang=en", headers=bearer(keys["province"]))
        assert await last_used() == NOW + timedelta(seconds=61)


async def test_an_unreachable_database_is_503_and_only_that():
    database = Database(f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/nothing")
    try:
        async with api(database) as client:
            key = "sipasr_abcdefghij." + "A" * 43
            for path in (PATH, DOSSIERS_PATH):
                response = await client.get(path, headers=bearer(key))
                assert response.status == 503
                assert await response.json() == {"error": "database unavailable, try again"}
            assert (await client.get(PATH)).status == 401  # no key: nothing to look up
    finally:
        await database.dispose()
