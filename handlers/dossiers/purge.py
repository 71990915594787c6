"""Personal data kept no longer than needed: the retention purge.

Once a dossier has been closed (rejected, withdrawn, stopped or returned) for the
retention period, its citizen's name, phone number and chat link are erased, from
the dossier and from its apology notices. Everything else stays (codes, dates,
states, notices' other fields), so lateness figures survive. Failed `/hoso`
attempts (which name a chat) are kept only for the day they are counted in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import local_date
from bot.models import ApologyNotice, Dossier, DossierLinkFailure


@dataclass(frozen=True)
class PurgeReport:
    dossiers: int
    notices: int
    link_failures: int


async def purge(
    session: AsyncSession, now: datetime, retention_days: int, zone: tzinfo
) -> PurgeReport:
    cutoff = now - timedelta(days=retention_days)
    due = (
        select(Dossier.id)
        .where(Dossier.closed_at < cutoff, Dossier.purged_at.is_(None))
        .scalar_subquery()
    )
    notices = await session.execute(
        update(ApologyNotice)
        .where(ApologyNotice.dossier_id.in_(due), ApologyNotice.citizen_name.is_not(None))
        .values(citizen_name=None)
        .execution_options(synchronize_session=False)
    )
    dossiers = await session.execute(
        update(Dossier)
        .where(Dossier.closed_at < cutoff, Dossier.purged_at.is_(None))
        .values(citizen_name=None, phone=None, chat_id=None, linked_at=None, purged_at=now)
        .execution_options(synchronize_session=False)
    )
    failures = await session.execute(
        delete(DossierLinkFailure)
        .where(DossierLinkFailure.day < local_date(now, zone) - timedelta(days=1))
        .execution_options(synchronize_session=False)
    )
    return PurgeReport(dossiers.rowcount or 0, notices.rowcount or 0, failures.rowcount or 0)
