"""Open dossiers' dates follow the local calendar, and each move is kept in a history.

Working days are working days: when an office adds a local day off (or removes one, or
adds an extra working day), every open dossier whose window (after the day of receipt,
up to its appointment or due date) contains that day keeps its number of working days,
so its appointment moves by the day, later or back. Each change is written to
`dossier_events` (which date, old -> new, why), which `dossier_history` reads.

A dossier already apologised for is never moved: the new date in its notice is the
agency's promise to the citizen, given once, and the scan watches that date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, tzinfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import local_date
from bot.models import Dossier
from handlers.dossiers import store
from handlers.dossiers.deadlines import track
from handlers.dossiers.workdays import WorkCalendar

APPOINTMENT = "appointment_date"
DUE = "due_date"


@dataclass
class Rescheduled:
    later: int = 0  # open dossiers whose date owed moved later
    earlier: int = 0  # … moved back
    kept: int = 0  # apologised dossiers around that day, left at the agency's new date


def _moved_appointment(dossier: Dossier, before: WorkCalendar, after: WorkCalendar) -> date:
    """The appointment with the same number of working days after receipt, in `after`."""
    appointment = dossier.appointment_date
    if not before.is_working_day(appointment):
        return appointment  # a date given on a day off is not a count of working days
    start = before.next_working_day(dossier.received_on)
    if appointment < start:
        return appointment
    count = before.working_days_between(start, appointment)
    return after.add_working_days(after.next_working_day(dossier.received_on), count)


async def reschedule_for_day(
    session: AsyncSession,
    day: date,
    before: WorkCalendar,
    after: WorkCalendar,
    *,
    now: datetime,
    zone: tzinfo,
    reason: str,
) -> Rescheduled:
    """Move the open dossiers whose window contains `day` from `before` to `after`."""
    result = Rescheduled()
    today = local_date(now, zone)
    rows = await store.open_dossiers_around(session, day)
    for dossier in rows:
        if dossier.stage > 0:
            result.kept += 1
            continue
        old_appointment, old_due = dossier.appointment_date, dossier.due_date
        if old_appointment is not None and old_appointment >= day:
            dossier.appointment_date = _moved_appointment(dossier, before, after)
        track(dossier, after, today, zone)
        if old_due == dossier.due_date and old_appointment == dossier.appointment_date:
            continue
        dossier.updated_at = now
        event = {"dossier_id": dossier.id, "day": today, "reason": reason, "created_at": now}
        if old_appointment != dossier.appointment_date:
            store.add_event(
                session,
                change=APPOINTMENT,
                old_date=old_appointment,
                new_date=dossier.appointment_date,
                **event,
            )
        if (old_due, dossier.due_date) != (old_appointment, dossier.appointment_date):
            # moved differently from the appointment: by a supplement pause across that day
            store.add_event(
                session, change=DUE, old_date=old_due, new_date=dossier.due_date, **event
            )
        if old_due is not None and dossier.due_date is not None and dossier.due_date < old_due:
            result.earlier += 1
        else:
            result.later += 1
    await session.flush()
    return result
