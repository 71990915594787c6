"""Every scheduled job and long-running loop of `python -m bot run`, listed in one place.

Jobs (`jobs()`, on APScheduler 3 in the bot's event loop, in TIMEZONE). Each calls a
function of `now` that decides from the database what is due, so a missed tick is
caught up once at the next one, a changed schedule needs no restart, and tests run a
tick with any clock (`Scheduler.tick`). A leader-only job runs only in the process that
holds the advisory lock (`bot.database.Leadership`; on SQLite always this one):
- expire-idle-surveys, hourly: end surveys idle for SURVEY_IDLE_DAYS (leader);
- forget-old-updates, every 6 h: drop update keys too old to be redelivered (leader);
- publish-responses, at minute 1 of every hour and at start: store the held chat
  responses of the days before today, shuffled (leader);
- dossier-tick, every DOSSIER_SCAN_INTERVAL_MINUTES and at start: apology notices,
  escalations, purge (leader);
- officials-digest-tick, every OFFICIALS_TICK_SECONDS and at start: queue due digests
  (leader);
- survey-reminders, every 10 minutes: the one reminder of each survey left unfinished
  for SURVEY_REMINDER_HOURS, queued in the outbox (leader).

Loops (asyncio tasks):
- outbox-sender, started here in every process: rows are shared between processes
  through `FOR UPDATE SKIP LOCKED` (bot.outbox);
- each channel's receiving loop, started by its `start()` after it re-sends the replies
  a crash may have lost: Telegram polling (PTB) or its webhook, Zalo Bot polling
  (getUpdates) or its webhook, Zalo OA's webhook and its token refresh; and the delivery
  path's per-chat senders (bot.delivery);
- the console chat, when no channel is configured (bot.channels.console).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot import metrics
from bot.clock import Clock, utc_now
from bot.database import Database
from bot.i18n import Translator
from bot.inbound import InboundProcessor
from bot.jobs import digests, dossiers
from bot.outbox import OutboxSender
from bot.questionnaire import Questionnaire
from bot.settings import Settings
from handlers.survey import reminders
from handlers.survey.publication import publish_due

log = logging.getLogger(__name__)

MISFIRE_GRACE_SECONDS = 3600  # a tick late by less than this still runs (once: coalesced)


@dataclass(frozen=True)
class Job:
    """One scheduled job: `run(now)` does what is due at `now`."""

    id: str
    run: Callable[[datetime], Awaitable[object]]
    trigger: str  # an APScheduler trigger: "interval" or "cron"
    when: Mapping[str, Any] = field(default_factory=dict)  # the trigger's fields
    leader_only: bool = True
    at_start: bool = False


def jobs(
    database: Database,
    settings: Settings,
    processor: InboundProcessor,
    questionnaires: Mapping[str, Questionnaire],
    translator: Translator,
) -> tuple[Job, ...]:
    """The bot's scheduled jobs, all of them."""

    async def publish(now: datetime) -> int:
        return await publish_due(database, settings, questionnaires, now)

    async def dossier_tick(now: datetime) -> dossiers.TickReport:
        return await dossiers.run_due(database, settings, now)

    async def digest_tick(now: datetime) -> int:
        return await digests.run_due(database, settings, questionnaires, translator, now)

    async def remind(now: datetime) -> reminders.ReminderReport:
        return await reminders.run_due(database, settings, now)

    return (
        Job("expire-idle-surveys", processor.expire_idle, "interval", {"hours": 1}),
        Job("forget-old-updates", processor.forget_old_updates, "interval", {"hours": 6}),
        Job("publish-responses", publish, "cron", {"minute": 1}, at_start=True),
        Job(
            "dossier-tick",
            dossier_tick,
            "interval",
            {"minutes": settings.dossier.scan_interval_minutes},
            at_start=True,
        ),
        Job(
            "officials-digest-tick",
            digest_tick,
            "interval",
            {"seconds": settings.officials.tick_seconds},
            at_start=True,
        ),
        Job("survey-reminders", remind, "interval", {"minutes": 10}),
    )


class Scheduler:
    """The jobs on APScheduler, and the outbox sender's loop; `start` and `stop` both."""

    def __init__(
        self,
        database: Database,
        settings: Settings,
        jobs: tuple[Job, ...],
        *,
        sender: OutboxSender | None = None,
        clock: Clock = utc_now,
    ):
        self.database = database
        self.jobs = {job.id: job for job in jobs}
        self.sender = sender
        self.clock = clock
        self.apscheduler = AsyncIOScheduler(timezone=settings.timezone)
        for job in jobs:
            start = {"next_run_time": datetime.now(settings.zone)} if job.at_start else {}
            self.apscheduler.add_job(
                self.tick,
                job.trigger,
                args=(job.id,),
                id=job.id,
                coalesce=True,
                max_instances=1,
                misfire_grace_time=MISFIRE_GRACE_SECONDS,
                **job.when,
                **start,
            )
        self._stop = asyncio.Event()
        self._sender_task: asyncio.Task | None = None

    async def tick(self, job_id: str) -> object | None:
        """Run one job at the clock's `now`; None when it is leader-only and we do not lead.
        Each run is counted (`sipas_scheduled_jobs_total`): a job that stopped running,
        or fails, shows on a graph before anyone misses a notice."""
        job = self.jobs[job_id]
        if job.leader_only and not await self.database.leadership.check():
            return None
        try:
            result = await job.run(self.clock())
        except BaseException:
            metrics.increment(metrics.JOBS, job=job_id, outcome="failed")
            raise
        metrics.increment(metrics.JOBS, job=job_id, outcome="done")
        return result

    async def start(self) -> None:
        self.apscheduler.start()
        if self.sender is not None:
            self._sender_task = asyncio.create_task(
                self.sender.run(self._stop), name="outbox-sender"
            )

    async def stop(self) -> None:
        self._stop.set()
        if self._sender_task is not None:
            await self._sender_task
        if self.apscheduler.running:
            self.apscheduler.shutdown(wait=False)  # done by a callback in the event loop:
            await asyncio.sleep(0)  # let it run, so the scheduler is stopped on return
        await self.database.leadership.release()
