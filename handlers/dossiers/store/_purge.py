"""The retention purge's statements (what is erased, and why: `handlers.dossiers.purge`)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import ApologyNotice, Dossier, DossierLinkFailure


async def erase_closed_before(
    session: AsyncSession, cutoff: datetime, now: datetime
) -> tuple[int, int]:
    """Erase the citizen of dossiers closed before `cutoff`: (dossiers, notices) changed."""
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
    return dossiers.rowcount or 0, notices.rowcount or 0


async def delete_link_failures_before(session: AsyncSession, day: date) -> int:
    failures = await session.execute(
        delete(DossierLinkFailure)
        .where(DossierLinkFailure.day < day)
        .execution_options(synchronize_session=False)
    )
    return failures.rowcount or 0
