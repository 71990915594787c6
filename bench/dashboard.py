"""Benchmark: the officials' dashboard pages through HTTP at a million responses and dossiers.

For each database (SQLite file, PostgreSQL):

  (1) N responses (default 1,000,000) drawn as `bench/scoring.py`'s `generate` draws them
      (100 agencies, 12 months of 2025), bulk-loaded set-based (PostgreSQL COPY, SQLite
      one executemany transaction), then counted into the rollups by the project's own
      `rebuild_rollups` (what `python -m bot responses rebuild-rollups` runs); and M
      dossiers (default 1,000,000) from `bench/dossiers.py`'s `dossier_rows`, moved onto
      the same agencies and received evenly over 2025 (2 % open and overdue);
  (2) the real web app (`bot.cli.compose.build_web_app`) on a loopback port, an official
      of the province signed in through the sign-in link (issued, POSTed, cookie kept);
  (3) GET of each page `--repeat` times with aiohttp's client: the overview for a month
      (trend by month), a quarter (trend by quarter), a 61-day from-to range, a unit page
      and the dossiers page. Printed: the first (cold) request, then p50/p95/max of the
      warm ones, and as ratios to the baseline of the same run: GET /healthz p95 and one
      bare `build_report` by agency for the month (what `bot report` does). The rollup
      rows a report of each period reads (with its previous period) are printed beside.

Target (issue 14): every page p95 < 300 ms.

    .venv/bin/python bench/dashboard.py                                  # 1M + 1M, both DBs
    .venv/bin/python bench/dashboard.py --database postgresql --keep      # prints the URL
    .venv/bin/python bench/dashboard.py --reuse postgresql+asyncpg://…/sipas_bench_…
    .venv/bin/python bench/dashboard.py --responses 100000 --dossiers 100000 --database sqlite
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
from _databases import create_postgres_database, drop_postgres_database  # noqa: E402
from sqlalchemy import func, select, text  # noqa: E402

from bot import migrate  # noqa: E402
from bot.cli.compose import build_web_app  # noqa: E402
from bot.clock import utc_now  # noqa: E402
from bot.database import Database  # noqa: E402
from bot.models import Response, ResponseAnswer  # noqa: E402
from bot.questionnaire import load_questionnaires  # noqa: E402
from bot.settings import ScoringSettings, Settings, SurveySettings, TelegramSettings  # noqa: E402
from bot.web import start_server  # noqa: E402
from bot.web.dashboard.auth import COOKIE  # noqa: E402
from handlers.officials import signin  # noqa: E402
from handlers.reports import Period, ReportFilters, build_report  # noqa: E402
from handlers.reports.cache import REPORTS  # noqa: E402
from handlers.survey.store.rollups import rebuild_rollups  # noqa: E402
from tests.web_session_helpers import free_port, registered_official, sign_in_link  # noqa: E402


def _module(name: str, file: str):
    """A sibling bench script by path (`scoring.py` would shadow the `scoring` package)."""
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(file))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


RESPONSES = _module("bench_scoring", "scoring.py")
DOSSIERS = _module("bench_dossiers", "dossiers.py")
QUESTIONNAIRE = RESPONSES.QUESTIONNAIRE
TARGET_MS = 300.0
MONTH, QUARTER = Period.month(2025, 11), Period.quarter(2025, 4)
RANGE = Period(date(2025, 9, 16), date(2025, 11, 15))  # 61 days, not month-aligned
UNIT = RESPONSES.agency_code(42)
PAGES = {
    "overview month": ("/dashboard/", {"period": "2025-11", "trend": "month"}),
    "overview quarter": ("/dashboard/", {"period": "2025-Q4", "trend": "quarter"}),
    "overview 61 days": ("/dashboard/", {"from": "2025-09-16", "to": "2025-11-15"}),
    "unit month": (f"/dashboard/units/{UNIT}", {"period": "2025-11"}),
    "dossiers month": ("/dashboard/dossiers", {"period": "2025-11"}),
}
CHUNK = 20_000
YEAR_START, YEAR = datetime(2024, 12, 31, 17, 0, tzinfo=UTC), timedelta(days=365)  # in Hà Nội


# --------------------------------------------------------------------------- loading


def _response_rows(count: int, agencies, services, seed: int):
    """(responses rows, answers rows) in chunks, ids from 1."""
    rows, answers = [], []
    for number, response in enumerate(RESPONSES.generate(count, agencies, services, seed), start=1):
        rows.append(
            (
                number,
                response.questionnaire,
                response.agency_id,
                response.service_id,
                response.level,
                response.day,
                response.channel_kind,
                None,
            )
        )
        for item_id, value in response.answers.items():
            if isinstance(value, int):
                answers.append((number, item_id, value, None))
            else:
                answers.append((number, item_id, None, value))
        if len(rows) >= CHUNK:
            yield rows, answers
            rows, answers = [], []
    if rows:
        yield rows, answers


RESPONSE_COLUMNS = [
    *("id", "questionnaire", "agency_id", "service_id", "level", "response_date"),
    *("channel_kind", "form_id"),
]
ANSWER_COLUMNS = ["response_id", "item_id", "value", "text"]


async def load_responses(database: Database, count: int, seed: int) -> None:
    agencies, services = await RESPONSES.seed_catalogue(database)
    started = time.perf_counter()
    async with database.engine.connect() as connection:
        raw = (await connection.get_raw_connection()).driver_connection
        if database.is_sqlite:
            await raw.execute("BEGIN IMMEDIATE")
        for rows, answers in _response_rows(count, agencies, services, seed):
            if database.is_sqlite:
                await raw.executemany(
                    f"INSERT INTO responses ({', '.join(RESPONSE_COLUMNS)}) VALUES "
                    f"({', '.join('?' for _ in RESPONSE_COLUMNS)})",
                    [(*row[:5], row[5].isoformat(), *row[6:]) for row in rows],
                )
                await raw.executemany(
                    "INSERT INTO response_answers (response_id, item_id, value, text) "
                    "VALUES (?, ?, ?, ?)",
                    answers,
                )
            else:
                await raw.copy_records_to_table("responses", records=rows, columns=RESPONSE_COLUMNS)
                await raw.copy_records_to_table(
                    "response_answers", records=answers, columns=ANSWER_COLUMNS
                )
        if database.is_sqlite:
            await raw.commit()
        else:
            await raw.execute("SELECT setval('responses_id_seq', $1)", count)
        await connection.commit()
    loaded = time.perf_counter() - started
    started = time.perf_counter()
    async with database.transaction() as session:
        await rebuild_rollups(session, load_questionnaires())
    rebuilt = time.perf_counter() - started
    async with database.transaction() as session:
        answers = await session.scalar(select(func.count()).select_from(ResponseAnswer))
    print(
        f"load: {count:,} responses, {answers:,} answers in {loaded:.1f} s set-based; "
        f"rebuild_rollups {rebuilt:.1f} s",
        flush=True,
    )


def _dossier_rows(count: int, agencies: int, services: int):
    """`bench/dossiers.py`'s rows on this run's agencies and services, received evenly
    over 2025 (each row's instants and days moved together), with `finished_at` (the
    instant QĐ 766 counts a returned dossier) added. Its open dossiers still on time
    are returned instead: in 2025 they would all be overdue today, half the province's
    dossiers, where a province has a few hundredths of them open (the late 2 % stay
    open, overdue and owed an apology)."""
    columns = DOSSIERS.COLUMNS
    at = {name: columns.index(name) for name in ("received_at", "state", "watch_date")}
    done = [columns.index(name) for name in ("returned_at", "closed_at")]
    for row in DOSSIERS.dossier_rows(count):
        moved = list(row)
        if row[at["state"]] != 10 and row[at["watch_date"]] is not None and row[0] % 50 != 1:
            moved[at["state"]], moved[at["watch_date"]] = 10, None
            for position in done:
                moved[position] = row[at["received_at"]]
        received = YEAR_START + (row[0] - 1) * (YEAR / count)
        shift = received - row[at["received_at"]]
        for position, value in enumerate(moved):
            if isinstance(value, datetime):
                moved[position] = value + shift
            elif isinstance(value, date):
                moved[position] = value + timedelta(days=shift.days)
        moved[2] = row[0] % agencies + 1
        moved[3] = row[0] % services + 1
        yield (*moved, moved[columns.index("closed_at")])


async def load_dossiers(database: Database, count: int) -> None:
    started = time.perf_counter()
    columns = [*DOSSIERS.COLUMNS, "finished_at"]
    rows = _dossier_rows(count, RESPONSES.AGENCIES, RESPONSES.SERVICES)
    async with database.engine.connect() as connection:
        raw = (await connection.get_raw_connection()).driver_connection
        if database.is_sqlite:
            await raw.execute("BEGIN IMMEDIATE")
            await raw.executemany(
                f"INSERT INTO dossiers ({', '.join(columns)}) VALUES "
                f"({', '.join('?' for _ in columns)})",
                (DOSSIERS._sqlite_row(row) for row in rows),
            )
            await raw.commit()
        else:
            await raw.copy_records_to_table("dossiers", records=rows, columns=columns)
            await raw.execute("SELECT setval('dossiers_id_seq', $1)", count)
        await connection.commit()
    print(f"load: {count:,} dossiers in {time.perf_counter() - started:.1f} s", flush=True)


async def analyze(database: Database) -> None:
    if database.is_sqlite:
        async with database.transaction() as session:
            await session.execute(text("ANALYZE"))
        return
    async with database.engine.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        await connection.execute(text("VACUUM ANALYZE"))


# --------------------------------------------------------------------------- measuring


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


async def timed_get(client: aiohttp.ClientSession, path: str, params: dict) -> float:
    started = time.perf_counter()
    async with client.get(path, params=params, allow_redirects=False) as answer:
        body = await answer.read()
        if answer.status != 200:
            raise RuntimeError(f"GET {path} {params}: {answer.status} {body[:200]!r}")
    return (time.perf_counter() - started) * 1e3


async def sign_in(database: Database, base: str) -> str:
    """The session cookie, through the real flow: a link issued, POSTed from the page."""
    official = await registered_official(database, None, now=utc_now())
    token = await sign_in_link(database, official, utc_now())
    jar = aiohttp.CookieJar(unsafe=True)
    async with (
        aiohttp.ClientSession(base_url=base, cookie_jar=jar) as client,
        client.post(signin.PATH + token, headers={"Origin": base}, allow_redirects=False) as answer,
    ):
        if answer.status != 303:
            raise RuntimeError(f"sign-in answered {answer.status}")
        return answer.cookies[COOKIE].value


async def measure(database: Database, repeat: int) -> bool:
    questionnaires = load_questionnaires()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = Settings(
        database_url=database.url,
        public_base_url=base,
        telegram=TelegramSettings(bot_token=None),
        survey=SurveySettings(questionnaire=QUESTIONNAIRE),
        scoring=ScoringSettings(),
    )
    runner = await start_server(
        build_web_app(database, settings, questionnaires), "127.0.0.1", port
    )
    ok = True
    try:
        cookie = await sign_in(database, base)
        headers = {"Cookie": f"{COOKIE}={cookie}"}
        async with aiohttp.ClientSession(base_url=base, headers=headers) as client:
            health = [await timed_get(client, "/healthz", {}) for _ in range(repeat)]
            bare = []
            for _ in range(3):
                REPORTS.clear()  # the bare report reads its rollups, as `bot report` does
                started = time.perf_counter()
                async with database.transaction() as session:
                    report = await build_report(
                        session,
                        questionnaires,
                        ReportFilters(QUESTIONNAIRE, MONTH),
                        ("agency",),
                        settings.scoring,
                    )
                bare.append((time.perf_counter() - started) * 1e3)
            health_p95, bare_ms = percentile(health, 0.95), min(bare)
            print(
                f"baseline: GET /healthz p95 {health_p95:.1f} ms; bare build_report by agency "
                f"{MONTH.label} best of 3 {bare_ms:.0f} ms (n={report.total.counts.respondents:,})"
            )
            async with database.transaction() as session:
                for label, period in (("month", MONTH), ("quarter", QUARTER), ("61 days", RANGE)):
                    rows = await RESPONSES.rows_read(session, period)
                    print(
                        f"rollup rows a report of the {label} {period.label} reads with its "
                        f"previous period: {rows['monthly']:,} monthly + {rows['dekad']:,} "
                        f"dekad + {rows['pentad']:,} pentad + {rows['day']:,} day"
                    )
            print(
                f"{'page':18s} {'cold':>8s} {'p50':>8s} {'p95':>8s} {'max':>8s}"
                f"  p95/healthz  p95/bare  (ms, {repeat} warm GETs)"
            )
            for name, (path, params) in PAGES.items():
                cold = await timed_get(client, path, params)
                warm = [await timed_get(client, path, params) for _ in range(repeat)]
                p95 = percentile(warm, 0.95)
                passed = p95 < TARGET_MS
                ok &= passed
                print(
                    f"{name:18s} {cold:8.0f} {statistics.median(warm):8.0f} {p95:8.0f}"
                    f" {max(warm):8.0f}  {p95 / health_p95:11.0f}  {p95 / bare_ms:8.2f}"
                    f"  {'PASS' if passed else 'FAIL'} p95 < {TARGET_MS:g} ms"
                    f"{'' if cold < TARGET_MS else '  (cold above target)'}"
                )
    finally:
        await runner.cleanup()
    return ok


# --------------------------------------------------------------------------- runs


async def run_backend(name: str, args: argparse.Namespace, workdir: Path) -> bool:
    if args.reuse:
        url = args.reuse
    elif name == "sqlite":
        url = f"sqlite+aiosqlite:///{(Path(args.keep_dir) if args.keep else workdir) / 'dash.db'}"
    else:
        url = await create_postgres_database()
    database = Database(url)
    try:
        if not args.reuse:
            print(
                f"\n== {name}: {args.responses:,} responses, {args.dossiers:,} dossiers ==",
                flush=True,
            )
            await migrate.upgrade(database)
            await load_responses(database, args.responses, args.seed)
            await load_dossiers(database, args.dossiers)
            await analyze(database)
        else:
            await migrate.upgrade(database)
            if args.reload_dossiers:
                async with database.transaction() as session:
                    await session.execute(text("DELETE FROM dossiers"))
                await load_dossiers(database, args.dossiers)
                await analyze(database)
            async with database.transaction() as session:
                stored = await session.scalar(select(func.count()).select_from(Response))
            print(f"\n== {url.split('://')[0]}: reusing {stored:,} responses ==", flush=True)
        return await measure(database, args.repeat)
    finally:
        await database.dispose()
        if args.keep and not args.reuse:
            print(f"kept: --reuse {url}")
        elif name == "postgresql" and not args.reuse:
            await drop_postgres_database(url)


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--responses", type=int, default=1_000_000)
    parser.add_argument("--dossiers", type=int, default=1_000_000)
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--repeat", type=int, default=30, help="warm GETs of each page")
    parser.add_argument("--seed", type=int, default=2025)
    parser.add_argument("--keep", action="store_true", help="keep the loaded database(s)")
    parser.add_argument("--keep-dir", default=".", help="where --keep leaves the SQLite file")
    parser.add_argument("--reuse", help="measure an already loaded database URL; no loading")
    parser.add_argument(
        "--reload-dossiers", action="store_true", help="with --reuse: load the dossiers anew"
    )
    args = parser.parse_args()
    print(f"cores: {os.cpu_count()}, python {sys.version.split()[0]}, at {datetime.now(UTC):%H:%M}")
    backends = ("sqlite", "postgresql") if args.database == "both" else (args.database,)
    if args.reuse:
        backends = ("sqlite" if args.reuse.startswith("sqlite") else "postgresql",)
    ok = True
    with tempfile.TemporaryDirectory(prefix="sipas-dash-bench-") as workdir:
        for name in backends:
            ok &= await run_backend(name, args, Path(workdir))
    print("all targets met" if ok else "TARGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
