"""Late dossiers, escalations and apology notices in an official's scope.

Only what an official needs to act: dossier codes, procedures and dates. Citizens'
names and phone numbers are never selected (`store`), so they cannot leak into a chat.

A dossier is late while it is open (the result is still owed) and either the scan
has apologised for it or escalated it (stage 1 or 2), or its due date has passed
before the next scan got to it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from handlers.dossiers import agencies_without_signer, load_calendar
from handlers.officials import store
from handlers.officials.access import Scope
from handlers.reports import Period


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
    ids, first, last = scope.agency_ids, period.start, period.end
    start, end = _bounds(period, zone)
    return DossierFigures(
        await store.notices_issued(session, ids, first, last),
        await store.late_count(session, ids, today),
        await store.escalations_between(session, ids, start, end),
        await store.late_count(session, ids, today, escalated=True),
        *await store.notice_deliveries(session, ids, first, last),
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
    ids = scope.agency_ids
    late_total = await store.late_count(session, ids, today)
    escalated_total = await store.late_count(session, ids, today, escalated=True)
    late = [_listed(*row) for row in await store.late_dossiers(session, ids, today, limit)]
    apologies_total, apology_rows = await store.undelivered_notices(session, ids, limit)
    apologies = [
        UndeliveredApology(code, f"{seq}/PXL", status) for code, seq, status in apology_rows
    ]
    # An official can still have the reason sent for a notice that would go before the
    # next working day is over.
    horizon = (await load_calendar(session)).add_working_days(today, 1)
    unexplained_total, unexplained_rows = await store.unexplained_dossiers(
        session, ids, today, horizon, limit
    )
    return Overdue(
        late,
        late_total,
        escalated_total,
        apologies,
        apologies_total,
        [_listed(*row) for row in unexplained_rows],
        unexplained_total,
        await agencies_without_signer(session, ids),
    )


def _listed(code, procedure, due, new_due, stage, reason) -> LateDossier:
    return LateDossier(code, procedure, due, new_due, stage == 2, reason_missing=not reason)
