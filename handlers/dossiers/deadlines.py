"""Deadlines: the due date, the watch date and the state changes of one dossier.

Pure rules over a loaded `Dossier` (no queries), shared by the upsert (every write goes
through it), the calendar's rescheduling and `dossiers list`/`show`, so a date is derived
one way wherever it is needed. The scan (`handlers.dossiers.apologies`) then only reads
the watch date.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta, tzinfo

from bot.clock import local_date
from bot.models import Dossier
from bot.states import CLOSED_STATES, FINISHED_STATES, OPEN_STATES, DossierState
from handlers.dossiers.workdays import Pause, WorkCalendar


def pauses_of(dossier: Dossier) -> list[Pause]:
    return [
        (date.fromisoformat(start), date.fromisoformat(end) if end else None)
        for start, end in (dossier.pauses or [])
    ]


def set_pauses(dossier: Dossier, pauses: Sequence[Pause]) -> None:
    dossier.pauses = [
        [start.isoformat(), end.isoformat() if end else None] for start, end in pauses
    ] or None


def announced_in_advance(dossier: Dossier, calendar: WorkCalendar, today: date) -> bool:
    """The agency gave its new date and reason at the latest 1 working day before the due
    date (dossiers.md, "The rule"): the apology then goes at once, before the date.

    Judged each time the dossier is written (the scan follows within minutes). A new date
    without a reason waits for the due date to pass, so that officials see "reason
    missing" before a notice goes with the template's general sentence.
    """
    return (
        dossier.agency_new_date is not None
        and dossier.due_date is not None
        and dossier.agency_new_date > dossier.due_date
        and bool(dossier.delay_reason)
        and calendar.add_working_days(today, 1) <= dossier.due_date
    )


def finished_late(dossier: Dossier, due: date | None, zone: tzinfo) -> bool:
    """Overdue is "finished after the appointment date"; on time is finished <= it."""
    finished = dossier.finished_at
    return due is not None and finished is not None and local_date(finished, zone) > due


def track(dossier: Dossier, calendar: WorkCalendar, today: date, zone: tzinfo) -> None:
    """Derive the due date and the watch date from the dossier's current facts.

    The clock is stopped by an open supplement pause that began on or before the
    date owed; a pause that began after it cannot hide a dossier that was already late.
    An apology is due once the due date has passed, or at once for a delay announced in
    advance (`announced_in_advance`). A dossier done but not yet returned (state 9) that
    was finished after its due date owes the apology too, at once: the citizen was not
    served on time and has not got the result yet. A returned one (state 10) does not:
    see `handlers.dossiers.apologies` (the notice's new date would be false).
    """
    pauses = pauses_of(dossier)
    if dossier.stage == 0:
        dossier.due_date = (
            calendar.extend(dossier.appointment_date, pauses)
            if dossier.appointment_date is not None
            else None
        )
        target = dossier.due_date
    elif dossier.stage == 1 and dossier.new_due_date is not None:
        target = calendar.extend(dossier.new_due_date, pauses, since=dossier.apologised_on)
    else:
        target = None
    stopped = target is not None and any(end is None and start <= target for start, end in pauses)
    watch = None
    if dossier.state in OPEN_STATES and target is not None and not stopped:
        watch = target
        if dossier.stage == 0 and announced_in_advance(dossier, calendar, today):
            watch = min(watch, today - timedelta(days=1))
    elif (
        dossier.state == DossierState.DONE
        and dossier.stage == 0
        and finished_late(dossier, target, zone)
    ):
        watch = target
    dossier.watch_date = watch


def apply_state(
    dossier: Dossier, state: int, at: datetime, *, auto_pauses: bool, zone: tzinfo
) -> None:
    """Set the state and what follows from it: pauses, finishing, returning, closing."""
    old = dossier.state
    if state != old:
        if auto_pauses:
            pauses = pauses_of(dossier)
            day = local_date(at, zone)
            if old == DossierState.SUPPLEMENT:
                pauses = [(start, end if end else day) for start, end in pauses]
            if state == DossierState.SUPPLEMENT and all(end is not None for _, end in pauses):
                pauses.append((day, None))
            set_pauses(dossier, pauses)
        dossier.state = state
        dossier.state_changed_at = at
    if state in FINISHED_STATES and dossier.finished_at is None:
        dossier.finished_at = at
    if state == DossierState.RETURNED and dossier.returned_at is None:
        dossier.returned_at = at
    if state in CLOSED_STATES:
        dossier.closed_at = dossier.closed_at or at
    else:
        dossier.closed_at = None
