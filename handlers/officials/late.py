"""Late dossiers, escalations and apology notices in an official's scope.

Only what an official needs to act: dossier codes, procedures and dates. Citizens'
names and phone numbers are never selected here, so they cannot leak into a chat.

A dossier is late while it is open (the result is still owed) and either the scan
has apologised for it or escalated it (stage 1 or 2), or its due date has passed
before the next scan got to it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import ApologyNotice, Dossier, Escalation, OutboxMessage
from bot.states import OPEN_STATES, OutboxKind, OutboxStatus
from handlers.dossiers import agencies_without_signer, load_calendar
from handlers.officials.access import Scope
from handlers.reports.periods import Period

UNDELIVERABLE = (OutboxStatus.FAILED, OutboxStatus.COUNTER)


def _in_scope(column, scope: Scope):
    return true() if scope.agency_ids is None else column.in_(sorted(scope.agency_ids))


def _late(today: date):
    return and_(
        Dossier.state.in_(sorted(OPEN_STATES)),
        Dossier.purged_at.is_(None),
        or_(Dossier.stage >= 1, Dossier.due_date < today),
    )


def _bounds(period: Period, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The period's local days as UTC instants [start, end)."""
    start = datetime.combine(period.start, time(), zone)
    end = datetime.combine(period.end + timedelta(days=1), time(), zone)
    return start, end


@dataclass(frozen=True)
class DossierFigures:
    """Counts for a digest: what went late in the period and what is still late now."""

    new_late: int  # apology notices issued in the period: dossiers that went late
    open_late: int  # late and still open now
    escalations_new: int  # escalated to officials in the period
    escalations_open: int  # escalated and still open now
    apologies_sent: int  # notices of the period delivered by chat or ZNS
    apologies_undeliverable: int  # notices of the period failed or left for the counter

    def to_dict(self) -> dict[str, int]:
        return dict(vars(self))


async def dossier_figures(
    session: AsyncSession, scope: Scope, period: Period, today: date, zone: ZoneInfo
) -> DossierFigures:
    start, end = _bounds(period, zone)
    in_period = ApologyNotice.issued_on.between(period.start, period.end)
    new_late = await session.scalar(
        select(func.count())
        .select_from(ApologyNotice)
        .where(in_period, _in_scope(ApologyNotice.agency_id, scope))
    )
    open_late = await session.scalar(
        select(func.count())
        .select_from(Dossier)
        .where(_late(today), _in_scope(Dossier.agency_id, scope))
    )
    escalations_new = await session.scalar(
        select(func.count())
        .select_from(Escalation)
        .where(
            Escalation.created_at >= start,
            Escalation.created_at < end,
            _in_scope(Escalation.agency_id, scope),
        )
    )
    escalations_open = await session.scalar(
        select(func.count())
        .select_from(Dossier)
        .where(_late(today), Dossier.stage == 2, _in_scope(Dossier.agency_id, scope))
    )
    statuses = dict(
        (
            await session.execute(
                select(OutboxMessage.status, func.count())
                .join(ApologyNotice, ApologyNotice.id == OutboxMessage.ref_id)
                .where(
                    OutboxMessage.kind == OutboxKind.APOLOGY,
                    in_period,
                    _in_scope(ApologyNotice.agency_id, scope),
                )
                .group_by(OutboxMessage.status)
            )
        ).all()
    )
    return DossierFigures(
        new_late=new_late or 0,
        open_late=open_late or 0,
        escalations_new=escalations_new or 0,
        escalations_open=escalations_open or 0,
        apologies_sent=statuses.get(OutboxStatus.SENT, 0),
        apologies_undeliverable=sum(statuses.get(status, 0) for status in UNDELIVERABLE),
    )


@dataclass(frozen=True)
class LateDossier:
    code: str
    procedure: str
    due_date: date | None
    new_due_date: date | None
    escalated: bool
    reason_missing: bool = False  # its notice gives the template's general sentence


@dataclass(frozen=True)
class UndeliveredApology:
    dossier_code: str
    number: str
    status: str  # failed or counter


@dataclass(frozen=True)
class Overdue:
    late: list[LateDossier]
    late_total: int
    escalated_total: int
    apologies: list[UndeliveredApology]
    apologies_total: int
    # Open dossiers whose notice may go within a working day with no reason given: due
    # today or on the next working day, or with a new date announced without a reason.
    unexplained: list[LateDossier] = field(default_factory=list)
    unexplained_total: int = 0
    unsigned_agencies: list[str] = field(default_factory=list)  # no signer or place

    @property
    def empty(self) -> bool:
        """Nothing late, undelivered or unexplained (a missing signer is said apart)."""
        return not (self.late_total or self.apologies_total or self.unexplained_total)


async def overdue(session: AsyncSession, scope: Scope, today: date, limit: int = 15) -> Overdue:
    """Late open dossiers (escalated first, then the oldest due date), the apology
    notices of open dossiers that no chat or ZNS message could deliver, the dossiers
    whose notice would go soon without a reason, and the agencies without a signer."""
    where = and_(_late(today), _in_scope(Dossier.agency_id, scope))
    late_total = await session.scalar(select(func.count()).select_from(Dossier).where(where))
    escalated_total = await session.scalar(
        select(func.count()).select_from(Dossier).where(where, Dossier.stage == 2)
    )
    rows = await session.execute(
        select(*_LISTED)
        .where(where)
        .order_by(Dossier.stage.desc(), Dossier.due_date, Dossier.code)
        .limit(limit)
    )
    late = [_listed(*row) for row in rows]
    undelivered = and_(
        OutboxMessage.kind == OutboxKind.APOLOGY,
        OutboxMessage.status.in_(UNDELIVERABLE),
        Dossier.closed_at.is_(None),
        Dossier.purged_at.is_(None),
        _in_scope(ApologyNotice.agency_id, scope),
    )
    joined = (
        select(func.count())
        .select_from(OutboxMessage)
        .join(ApologyNotice, ApologyNotice.id == OutboxMessage.ref_id)
        .join(Dossier, Dossier.id == ApologyNotice.dossier_id)
        .where(undelivered)
    )
    apologies_total = await session.scalar(joined)
    apology_rows = await session.execute(
        select(ApologyNotice.dossier_code, ApologyNotice.number_seq, OutboxMessage.status)
        .select_from(OutboxMessage)
        .join(ApologyNotice, ApologyNotice.id == OutboxMessage.ref_id)
        .join(Dossier, Dossier.id == ApologyNotice.dossier_id)
        .where(undelivered)
        .order_by(ApologyNotice.issued_on, ApologyNotice.id)
        .limit(limit)
    )
    apologies = [
        UndeliveredApology(code, f"{seq}/PXL", status) for code, seq, status in apology_rows
    ]
    unexplained, unexplained_total = await _unexplained(session, scope, today, limit)
    return Overdue(
        late,
        late_total or 0,
        escalated_total or 0,
        apologies,
        apologies_total or 0,
        unexplained,
        unexplained_total,
        await agencies_without_signer(session, scope.agency_ids),
    )


_LISTED = (
    Dossier.code,
    Dossier.procedure_name,
    Dossier.due_date,
    Dossier.new_due_date,
    Dossier.stage,
    Dossier.delay_reason,
)


def _listed(code, procedure, due, new_due, stage, reason) -> LateDossier:
    return LateDossier(code, procedure, due, new_due, stage == 2, reason_missing=not reason)


async def _unexplained(
    session: AsyncSession, scope: Scope, today: date, limit: int
) -> tuple[list[LateDossier], int]:
    """Open dossiers not yet apologised for, with no reason, whose notice may go before
    the next working day is over: an official can still have the reason sent."""
    horizon = (await load_calendar(session)).add_working_days(today, 1)
    where = and_(
        Dossier.state.in_(sorted(OPEN_STATES)),
        Dossier.purged_at.is_(None),
        Dossier.stage == 0,
        Dossier.delay_reason.is_(None),
        Dossier.watch_date.is_not(None),  # not paused
        or_(Dossier.due_date.between(today, horizon), Dossier.agency_new_date.is_not(None)),
        _in_scope(Dossier.agency_id, scope),
    )
    total = await session.scalar(select(func.count()).select_from(Dossier).where(where))
    rows = await session.execute(
        select(*_LISTED).where(where).order_by(Dossier.due_date, Dossier.code).limit(limit)
    )
    return [_listed(*row) for row in rows], total or 0
