"""What `dossiers list` and `dossiers show` read (the formatting is `handlers.dossiers.listing`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import Agency, ApologyNotice, Dossier, Escalation, OutboxMessage, StartCode
from bot.states import OPEN_STATES, OutboxKind


async def dossier_pages(
    session: AsyncSession,
    *,
    agency: str | None,
    state: int | None,
    late_on: date | None,
    page: int,
) -> AsyncIterator[tuple[Dossier, str]]:
    """(dossier, agency code) in the order dossiers were created, a page at a time.

    `late_on`: only open dossiers the scan watches past that day, or escalated (the
    caller makes the exact test). Each page is forgotten by the session before the next
    is read, whatever the table's size.
    """
    query = select(Dossier, Agency.code).join(Agency, Agency.id == Dossier.agency_id)
    if agency:
        query = query.where(Agency.code == agency)
    if state is not None:
        query = query.where(Dossier.state == state)
    if late_on is not None:
        query = query.where(
            Dossier.state.in_(OPEN_STATES),
            or_(Dossier.watch_date < late_on, Dossier.stage == 2),
        )
    after = 0
    while True:
        rows = (
            await session.execute(query.where(Dossier.id > after).order_by(Dossier.id).limit(page))
        ).all()
        for dossier, code in rows:
            yield dossier, code
        if len(rows) < page:
            return
        after = rows[-1][0].id
        session.expunge_all()


async def dossier_with_agency(session: AsyncSession, code: str) -> tuple[Dossier, Agency] | None:
    row = (
        await session.execute(
            select(Dossier, Agency)
            .join(Agency, Agency.id == Dossier.agency_id)
            .where(Dossier.code == code)
        )
    ).first()
    return None if row is None else (row[0], row[1])


async def start_code_of(session: AsyncSession, dossier_id: int) -> StartCode | None:
    return await session.scalar(select(StartCode).where(StartCode.dossier_id == dossier_id))


async def notices_of(
    session: AsyncSession, dossier_id: int
) -> list[tuple[ApologyNotice, OutboxMessage | None]]:
    """The dossier's apology notices, each with its outbox message (None if not queued)."""
    rows = await session.execute(
        select(ApologyNotice, OutboxMessage)
        .outerjoin(
            OutboxMessage,
            (OutboxMessage.kind == OutboxKind.APOLOGY) & (OutboxMessage.ref_id == ApologyNotice.id),
        )
        .where(ApologyNotice.dossier_id == dossier_id)
        .order_by(ApologyNotice.id)
    )
    return [(notice, message) for notice, message in rows]


async def escalations_of(session: AsyncSession, dossier_id: int) -> list[Escalation]:
    return list(
        await session.scalars(
            select(Escalation).where(Escalation.dossier_id == dossier_id).order_by(Escalation.id)
        )
    )
