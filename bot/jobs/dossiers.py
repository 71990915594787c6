"""The dossiers' scheduled work and the outbox sender, wired into `python -m bot run`.

One ticking job calls `run_due(now)`: what is due is read from the database (late
dossiers by their watch date, closed dossiers past retention), so a missed tick is
caught up at the next one and tests drive it with any clock. With several bot
processes on PostgreSQL only the leader (`bot.database.Leadership`) ticks; every process
runs an outbox sender, and they share rows through `FOR UPDATE SKIP LOCKED`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from bot.clock import utc_now
from bot.database import Database
from bot.outbox import OutboxSender, ZnsGateway
from bot.settings import Settings
from handlers.dossiers import (
    agencies_without_signer,
    code_list,
    load_calendar,
    load_template,
    purge,
    renderers,
    scan,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TickReport:
    notices: int
    escalations: int
    purged: int


async def run_due(database: Database, settings: Settings, now: datetime) -> TickReport:
    """Issue due apology notices and escalations, then purge expired personal data."""
    async with database.transaction() as session:
        report = await scan(
            session,
            now,
            calendar=await load_calendar(session),
            zone=settings.zone,
            new_date_working_days=settings.dossier.new_date_working_days,
            template=settings.dossier.apology_template,
        )
    async with database.transaction() as session:
        purged = await purge(session, now, settings.dossier.retention_days, settings.zone)
    if report.notices or report.escalations or purged.dossiers:
        log.info(
            "dossiers: %d apology notices, %d escalations, %d dossiers purged",
            report.notices,
            report.escalations,
            purged.dossiers,
        )
    return TickReport(report.notices, report.escalations, purged.dossiers)


async def tick(
    database: Database, settings: Settings, clock: Callable[[], datetime] = utc_now
) -> TickReport | None:
    """One tick: `run_due` if this process leads, else nothing."""
    if not await database.leadership.check():
        return None
    return await run_due(database, settings, clock())


class _ZnsAdapter:
    """Our `ZnsGateway` over the Zalo OA channel's ZNS client (`send(phone, values, id)`)."""

    def __init__(self, client):
        self.client = client

    async def send_template(self, phone, fields, tracking_id) -> None:
        await self.client.send(phone, fields, tracking_id)


def zns_from_channels(channels: Iterable) -> ZnsGateway | None:
    """ZNS when a running channel offers a configured client as `zns` (the Zalo OA one)."""
    for channel in channels:
        client = getattr(channel, "zns", None)
        if client is not None and callable(getattr(client, "send", None)):
            return _ZnsAdapter(client)
    return None


class DossierWork:
    """What `cmd_run` starts: the ticking job and the outbox sender."""

    def __init__(
        self,
        database: Database,
        settings: Settings,
        channels: Iterable,
        translator,
        *,
        zns: ZnsGateway | None = None,
        clock: Callable[[], datetime] = utc_now,
    ):
        self.database = database
        self.settings = settings
        self.clock = clock
        channels = list(channels)
        self.sender = OutboxSender(
            database,
            settings.outbox,
            {channel.name: channel for channel in channels},
            renderers(translator, settings.dossier.template_dir),
            zns=zns or zns_from_channels(channels),
            clock=clock,
            default_language=settings.default_language,
        )
        self._stop = asyncio.Event()
        self._task: asyncio.Task | None = None

    def schedule(self, scheduler) -> None:
        scheduler.add_job(
            tick,
            "interval",
            minutes=self.settings.dossier.scan_interval_minutes,
            args=(self.database, self.settings, self.clock),
            id="dossier-tick",
            coalesce=True,
            max_instances=1,
            next_run_time=datetime.now(scheduler.timezone),
        )

    async def start(self) -> None:
        await self.warn_unready_notices()
        self._task = asyncio.create_task(self.sender.run(self._stop), name="outbox-sender")

    async def warn_unready_notices(self) -> None:
        """Say at start what would make a notice wrong without anyone noticing: agencies
        with open dossiers and no signer or place, and a reason sentence not reviewed."""
        async with self.database.transaction() as session:
            unsigned = await agencies_without_signer(session)
        if unsigned:
            log.warning(
                "apology notices of %d agencies with open dossiers have no signer or place"
                " (python -m bot apologies signer): %s",
                len(unsigned),
                code_list(unsigned, 30),
            )
        name = self.settings.dossier.apology_template
        if not load_template(name, self.settings.dossier.template_dir).reason_fallback_reviewed:
            log.warning(
                "apology template %s: the sentence used when no reason is given"
                " (reason_fallback) is not marked as reviewed by the agency",
                name,
            )

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task
        await self.database.leadership.release()
