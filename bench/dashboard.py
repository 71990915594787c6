"""Benchmark: the officials' dashboard pages over a million stored responses.

Loads N responses exactly as `bench/scoring.py` does (100 agencies, 12 months of 2025,
through `store_responses`, which keeps the rollups; 5% carry a suggestion), then times,
best of `--repeat` runs each, in a fresh transaction:

  (base) `build_report` of the period grouped by agency: what `bot report` does, the
         baseline measured in the same run;
  (o)    `dashboard.overview` of the province (headline, blocks, ranks, trend by month);
  (oq)   the same with the trend by quarter;
  (o0)   the overview without its trend (`trend=None`), and
  (t)    the trend alone (`dashboard.trend_series`), as a page that fetches its chart
         apart would ask them;
  (u)    `dashboard.unit` of one agency (criteria, channels, drop-off, trend, up to 200
         suggestions with their total);

for one month and one quarter. Target: every page < 0.3 s; the ratios to (base) show
what the page adds to one report (a second report for the trend, the catalogue, the
suggestions). The rollups hold one row per cell (agency, service, level, channel,
month or day) and item, so the times follow the rollup rows, printed beside them,
more than the responses.

    .venv/bin/python bench/dashboard.py                        # 1,000,000 responses, both DBs
    .venv/bin/python bench/dashboard.py --responses 100000 --database sqlite
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _databases import create_postgres_database, drop_postgres_database  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from bot import migrate  # noqa: E402
from bot.database import Database  # noqa: E402
from bot.models import RollupItem  # noqa: E402
from bot.questionnaire import load_questionnaires  # noqa: E402
from bot.settings import ScoringSettings  # noqa: E402
from handlers import dashboard  # noqa: E402
from handlers.officials.access import PROVINCE_SCOPE  # noqa: E402
from handlers.reports import Period, build_report  # noqa: E402


def _responses_loader():
    """`bench/scoring.py`'s loader (its file name would shadow the `scoring` package)."""
    spec = importlib.util.spec_from_file_location(
        "bench_scoring", Path(__file__).with_name("scoring.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


LOADER = _responses_loader()
QUESTIONNAIRE = LOADER.QUESTIONNAIRE
PERIODS = (Period.month(2025, 11), Period.quarter(2025, 4))
TARGET_SECONDS = 0.3
UNIT = LOADER.agency_code(42)


async def best(database: Database, repeat: int, call) -> tuple[float, object]:
    times, value = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        async with database.transaction() as session:
            value = await call(session)
        times.append(time.perf_counter() - started)
    return min(times), value


async def measure(database: Database, repeat: int) -> bool:
    questionnaires = load_questionnaires()
    settings = ScoringSettings()
    common = dict(
        scoring=settings,
        questionnaires=questionnaires,
        questionnaire_id=QUESTIONNAIRE,
        scope=PROVINCE_SCOPE,
        lang="vi",
    )
    async with database.transaction() as session:
        cells = await session.scalar(select(func.count()).select_from(RollupItem))
    print(f"monthly rollup item rows: {cells:,}")
    ok = True
    for period in PERIODS:
        filters = dashboard.overview_filters(PROVINCE_SCOPE, period, questionnaire_id=QUESTIONNAIRE)
        base, report = await best(
            database,
            repeat,
            lambda s, f=filters: build_report(s, questionnaires, f, ("agency",), settings),
        )
        timings = {
            "o": await best(
                database, repeat, lambda s, p=period: dashboard.overview(s, **common, period=p)
            ),
            "oq": await best(
                database,
                repeat,
                lambda s, p=period: dashboard.overview(s, **common, period=p, trend="quarter"),
            ),
            "o0": await best(
                database,
                repeat,
                lambda s, p=period: dashboard.overview(s, **common, period=p, trend=None),
            ),
            "t": await best(
                database,
                repeat,
                lambda s, p=period: dashboard.trend_series(
                    s,
                    scoring=settings,
                    questionnaires=questionnaires,
                    questionnaire_id=QUESTIONNAIRE,
                    scope=PROVINCE_SCOPE,
                    period=p,
                ),
            ),
            "u": await best(
                database,
                repeat,
                lambda s, p=period: dashboard.unit(s, **common, agency_code=UNIT, period=p),
            ),
        }
        print(
            f"{period.label}: (base) build_report by agency {base:.3f} s"
            f"  n={report.total.counts.respondents:,} groups={len(report.groups)}"
        )
        view, page = timings["o"][1], timings["u"][1]
        assert view.headline.forms == report.total.counts.respondents
        for label, (seconds, _) in timings.items():
            passed = seconds < TARGET_SECONDS
            ok &= passed
            print(
                f"  ({label}) {seconds:.3f} s  ratio to (base) {seconds / base:.2f}"
                f"  {'PASS' if passed else 'FAIL'} < {TARGET_SECONDS:g} s"
            )
        print(
            f"  overview: {view.units} units, {view.ranked_units} ranked, "
            f"{len(view.trend.points)} trend points; unit {UNIT}: {page.headline.forms:,} forms, "
            f"{len(page.suggestions)} of {page.suggestions_total:,} suggestions"
        )
    return ok


async def run_backend(name: str, args: argparse.Namespace, workdir: Path) -> bool:
    url = (
        f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
        if name == "sqlite"
        else await create_postgres_database()
    )
    print(f"\n== {name}: {args.responses:,} responses ==", flush=True)
    database = Database(url)
    try:
        await migrate.upgrade(database)
        await LOADER.load(database, args.responses, args.batch, args.seed)
        return await measure(database, args.repeat)
    finally:
        await database.dispose()
        if name == "postgresql":
            await drop_postgres_database(url)


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--responses", type=int, default=1_000_000)
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--batch", type=int, default=5000, help="responses per transaction")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each page")
    parser.add_argument("--seed", type=int, default=2025)
    args = parser.parse_args()
    print(f"cores: {os.cpu_count()}, python {sys.version.split()[0]}")
    backends = ("sqlite", "postgresql") if args.database == "both" else (args.database,)
    ok = True
    with tempfile.TemporaryDirectory(prefix="sipas-dash-bench-") as workdir:
        for name in backends:
            ok &= await run_backend(name, args, Path(workdir))
    print("all targets met" if ok else "TARGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
