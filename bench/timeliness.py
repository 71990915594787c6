"""Benchmark: QĐ 766 on-time figures over a province's two years of dossiers (PostgreSQL).

  (1) N dossiers (default 2,000,000; 300 agencies) received over 2025-2026, 0.5 % still
      open (most of those past their date), the rest finished and closed, loaded
      set-based by the server;
  (2) `timeliness_report` for one month (March 2026) with the migration's indexes
      (`ix_dossiers_finished_at`, the partial `ix_dossiers_unclosed_due_date`), the
      median of --repeat runs, and each figure's query on its own;
  (3) the same with both indexes dropped: the baseline, in the same run.

Prints the times and the ratios baseline / indexed.

    .venv/bin/python bench/timeliness.py
    .venv/bin/python bench/timeliness.py --dossiers 200000 --repeat 3
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _databases import create_postgres_database, drop_postgres_database  # noqa: E402
from sqlalchemy import text  # noqa: E402

from bot import migrate  # noqa: E402
from bot.database import Database  # noqa: E402
from bot.settings import DossierSettings  # noqa: E402
from handlers.dossiers import store, timeliness_report  # noqa: E402
from handlers.reports import Period  # noqa: E402

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2026, 4, 2, 2, 0, tzinfo=UTC)
PERIOD = Period.month(2026, 3)
INDEXES = ("ix_dossiers_finished_at", "ix_dossiers_unclosed_due_date")

LOAD = """
INSERT INTO dossiers (code, agency_id, procedure_name, received_at, received_on,
    appointment_date, due_date, state, state_changed_at, finished_at, closed_at, stage,
    watch_date, created_at, updated_at)
SELECT 'D' || g, 1 + g % 300, 'P', r, r::date, r::date + 10, r::date + 10,
    CASE WHEN g % 200 = 0 THEN 4 ELSE 10 END, r,
    CASE WHEN g % 200 = 0 THEN NULL ELSE r + ((g % 15) || ' days')::interval END,
    CASE WHEN g % 200 = 0 THEN NULL ELSE r + ((g % 15) || ' days')::interval END,
    0, CASE WHEN g % 200 = 0 THEN r::date + 10 END, r, r
FROM (SELECT g, timestamptz '2025-01-01 00:00+00' + g * (:span / :count) * interval '1 second' AS r
      FROM generate_series(1, :count) g) s
"""


async def load(database: Database, count: int) -> None:
    async with database.transaction() as session:
        await session.execute(
            text(
                "INSERT INTO agencies (code, name, name_folded, level) "
                "SELECT 'A' || g, 'Agency ' || g, 'agency ' || g, 'commune' "
                "FROM generate_series(1, 300) g"
            )
        )
        await session.execute(text(LOAD), {"count": count, "span": 2 * 365 * 86400})
    async with database.engine.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        await connection.execute(text("VACUUM ANALYZE dossiers"))


async def timed(database: Database, repeat: int) -> dict[str, float]:
    """Median seconds of the whole report and of each figure's query."""
    start, end = (
        datetime.combine(day, datetime.min.time(), ZONE) for day in (PERIOD.start, PERIOD.end)
    )
    today = NOW.astimezone(ZONE).date()
    steps = {
        "report": lambda s: timeliness_report(s, None, PERIOD, NOW, DossierSettings(), zone=ZONE),
        "finished": lambda s: store.finished_counts(s, None, start, end, ZONE),
        "overdue": lambda s: store.overdue_counts(s, None, today),
        "owed": lambda s: store.owed_counts(s, None, today),
    }
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(repeat):
        for name, step in steps.items():
            async with database.transaction() as session:
                began = time.perf_counter()
                await step(session)
                times[name].append(time.perf_counter() - began)
    return {name: statistics.median(values) for name, values in times.items()}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dossiers", type=int, default=2_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    url = await create_postgres_database()
    database = Database(url)
    try:
        await migrate.upgrade(database)
        began = time.perf_counter()
        await load(database, args.dossiers)
        print(f"loaded {args.dossiers:,} dossiers in {time.perf_counter() - began:.1f} s")
        async with database.transaction() as session:
            figures = await timeliness_report(
                session, None, PERIOD, NOW, DossierSettings(), zone=ZONE
            )
        total = figures.total
        print(
            f"March 2026: {total.finished:,} finished, share {total.on_time_share:.3f}, "
            f"{total.overdue_now:,} overdue now, {len(figures.units)} agencies"
        )
        indexed = await timed(database, args.repeat)
        async with database.transaction() as session:
            for name in INDEXES:
                await session.execute(text(f"DROP INDEX {name}"))
        async with database.engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(text("ANALYZE dossiers"))
        baseline = await timed(database, args.repeat)
        print(
            f"{'median of ' + str(args.repeat):<14} {'indexed':>10} {'no index':>10} {'ratio':>7}"
        )
        for name in indexed:
            ratio = baseline[name] / indexed[name]
            print(
                f"{name:<14} {indexed[name] * 1000:>8.1f}ms {baseline[name] * 1000:>8.1f}ms "
                f"{ratio:>6.1f}x"
            )
    finally:
        await database.dispose()
        await drop_postgres_database(url)


if __name__ == "__main__":
    asyncio.run(main())
