"""The apology scan's statements: notices, their outbox rows, escalations.

Set-based, so a million dossiers never pass through Python (what they do and why is in
`handlers.dossiers.apologies`). Also the look-ups the notices need: agencies that would
sign unsigned, a notice by id, the survey code an invitation carries.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from sqlalchemy import (
    Date,
    Integer,
    String,
    and_,
    case,
    func,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.database import LockKey, insert_ignoring_duplicates, transaction_lock
from bot.models import (
    Agency,
    AgencyNoticeSettings,
    ApologyNotice,
    Dossier,
    Escalation,
    OutboxMessage,
    StartCode,
)
from bot.states import OPEN_STATES, DossierState, OutboxKind
from handlers.dossiers.store._outbox import selected


async def lock_scan(session: AsyncSession) -> None:
    """Scanners queue up, so the per-agency numbering sees every earlier notice."""
    await transaction_lock(session, LockKey.APOLOGY_SCAN)


def _late(today: date, stage: int, states=OPEN_STATES):
    return and_(
        Dossier.watch_date < today,
        Dossier.stage == stage,
        Dossier.state.in_(sorted(states)),
    )


async def issue_notices(
    session: AsyncSession,
    now: datetime,
    today: date,
    default_new_date: date,
    ready: date,
    template: str,
) -> int:
    """Notices for the dossiers late on `today`, queued, their dossiers at stage 1."""
    # State 9 has a watch date only when it was finished late (`deadlines.track`).
    late = and_(_late(today, 0, OPEN_STATES | {DossierState.DONE}), Dossier.due_date.is_not(None))
    parent = aliased(Agency)
    # The last number each agency gave this year, computed once: a correlated lookup per
    # row would walk, on PostgreSQL, every index entry this very statement inserts.
    numbered = (
        select(
            ApologyNotice.agency_id.label("agency_id"),
            func.max(ApologyNotice.number_seq).label("last"),
        )
        .where(ApologyNotice.number_year == today.year)
        .group_by(ApologyNotice.agency_id)
        .subquery("numbered")
    )
    # `+ 0`: an expression, so no planner walks the agency index in window order (a full
    # scan of every dossier) instead of taking the few late ones by their watch date.
    sequence = func.coalesce(numbered.c.last, 0) + func.row_number().over(
        partition_by=Dossier.agency_id + 0, order_by=Dossier.id + 0
    )
    new_date = case(
        (
            and_(Dossier.agency_new_date > today, Dossier.agency_new_date > Dossier.due_date),
            Dossier.agency_new_date,
        ),
        (Dossier.state == DossierState.DONE, literal(ready, Date)),
        else_=literal(default_new_date, Date),
    )
    columns = {
        "dossier_id": Dossier.id,
        "due_date": Dossier.due_date,
        "agency_id": Dossier.agency_id,
        "number_year": literal(today.year, Integer),
        "number_seq": sequence,
        "template": literal(template, String),
        "issued_on": literal(today, Date),
        "agency_name": Agency.name,
        "parent_agency_name": parent.name,
        "place": AgencyNoticeSettings.place,
        "citizen_name": Dossier.citizen_name,
        "dossier_code": Dossier.code,
        "procedure_name": Dossier.procedure_name,
        "field": Dossier.field,
        "received_on": Dossier.received_on,
        "original_date": func.coalesce(Dossier.appointment_date, Dossier.due_date),
        "reason": Dossier.delay_reason,
        "new_date": new_date,
        "signer_title": AgencyNoticeSettings.signer_title,
        "signer_name": AgencyNoticeSettings.signer_name,
        "created_at": literal(now, ApologyNotice.created_at.type),
    }
    candidates = (
        select(*(value.label(name) for name, value in columns.items()))
        .select_from(Dossier)
        .join(Agency, Agency.id == Dossier.agency_id)
        .outerjoin(parent, parent.code == Agency.parent_code)
        .outerjoin(AgencyNoticeSettings, AgencyNoticeSettings.agency_id == Dossier.agency_id)
        .outerjoin(numbered, numbered.c.agency_id == Dossier.agency_id)
        .where(late)
    )
    inserted = await session.execute(
        insert_ignoring_duplicates(session, ApologyNotice.__table__).from_select(
            list(columns), candidates
        )
    )
    # Every late dossier now has its notice (ours, or one an earlier run left):
    # queue each such notice once, then move its dossier on to the new date.
    this_lateness = and_(
        ApologyNotice.dossier_id == Dossier.id, ApologyNotice.due_date == Dossier.due_date
    )
    outbox_columns = selected(
        OutboxMessage.new_row(OutboxKind.APOLOGY, ApologyNotice.id, ApologyNotice.dossier_id, now)
    )
    await session.execute(
        insert_ignoring_duplicates(session, OutboxMessage.__table__).from_select(
            list(outbox_columns),
            select(*(value.label(name) for name, value in outbox_columns.items()))
            .select_from(ApologyNotice)
            .join(Dossier, this_lateness)
            .where(late),
        )
    )
    await session.execute(
        update(Dossier)
        .where(late, this_lateness)
        .values(
            stage=1,
            new_due_date=ApologyNotice.new_date,
            watch_date=ApologyNotice.new_date,
            apologised_on=today,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return inserted.rowcount or 0


async def escalate(session: AsyncSession, now: datetime, today: date) -> int:
    """Dossiers that missed their new date too: escalated once, watched no more."""
    late = _late(today, 1)
    columns = {
        "dossier_id": Dossier.id,
        "agency_id": Dossier.agency_id,
        "missed_date": Dossier.watch_date,
        "created_at": literal(now, Escalation.created_at.type),
    }
    inserted = await session.execute(
        insert_ignoring_duplicates(session, Escalation.__table__).from_select(
            list(columns), select(*(v.label(k) for k, v in columns.items())).where(late)
        )
    )
    await session.execute(
        update(Dossier)
        .where(late)
        .values(stage=2, watch_date=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return inserted.rowcount or 0


async def agencies_without_signer(
    session: AsyncSession, agency_ids: Iterable[int] | None = None
) -> list[str]:
    """Codes of agencies with open dossiers but no signer's name or no place set.

    Their notices would be signed "THỦ TRƯỞNG CƠ QUAN" with no name and dated "……":
    said at start, in `/overdue` and in digests (`python -m bot apologies signer`).
    Agency codes only: nothing about a person.
    """
    has_open = (
        select(Dossier.id)
        .where(
            Dossier.agency_id == Agency.id,
            Dossier.state.in_(sorted(OPEN_STATES)),
            Dossier.purged_at.is_(None),
        )
        .exists()
    )
    query = (
        select(Agency.code)
        .outerjoin(AgencyNoticeSettings, AgencyNoticeSettings.agency_id == Agency.id)
        .where(
            has_open,
            or_(
                AgencyNoticeSettings.agency_id.is_(None),
                AgencyNoticeSettings.signer_name.is_(None),
                AgencyNoticeSettings.place.is_(None),
            ),
        )
        .order_by(Agency.code)
    )
    if agency_ids is not None:
        query = query.where(Agency.id.in_(sorted(agency_ids)))
    return list(await session.scalars(query))


async def notice_by_id(session: AsyncSession, notice_id: int) -> ApologyNotice | None:
    return await session.get(ApologyNotice, notice_id)


async def agency_by_id(session: AsyncSession, agency_id: int) -> Agency | None:
    return await session.get(Agency, agency_id)


async def unused_start_code(session: AsyncSession, dossier_id: int) -> str | None:
    """The dossier's survey code while it is still unused (what an invitation carries)."""
    return await session.scalar(
        select(StartCode.code).where(
            StartCode.dossier_id == dossier_id, StartCode.used_at.is_(None)
        )
    )


async def notices_with_delivery(
    session: AsyncSession,
    *,
    statuses: Iterable[str] | None,
    agency: str | None,
    limit: int,
) -> list[tuple[ApologyNotice, str, OutboxMessage | None]]:
    """The latest notices first, each with its agency's code and its outbox message."""
    joined = and_(
        OutboxMessage.kind == OutboxKind.APOLOGY, OutboxMessage.ref_id == ApologyNotice.id
    )
    query = (
        select(ApologyNotice, Agency.code, OutboxMessage)
        .join(Agency, Agency.id == ApologyNotice.agency_id)
        .outerjoin(OutboxMessage, joined)
        .order_by(ApologyNotice.id.desc())
        .limit(limit)
    )
    if statuses is not None:
        query = query.where(OutboxMessage.status.in_(list(statuses)))
    if agency:
        query = query.where(Agency.code == agency)
    return [(notice, code, message) for notice, code, message in await session.execute(query)]


async def notice_settings(session: AsyncSession, agency_id: int) -> AgencyNoticeSettings:
    """The agency's signer and place, a new (empty) row if it has none yet."""
    row = await session.get(AgencyNoticeSettings, agency_id)
    if row is None:
        row = AgencyNoticeSettings(agency_id=agency_id)
        session.add(row)
    return row
