"""The outbox backlog as gauges, read at scrape time and kept a few seconds.

Monitoring asks two things of the outbox: how much is waiting (rows pending or being
sent) and for how long the oldest due row has waited. Both come from the index on
(status, next_attempt_at), only over the undelivered statuses, so they stay cheap
however many delivered rows the table holds; the answer is cached for `CACHE_SECONDS`
and concurrent scrapes share one query, so scraping cannot load the database.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import func, select

from bot import metrics
from bot.clock import utc_now
from bot.database import Database
from bot.models import OutboxMessage
from bot.states import OutboxStatus

log = logging.getLogger(__name__)

CACHE_SECONDS = 5.0
QUERY_SECONDS = 2.0  # a scrape does not wait longer on a database in trouble
UNDELIVERED = (OutboxStatus.PENDING, OutboxStatus.SENDING)


async def read_backlog(database: Database, now: datetime) -> tuple[dict[str, int], float]:
    """(rows per undelivered status, seconds the oldest due pending row has waited)."""
    async with database.transaction() as session:
        counts = dict.fromkeys(UNDELIVERED, 0)
        rows = await session.execute(
            select(OutboxMessage.status, func.count())
            .where(OutboxMessage.status.in_(UNDELIVERED))
            .group_by(OutboxMessage.status)
        )
        counts.update({status: count for status, count in rows})
        oldest = await session.scalar(
            select(func.min(OutboxMessage.next_attempt_at)).where(
                OutboxMessage.status == OutboxStatus.PENDING,
                OutboxMessage.next_attempt_at <= now,
            )
        )
    age = max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0
    return {str(status): count for status, count in counts.items()}, age


class BacklogGauges:
    """Refreshes the backlog gauges at most every `CACHE_SECONDS`, one query at a time."""

    def __init__(
        self,
        database: Database,
        clock: Callable[[], datetime] = utc_now,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        self.database = database
        self.clock = clock
        self.monotonic = monotonic
        self._read_at: float | None = None
        self._reading: asyncio.Task[None] | None = None
        self.queries = 0

    async def refresh(self) -> None:
        fresh = self._read_at is not None and self.monotonic() - self._read_at < CACHE_SECONDS
        if fresh:
            return
        if self._reading is None or self._reading.done():
            self._reading = asyncio.create_task(self._read())
        await asyncio.shield(self._reading)

    async def _read(self) -> None:
        self.queries += 1
        try:
            counts, age = await asyncio.wait_for(
                read_backlog(self.database, self.clock()), QUERY_SECONDS
            )
        except Exception as error:  # noqa: BLE001 - a scrape must answer; the gauges go
            log.warning("metrics: reading the outbox backlog failed (%s)", type(error).__name__)
            metrics.increment("sipas_metrics_query_failures_total")
            metrics.clear_gauge(metrics.OUTBOX_BACKLOG)
            metrics.clear_gauge(metrics.OUTBOX_OLDEST_DUE)
        else:
            for status, count in counts.items():
                metrics.set_gauge(metrics.OUTBOX_BACKLOG, count, status=status)
            metrics.set_gauge(metrics.OUTBOX_OLDEST_DUE, age)
        self._read_at = self.monotonic()
