"""The digest tick, wired into `python -m bot run` beside the dossiers' one.

One APScheduler job calls `tick` every OFFICIALS_TICK_SECONDS; what is due comes from
the database (`digest.run_due`), so a schedule changed in chat needs no restart and a
missed tick is caught up once. On PostgreSQL only the leader (`bot.database.Leadership`,
shared with the dossiers' tick) ticks; the digests go out through the same outbox
sender as apology notices, which gets the digest renderer here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from bot.clock import utc_now
from bot.database import Database
from bot.i18n import Translator
from bot.jobs.digests import renderers, run_due
from bot.outbox import OutboxSender
from bot.questionnaire import Questionnaire
from bot.settings import Settings

JOB_ID = "officials-digest-tick"


async def tick(
    database: Database,
    settings: Settings,
    questionnaires: Mapping[str, Questionnaire],
    translator: Translator,
    clock: Callable[[], datetime] = utc_now,
) -> int | None:
    """Queue the due digests if this process leads; None if another one does."""
    if not await database.leadership.check():
        return None
    return await run_due(database, settings, questionnaires, translator, clock())


class OfficialWork:
    """What `cmd_run` installs: the digest tick and the outbox renderer of digests."""

    def __init__(
        self,
        database: Database,
        settings: Settings,
        questionnaires: Mapping[str, Questionnaire],
        translator: Translator,
        clock: Callable[[], datetime] = utc_now,
    ):
        self.database = database
        self.settings = settings
        self.questionnaires = questionnaires
        self.translator = translator
        self.clock = clock

    def install(self, scheduler, sender: OutboxSender) -> None:
        sender.renderers.update(renderers(self.settings, self.translator, self.clock))
        scheduler.add_job(
            tick,
            "interval",
            seconds=self.settings.officials.tick_seconds,
            args=(self.database, self.settings, self.questionnaires, self.translator, self.clock),
            id=JOB_ID,
            coalesce=True,
            max_instances=1,
            next_run_time=datetime.now(scheduler.timezone),
        )
