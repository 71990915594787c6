"""The QĐ 766 on-time figures' queries: one grouped statement per figure, every agency at once.

What each figure means is `handlers.dossiers.timeliness`; here each returns
{agency id: count(s)} for the agencies given (None: all). Instants arrive as the UTC
bounds of the period's local days, so the finished-at range is an index range
(`ix_dossiers_finished_at`); the finishing day itself is compared in the database
(`bot.database.local_day_of`), exactly in the TIMEZONE setting's zone.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from bot.database import local_day_of
from bot.models import Agency, ApologyNotice, Dossier, Escalation, OutboxMessage
from bot.states import OPEN_STATES, DossierState, OutboxKind, OutboxStatus

AgencyIds = Iterable[int] | None
Counts = dict[int, tuple[int, ...]]
UNDELIVERED = (OutboxStatus.FAILED, OutboxStatus.COUNTER)
QUEUED = (OutboxStatus.PENDING, OutboxStatus.SENDING)


def _in(column, agency_ids: AgencyIds):
    return true() if agency_ids is None else column.in_(sorted(agency_ids))


async def _grouped(session: AsyncSession, query) -> Counts:
    return {
        row[0]: tuple(int(value or 0) for value in row[1:]) for row in await session.execute(query)
    }


async def finished_counts(
    session: AsyncSession, agency_ids: AgencyIds, start: datetime, end: datetime, zone: ZoneInfo
) -> Counts:
    """(finished, on time, without a date) per agency, finished in [start, end).

    On time: the local day of `finished_at` on or before `due_date` (the appointment as
    moved by supplement pauses, never the apology's new date). A dossier with no date
    at all is counted apart and in neither of the first two.
    """
    dated = Dossier.due_date.is_not(None)
    finished_on = local_day_of(Dossier.finished_at, zone, within=(start, end))
    on_time = and_(dated, finished_on <= Dossier.due_date)
    query = (
        select(
            Dossier.agency_id,
            func.sum(case((dated, 1), else_=0)),
            func.sum(case((on_time, 1), else_=0)),
            func.sum(case((dated, 0), else_=1)),
        )
        .where(
            Dossier.finished_at >= start,
            Dossier.finished_at < end,
            _in(Dossier.agency_id, agency_ids),
        )
        .group_by(Dossier.agency_id)
    )
    return await _grouped(session, query)


async def overdue_counts(session: AsyncSession, agency_ids: AgencyIds, today: date) -> Counts:
    """(overdue,) per agency on `today`: open, the due date passed, the clock not stopped.

    At stage 0 a dossier whose supplement pause began by its due date has no watch date
    (`deadlines.track`): its clock is stopped, it is not late. Apologised or escalated
    ones (stage 1, 2) stay overdue until they finish, whatever their new date.
    """
    query = (
        select(Dossier.agency_id, func.count())
        .where(
            Dossier.closed_at.is_(None),  # implied by the states; the partial index's key
            Dossier.state.in_(sorted(OPEN_STATES)),
            Dossier.due_date < today,
            or_(Dossier.stage >= 1, Dossier.watch_date.is_not(None)),
            _in(Dossier.agency_id, agency_ids),
        )
        .group_by(Dossier.agency_id)
    )
    return await _grouped(session, query)


async def delivery_counts(
    session: AsyncSession, agency_ids: AgencyIds, first: date, last: date
) -> Counts:
    """(sent, undelivered) per agency among the apology notices issued on these days."""
    sent = OutboxMessage.status == OutboxStatus.SENT
    undelivered = OutboxMessage.status.in_(UNDELIVERED)
    query = (
        select(
            ApologyNotice.agency_id,
            func.sum(case((sent, 1), else_=0)),
            func.sum(case((undelivered, 1), else_=0)),
        )
        .join(
            OutboxMessage,
            and_(
                OutboxMessage.kind == OutboxKind.APOLOGY,
                OutboxMessage.ref_id == ApologyNotice.id,
            ),
        )
        .where(
            ApologyNotice.issued_on.between(first, last),
            _in(ApologyNotice.agency_id, agency_ids),
        )
        .group_by(ApologyNotice.agency_id)
    )
    return await _grouped(session, query)


async def owed_counts(session: AsyncSession, agency_ids: AgencyIds, today: date) -> Counts:
    """(owed,) per agency now: apologies due that have not gone out yet.

    Dossiers the next scan will apologise for (their watch date passed at stage 0, as
    `store.issue_notices` selects them) and notices still queued in the outbox.
    """
    awaiting = select(Dossier.agency_id.label("agency_id")).where(
        Dossier.watch_date < today,
        Dossier.stage == 0,
        Dossier.state.in_(sorted(OPEN_STATES | {DossierState.DONE})),
        Dossier.due_date.is_not(None),
        _in(Dossier.agency_id, agency_ids),
    )
    queued = (
        select(ApologyNotice.agency_id.label("agency_id"))
        .join(
            OutboxMessage,
            and_(
                OutboxMessage.kind == OutboxKind.APOLOGY,
                OutboxMessage.ref_id == ApologyNotice.id,
            ),
        )
        .where(OutboxMessage.status.in_(QUEUED), _in(ApologyNotice.agency_id, agency_ids))
    )
    owed = awaiting.union_all(queued).subquery("owed")
    query = select(owed.c.agency_id, func.count()).group_by(owed.c.agency_id)
    return await _grouped(session, query)


async def escalation_counts(
    session: AsyncSession, agency_ids: AgencyIds, start: datetime, end: datetime
) -> Counts:
    """(escalations,) per agency created in [start, end)."""
    query = (
        select(Escalation.agency_id, func.count())
        .where(
            Escalation.created_at >= start,
            Escalation.created_at < end,
            _in(Escalation.agency_id, agency_ids),
        )
        .group_by(Escalation.agency_id)
    )
    return await _grouped(session, query)


async def agencies_named(session: AsyncSession, agency_ids: Iterable[int]) -> list[tuple]:
    """(id, code, name, level) of these agencies."""
    rows = await session.execute(
        select(Agency.id, Agency.code, Agency.name, Agency.level).where(
            Agency.id.in_(sorted(agency_ids))
        )
    )
    return [tuple(row) for row in rows]


async def agency_ids_by_code(session: AsyncSession, codes: Iterable[str]) -> dict[str, int]:
    """{code: id} of the agencies among these codes that exist."""
    rows = await session.execute(
        select(Agency.code, Agency.id).where(Agency.code.in_(sorted(set(codes))))
    )
    return dict(rows.all())
