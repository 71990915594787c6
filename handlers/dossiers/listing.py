"""`dossiers list` and `dossiers show`: a dossier's dates as an operator needs to see them.

The dates come from what the upsert stored (appointment, due date moved by pauses, the
new date of an apology); only "late by" is computed here, against a given day.

Lists mask the citizen: initials ("N.V.A.") and the phone's country code and last four
digits ("84•••••5678"). A list holds every citizen of an agency and is printed, saved as
CSV and passed around; initials and four digits are enough to pick out the dossier a
citizen phones or comes to the counter about, and too little to call or name anyone.
`show CODE` is asked for one dossier by its code, so it prints the name and phone in
full, as the apology notice and the receipt do.
"""

from __future__ import annotations

import csv
import dataclasses
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import local_date
from bot.models import Dossier, OutboxMessage
from bot.states import FINISHED_STATES, OPEN_STATES, OutboxStatus
from handlers.dossiers import store
from handlers.dossiers.deadlines import pauses_of
from handlers.dossiers.records import STATES
from handlers.dossiers.workdays import WorkCalendar

FORMATS = ("table", "csv", "json")
PAGE = 1000
# A change history of one dossier (kept elsewhere): async (session, dossier_id) -> events.
HistoryProvider = Callable[[AsyncSession, int], Awaitable[Sequence[Any]]]


# -- dates -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dates:
    """A dossier's dates. `owed` is the date the result is owed at its current stage."""

    received_at: datetime  # local time
    appointment: date | None
    due: date | None  # the appointment moved by supplement pauses
    new_date: date | None  # the apology's new date (moved by later pauses), or one announced
    owed: date | None
    stopped: bool  # an open pause holds the clock
    late_days: int | None  # working days past `owed`: up to today if open, else to the finish
    overdue: bool  # open, past the date owed, clock running


def dossier_dates(dossier: Dossier, calendar: WorkCalendar, today: date, zone: ZoneInfo) -> Dates:
    pauses = pauses_of(dossier)
    new_date = dossier.agency_new_date
    owed = dossier.due_date
    if dossier.stage >= 1 and dossier.new_due_date is not None:
        new_date = owed = calendar.extend(dossier.new_due_date, pauses, since=dossier.apologised_on)
    stopped = owed is not None and any(end is None and start <= owed for start, end in pauses)
    late_days = None
    overdue = False
    if owed is not None and dossier.state in OPEN_STATES:
        overdue = owed < today and not stopped
        late_days = calendar.working_days_between(owed, today) if overdue else 0
    elif owed is not None and dossier.state in FINISHED_STATES and dossier.finished_at:
        late_days = calendar.working_days_between(owed, local_date(dossier.finished_at, zone))
    return Dates(
        received_at=dossier.received_at.astimezone(zone),
        appointment=dossier.appointment_date,
        due=dossier.due_date,
        new_date=new_date,
        owed=owed,
        stopped=stopped,
        late_days=late_days,
        overdue=overdue,
    )


# -- masking -----------------------------------------------------------------------------------


def initials(name: str | None) -> str:
    """ "Nguyễn Văn An" -> "N.V.A."; "-" when there is no name (never given, or purged)."""
    if not name:
        return "-"
    return "".join(f"{word[0].upper()}." for word in name.split())


def masked_phone(phone: str | None) -> str:
    """84912345678 -> 84•••••5678: the country code and the last four digits."""
    if not phone:
        return "-"
    return f"{phone[:2]}•••••{phone[-4:]}"


# -- list --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ListFilters:
    agency: str | None = None
    state: int | None = None
    overdue: bool = False


async def listed(
    session: AsyncSession,
    filters: ListFilters,
    calendar: WorkCalendar,
    today: date,
    zone: ZoneInfo,
    page: int = PAGE,
) -> AsyncIterator[tuple[Dossier, str, Dates]]:
    """(dossier, agency code, dates) in the order dossiers were created, a page at a time."""
    rows = store.dossier_pages(
        session,
        agency=filters.agency,
        state=filters.state,
        late_on=today if filters.overdue else None,  # what the scan watches, or escalated
        page=page,
    )
    async for dossier, agency in rows:
        dates = dossier_dates(dossier, calendar, today, zone)
        if not filters.overdue or dates.overdue:
            yield dossier, agency, dates


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def _vn(day: date | None) -> str:
    return f"{day:%d/%m/%Y}" if day else "-"


def row_json(dossier: Dossier, agency: str, dates: Dates) -> dict[str, Any]:
    """One dossier of `list --format json|csv`: ISO dates, the citizen masked."""
    return {
        "code": dossier.code,
        "agency": agency,
        "procedure_code": dossier.procedure_code,
        "state": dossier.state,
        "state_name": STATES.get(dossier.state),
        "received_at": dates.received_at.isoformat(),
        "appointment_date": _iso(dates.appointment),
        "due_date": _iso(dates.due),
        "new_date": _iso(dates.new_date),
        "date_owed": _iso(dates.owed),
        "clock_stopped": dates.stopped,
        "overdue": dates.overdue,
        "late_working_days": dates.late_days,
        "citizen": initials(dossier.citizen_name),
        "phone": masked_phone(dossier.phone),
    }


CSV_FIELDS = (
    "code",
    "agency",
    "procedure_code",
    "state",
    "state_name",
    "received_at",
    "appointment_date",
    "due_date",
    "new_date",
    "date_owed",
    "clock_stopped",
    "overdue",
    "late_working_days",
    "citizen",
    "phone",
)
TABLE_HEADER = (
    f"{'code':<24} {'agency':<14} {'state':<16} {'received':<10} {'appointed':<10} "
    f"{'due':<10} {'new date':<10} {'late':>4}  {'citizen':<10} phone"
)


def row_table(dossier: Dossier, agency: str, dates: Dates) -> str:
    state = f"{dossier.state} {STATES.get(dossier.state, '')}"
    state = state if len(state) <= 16 else state[:15] + "…"
    late = "" if not dates.late_days else str(dates.late_days)
    if dates.stopped:
        late = "⏸"
    due = _vn(dates.due) if dates.due != dates.appointment else "="
    return (
        f"{dossier.code:<24} {agency:<14} {state:<16} {dates.received_at:%d/%m/%Y} "
        f"{_vn(dates.appointment):<10} {due:<10} {_vn(dates.new_date):<10} {late:>4}  "
        f"{initials(dossier.citizen_name):<10} {masked_phone(dossier.phone)}"
    )


async def write_list(
    rows: AsyncIterator[tuple[Dossier, str, Dates]], form: str, out: TextIO
) -> int:
    """Write every row in `form`; the number of rows."""
    count = 0
    if form == "table":
        print(TABLE_HEADER, file=out)
        async for row in rows:
            print(row_table(*row), file=out)
            count += 1
    elif form == "csv":
        writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, lineterminator="\n")
        writer.writeheader()
        async for row in rows:
            writer.writerow(row_json(*row))
            count += 1
    else:
        out.write("[")
        async for row in rows:
            out.write(
                ("," if count else "") + "\n  " + json.dumps(row_json(*row), ensure_ascii=False)
            )
            count += 1
        out.write("\n]\n" if count else "]\n")
    return count


# -- show --------------------------------------------------------------------------------------


def _moment(value: datetime | None, zone: ZoneInfo) -> str:
    return f"{value.astimezone(zone):%a %d/%m/%Y %H:%M}" if value else "-"


def _day(value: date | None) -> str:
    return f"{value:%a %d/%m/%Y}" if value else "-"


def _working_days(count: int) -> str:
    return f"{count} working day{'' if count == 1 else 's'}"


def _delivery(message: OutboxMessage | None, zone: ZoneInfo) -> str:
    """The notice's message in the outbox: where it went, or where it stands."""
    if message is None:
        return "not in the outbox"
    attempts = f"{message.attempts} attempt{'s' if message.attempts != 1 else ''}"
    if message.status == OutboxStatus.SENT:
        via = f"{message.route} ({message.channel})" if message.channel else message.route
        text = f"sent by {via} at {_moment(message.sent_at, zone)}"
    elif message.status == OutboxStatus.COUNTER:
        text = f"for the counter (no chat, no ZNS) since {_moment(message.sent_at, zone)}"
    elif message.status == OutboxStatus.FAILED:
        text = f"failed after {attempts}"
    else:
        text = f"{message.status}, {attempts}, next {_moment(message.next_attempt_at, zone)}"
    if message.uncertain:
        text += ", possibly delivered twice"
    if message.last_error:
        text += f"; last error: {message.last_error[:120]}"
    return text


async def show_text(
    session: AsyncSession,
    code: str,
    *,
    calendar: WorkCalendar,
    today: date,
    zone: ZoneInfo,
    history: HistoryProvider | None = None,
) -> str | None:
    """Everything stored about one dossier, as text; None when there is no such dossier."""
    row = await store.dossier_with_agency(session, code)
    if row is None:
        return None
    dossier, agency = row
    dates = dossier_dates(dossier, calendar, today, zone)
    start = await store.start_code_of(session, dossier.id)
    lines = [
        f"Dossier {dossier.code}",
        f"  agency        {agency.code} {agency.name}",
        f"  procedure     {dossier.procedure_code or '-'} {dossier.procedure_name}"
        + (f" ({dossier.field})" if dossier.field else ""),
    ]
    if dossier.purged_at is not None:
        lines.append(f"  citizen       erased {_day(local_date(dossier.purged_at, zone))}")
    else:
        lines.append(f"  citizen       {dossier.citizen_name or '-'}")
        lines.append(f"  phone         {dossier.phone or '-'}")
    chat = f"linked {_moment(dossier.linked_at, zone)}" if dossier.chat_id else "not linked"
    lines.append(f"  chat          {chat}")
    if start is not None:
        used = (
            f"used {start.used_at.astimezone(zone):%d/%m/%Y}" if start.used_at else "not used yet"
        )
        lines.append(f"  survey code   {start.code} ({used})")
    else:
        lines.append("  survey code   - (no catalogue procedure)")

    lines += ["", "Dates"]
    lines.append(f"  received      {_moment(dates.received_at, zone)}")
    lines.append(f"  appointment   {_day(dates.appointment)}")
    if dates.due != dates.appointment:
        lines.append(f"  due           {_day(dates.due)} (moved by pauses)")
    if dossier.stage >= 1 and dossier.new_due_date is not None:
        moved = " (moved by pauses)" if dates.new_date != dossier.new_due_date else ""
        lines.append(
            f"  new date      {_day(dates.new_date)}{moved}, given {_day(dossier.apologised_on)}"
        )
    elif dossier.agency_new_date is not None:
        lines.append(f"  new date      {_day(dossier.agency_new_date)} (announced by the agency)")
    if dates.stopped:
        status = "clock stopped by an open pause"
    elif dates.overdue:
        status = f"OVERDUE by {_working_days(dates.late_days)} (owed {_day(dates.owed)})"
    elif dates.late_days:
        status = f"finished {_working_days(dates.late_days)} late"
    elif dossier.state in FINISHED_STATES:
        status = "finished on time"
    elif dossier.state in OPEN_STATES:
        status = f"on time (owed {_day(dates.owed)})"
    else:
        status = "closed"
    lines.append(f"  status        {status}")

    pauses = pauses_of(dossier)
    lines += ["", "Pauses (supplement requested)" if pauses else "Pauses        none"]
    for begin, end in pauses:
        if end is None:
            lines.append(f"  {begin:%d/%m/%Y} – (still open)")
        else:
            days = calendar.working_days_between(begin, end)
            lines.append(f"  {begin:%d/%m/%Y} – {end:%d/%m/%Y} ({_working_days(days)})")

    lines += ["", "State (the dossier keeps its current state and when it was reached)"]
    lines.append(
        f"  now           {dossier.state} {STATES.get(dossier.state, '')}"
        f" since {_moment(dossier.state_changed_at, zone)}"
    )
    for label, value in (
        ("finished", dossier.finished_at),
        ("returned", dossier.returned_at),
        ("closed", dossier.closed_at),
    ):
        if value is not None:
            lines.append(f"  {label:<13} {_moment(value, zone)}")
    lines.append(f"  first stored  {_moment(dossier.created_at, zone)}")
    lines.append(f"  last changed  {_moment(dossier.updated_at, zone)}")

    notices = await store.notices_of(session, dossier.id)
    lines += ["", "Apology notice" if notices else "Apology notice  none"]
    for notice, message in notices:
        lines.append(
            f"  {notice.number_seq}/PXL (id {notice.id}) issued {_day(notice.issued_on)}"
            f" for {_day(notice.original_date)}, new date {_day(notice.new_date)}"
        )
        lines.append(f"  delivery      {_delivery(message, zone)}")
    escalations = await store.escalations_of(session, dossier.id)
    for escalation in escalations:
        notified = _moment(escalation.notified_at, zone) if escalation.notified_at else "not yet"
        lines.append(
            f"  escalated     missed {_day(escalation.missed_date)}; officials notified {notified}"
        )

    if history is not None:
        events = list(await history(session, dossier.id))
        lines += ["", "History" if events else "History       none"]
        lines += [f"  {describe_event(event, zone)}" for event in events]
    return "\n".join(lines)


def _value(value: Any, zone: ZoneInfo) -> str:
    if isinstance(value, datetime):
        return _moment(value, zone)
    return _day(value) if isinstance(value, date) else str(value)


def describe_event(event: Any, zone: ZoneInfo) -> str:
    """One history event, whatever its shape: its time first, then its other fields."""
    if isinstance(event, Mapping):
        fields = dict(event)
    elif dataclasses.is_dataclass(event):
        fields = {field.name: getattr(event, field.name) for field in dataclasses.fields(event)}
    elif hasattr(event, "_asdict"):  # a named tuple or a SQLAlchemy row
        fields = dict(event._asdict())
    else:  # an ORM object
        fields = {name: value for name, value in vars(event).items() if not name.startswith("_")}
    moment = next(
        (fields.pop(name) for name in ("at", "changed_at", "created_at") if name in fields), None
    )
    when = _moment(moment, zone) if isinstance(moment, datetime) else str(moment or "")
    rest = ", ".join(f"{name}={_value(value, zone)}" for name, value in fields.items())
    return f"{when}  {rest}".strip()
