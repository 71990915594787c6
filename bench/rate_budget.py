"""Benchmark: round trips and time of the shared rate budget on PostgreSQL.

Two processes (two Database engines on one database) each send 90 messages at once
through one bucket of 30/s (Telegram's token): the round trips per message, batched
(up to 0.1 s of the rate per reservation) against one reservation per message; and the
time of one reservation (its upsert), against the in-memory budget of SQLite as the
baseline measured in the same run, and a pooled `SELECT 1` (the floor of any statement).

    .venv/bin/python bench/rate_budget.py
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _databases import create_postgres_database, drop_postgres_database  # noqa: E402
from sqlalchemy import text  # noqa: E402

from bot import migrate  # noqa: E402
from bot.database import Database  # noqa: E402
from bot.rate_budget import Limit, RateBudget  # noqa: E402

MESSAGES = 90


async def flood(budgets: list[RateBudget], limit: Limit) -> tuple[float, float]:
    """(seconds, round trips per message) for MESSAGES per budget at once."""
    started = time.monotonic()
    await asyncio.gather(*(budget.take(limit) for budget in budgets for _ in range(MESSAGES)))
    trips = sum(budget.round_trips for budget in budgets)
    return time.monotonic() - started, trips / (MESSAGES * len(budgets))


async def reservation_time(budget: RateBudget, count: int = 2000) -> float:
    """Milliseconds per reservation when nothing waits (a bucket far above demand)."""
    limit = Limit("bench:fast", rate=1e9, burst=1e9)
    started = time.monotonic()
    for _ in range(count):
        await budget.take(limit)
    return (time.monotonic() - started) / count * 1000


async def select_one_time(database: Database, count: int = 2000) -> float:
    """Milliseconds per `SELECT 1` on a pooled connection: the floor of any statement."""
    started = time.monotonic()
    for _ in range(count):
        async with database.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    return (time.monotonic() - started) / count * 1000


async def main() -> None:
    url = await create_postgres_database()
    databases = [Database(url), Database(url)]
    try:
        await migrate.upgrade(databases[0])
        memory_ms = await reservation_time(RateBudget(None))
        shared_ms = await reservation_time(RateBudget(databases[0]))
        select_ms = await select_one_time(databases[0])
        print(
            f"one reservation: in memory {memory_ms:.3f} ms, PostgreSQL {shared_ms:.3f} ms "
            f"(x{shared_ms / memory_ms:.0f}; a pooled SELECT 1 takes {select_ms:.3f} ms, "
            f"x{shared_ms / select_ms:.2f})"
        )
        for name, batch in (("one per message", 0.0), ("batched (0.1 s)", 0.1)):
            budgets = [RateBudget(database, batch_seconds=batch) for database in databases]
            limit = Limit(f"bench:{batch}", rate=30, burst=3)
            seconds, per_message = await flood(budgets, limit)
            print(
                f"{name:16s}: 2 x {MESSAGES} messages in {seconds:.2f} s "
                f"({2 * MESSAGES / seconds:.1f}/s against 30/s), "
                f"{per_message:.2f} round trips per message"
            )
    finally:
        for database in databases:
            await database.dispose()
        await drop_postgres_database(url)


if __name__ == "__main__":
    asyncio.run(main())
