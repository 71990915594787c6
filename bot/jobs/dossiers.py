"""The dossiers' scheduled work: `run_due(now)`, and what `python -m bot run` warns of at start.

`run_due` reads what is due from the database (late dossiers by their watch date, closed
dossiers past retention), so a missed tick is caught up at the next one and tests drive
it with any clock. It is listed in bot.scheduler, which runs it only in the leading
process (`bot.database.Leadership`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from bot.database import Database
from bot.settings import Settings
from handlers.dossiers import (
    agencies_without_signer,
    code_list,
    load_calendar,
    load_template,
    purge,
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


async def warn_unready_notices(database: Database, settings: Settings) -> None:
    """Say at start what would make a notice wrong without anyone noticing: agencies
    with open dossiers and no signer or place, and a reason sentence not reviewed."""
    async with database.transaction() as session:
        unsigned = await agencies_without_signer(session)
    if unsigned:
        log.warning(
            "apology notices of %d agencies with open dossiers have no signer or place"
            " (python -m bot apologies signer): %s",
            len(unsigned),
            code_list(unsigned, 30),
        )
    name = settings.dossier.apology_template
    if not load_template(name, settings.dossier.template_dir).reason_fallback_reviewed:
        log.warning(
            "apology template %s: the sentence used when no reason is given"
            " (reason_fallback) is not marked as reviewed by the agency",
            name,
        )
