"""The outbox rows a sender holds, their leases renewed for as long as it holds them,
and when the sender must look again.

A claimed row is `sending` until its outcome is written; a lease that runs out means
"its sender died": another sender takes the row and sends it again. A live sender may
hold a row far longer than one lease, though: waiting behind the shared rate budget or
a 429's `retry_after`, or in the next batch, claimed while this one is sent. So every
third of a lease the sender extends the leases of the rows it still holds, in one
UPDATE; only a sender that stopped renewing (died, or its event loop stalled for two
thirds of a lease) loses its rows. Rows already taken over (their lease ran out and
another sender claimed them anew) are not renewed: the other sender holds them now.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import datetime, timedelta

from sqlalchemy import func, select, update

from bot.database import Database
from bot.models import OutboxMessage
from bot.states import OutboxStatus

log = logging.getLogger(__name__)


class Leases:
    def __init__(self, database: Database, lease_seconds: float, clock: Callable[[], datetime]):
        self.database = database
        self.lease_seconds = lease_seconds
        self.clock = clock
        self.held: dict[int, datetime] = {}  # row id -> the lease this sender gave it
        self.renewals = 0

    def lease(self) -> datetime:
        return self.clock() + timedelta(seconds=self.lease_seconds)

    def hold(self, leased: dict[int, datetime]) -> None:
        self.held.update(leased)

    def release(self, ids: Iterable[int]) -> None:
        for row_id in ids:
            self.held.pop(row_id, None)

    async def renew(self) -> int:
        """Extend the leases of the held rows that are still ours; how many."""
        held = dict(self.held)
        if not held:
            return 0
        lease = self.lease()
        renewed = 0
        async with self.database.transaction() as session:
            # Grouped by the lease we gave: a row whose lease differs was taken over.
            by_lease: dict[datetime, list[int]] = {}
            for row_id, given in held.items():
                by_lease.setdefault(given, []).append(row_id)
            for given, ids in by_lease.items():
                result = await session.execute(
                    update(OutboxMessage)
                    .where(
                        OutboxMessage.id.in_(ids),
                        OutboxMessage.status == OutboxStatus.SENDING,
                        OutboxMessage.lease_until == given,
                    )
                    .values(lease_until=lease)
                    .execution_options(synchronize_session=False)
                )
                renewed += result.rowcount or 0
        for row_id in held:
            if row_id in self.held:
                self.held[row_id] = lease
        self.renewals += 1
        return renewed

    async def seconds_to_next(self, longest: float) -> float:
        """Seconds until the next pending row falls due or a lease runs out (0: now), at
        most `longest`: how long a sender with nothing to do may sleep."""
        async with self.database.transaction() as session:
            due = await session.scalar(
                select(func.min(OutboxMessage.next_attempt_at)).where(
                    OutboxMessage.status == OutboxStatus.PENDING
                )
            )
            lease = await session.scalar(
                select(func.min(OutboxMessage.lease_until)).where(
                    OutboxMessage.status == OutboxStatus.SENDING
                )
            )
        times = [moment for moment in (due, lease) if moment is not None]
        if not times:
            return longest
        return min(longest, max(0.0, (min(times) - self.clock()).total_seconds()))

    @contextlib.asynccontextmanager
    async def kept(self) -> AsyncIterator[None]:
        """Renew every third of a lease while the block runs."""
        task = asyncio.create_task(self._renew_forever(self.lease_seconds / 3))
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _renew_forever(self, every: float) -> None:
        while True:
            await asyncio.sleep(every)
            try:
                await self.renew()
            except Exception as error:  # noqa: BLE001 - tried again a third of a lease later
                log.warning("outbox: renewing leases failed (%s)", type(error).__name__)
