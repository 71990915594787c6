"""Upserting dossiers and deriving what the deadline scan watches.

Every write goes through `upsert_dossiers`, whatever the source (spreadsheet, API),
so the derived columns (`due_date`, `watch_date`, pauses, closing times) follow one
set of rules. Writers are serialised (PostgreSQL advisory lock; SQLite's
`BEGIN IMMEDIATE`), so two batches naming the same new dossier cannot both insert it.

A batch is written inside a savepoint. The model in `handlers.dossiers.records` refuses
everything known to fail in a database; should a record still fail, the savepoint is
rolled back and the batch written again with a savepoint per record, so only the
refused record is rejected and the good ones go on (the usual case pays for one
savepoint, not one per record). A lost database is the one failure that stops the
batch (the caller answers 503).

A procedure first named by a dossier is added to the catalogue as the property of
that dossier's agency: it appears in that agency's survey menu only, so one agency
(or one API key) cannot fill every other agency's menu.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import local_date
from bot.database import LockKey, is_unavailable, transaction_lock
from bot.logs import describe
from bot.models import Agency, Dossier, Service, StartCode
from bot.outbox import enqueue
from bot.states import CLOSED_STATES, FINISHED_STATES, OPEN_STATES, DossierState, OutboxKind
from bot.textnorm import fold
from handlers.dossiers.records import (
    SERVICE_NAME_MAX,
    RecordError,
    local_zone,
    parse_record,
    raw_code,
)
from handlers.dossiers.workdays import Pause, WorkCalendar
from handlers.survey.codes import new_code

log = logging.getLogger(__name__)
# A receipt may be stamped by a clock a little ahead of ours; later than this it is wrong.
RECEIPT_CLOCK_SKEW = timedelta(minutes=10)
_TRACKED = (
    "agency_id",
    "service_id",
    "procedure_code",
    "procedure_name",
    "field",
    "citizen_name",
    "phone",
    "received_at",
    "appointment_date",
    "state",
    "finished_at",
    "returned_at",
    "pauses",
    "agency_new_date",
    "delay_reason",
)


@dataclass
class Outcome:
    """What became of one record: created, updated, unchanged or rejected (with reasons)."""

    ref: int
    code: str | None
    status: str
    start_code: str | None = None
    reasons: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"index": self.ref, "code": self.code, "status": self.status}
        if self.status == "rejected":
            body["errors"] = self.reasons
        else:
            body["start_code"] = self.start_code
        return body


def pauses_of(dossier: Dossier) -> list[Pause]:
    return [
        (date.fromisoformat(start), date.fromisoformat(end) if end else None)
        for start, end in (dossier.pauses or [])
    ]


def _store_pauses(dossier: Dossier, pauses: Sequence[Pause]) -> None:
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
            _store_pauses(dossier, pauses)
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


def discard_unflushed(session: AsyncSession) -> None:
    """After a savepoint's rollback: forget changes it never flushed.

    The rollback expires what was flushed inside the savepoint; changes still only in
    memory (a record that failed half-way) would otherwise reach the database with the
    next autoflush, outside any savepoint.
    """
    for instance in list(session.new):
        session.expunge(instance)
    for instance in list(session.dirty):
        session.expire(instance)


async def lock_writes(session: AsyncSession) -> None:
    """Serialise dossier writers (SQLite already is, by `BEGIN IMMEDIATE`)."""
    await transaction_lock(session, LockKey.DOSSIER_WRITES)


class _Batch:
    """One call of `upsert_dossiers`: the lookups it shares across its records."""

    def __init__(
        self,
        session: AsyncSession,
        now: datetime,
        calendar: WorkCalendar,
        scope: int | None,
        code_length: int,
        zone: tzinfo,
    ):
        self.session = session
        self.code_length = code_length
        self.now = now
        self.zone = zone
        self.today = local_date(now, zone)
        self.calendar = calendar
        self.scope = scope
        self.agencies: dict[str, int] = {}
        self.services: dict[str, Service] = {}
        self.existing: dict[str, Dossier] = {}

    async def write(
        self, parsed: list[tuple[int, dict[str, Any]]], *, isolate: bool
    ) -> list[tuple[Outcome, Dossier | None]]:
        """Apply every record; with `isolate`, each in a savepoint of its own.

        Without it the batch is flushed at once (the fast, usual case); the caller
        rolls the whole batch back if the database refuses any of it and calls again
        with `isolate`, so that only the refused records are lost.
        """
        await self.prefetch([values for _, values in parsed])
        written: list[tuple[Outcome, Dossier | None]] = []
        pending: list[tuple[Dossier, str, int]] = []
        for ref, values in parsed:
            code = values["code"]
            old_state = self.existing[code].state if code in self.existing else 0
            if not isolate:
                dossier, status, reasons = await self.apply(values)
                if dossier is not None:
                    pending.append((dossier, status, old_state))
            else:
                try:
                    async with self.session.begin_nested():
                        dossier, status, reasons = await self.apply(values)
                        if dossier is not None:
                            await self.session.flush()
                            await self.follow_up(dossier, status, old_state)
                            await self.session.flush()
                except Exception as error:
                    if is_unavailable(error):
                        raise
                    log.warning("dossier record %s rolled back: %s", ref, describe(error))
                    self.forget_failed(code)
                    dossier, status, reasons = None, "rejected", ["record: could not be stored"]
            written.append((Outcome(ref, code, status, reasons=reasons), dossier))
        if pending:
            await self.session.flush()
            for dossier, status, old_state in pending:
                await self.follow_up(dossier, status, old_state)
            await self.session.flush()
        return written

    async def follow_up(self, dossier: Dossier, status: str, old_state: int) -> None:
        """The receipt's start code of a new dossier; the survey invitation once returned."""
        if status == "created" and dossier.service_id is not None:
            self.session.add(
                StartCode(
                    code=new_code(self.code_length),
                    agency_id=dossier.agency_id,
                    service_id=dossier.service_id,
                    single_use=True,
                    created_at=self.now,
                    dossier_id=dossier.id,
                )
            )
        if (
            dossier.state == DossierState.RETURNED
            and old_state != DossierState.RETURNED
            and dossier.chat_id is not None
        ):
            await enqueue(
                self.session, OutboxKind.INVITATION, dossier.id, dossier_id=dossier.id, now=self.now
            )

    async def prefetch(self, parsed: list[dict[str, Any]]) -> None:
        codes = {values["code"] for values in parsed}
        agencies = {values["agency"] for values in parsed if values.get("agency")}
        procedures = {values["procedure_code"] for values in parsed if values.get("procedure_code")}
        if agencies:
            rows = await self.session.execute(
                select(Agency.code, Agency.id).where(Agency.code.in_(agencies))
            )
            self.agencies = {key: value for key, value in rows}
        if procedures:
            rows = await self.session.scalars(
                select(Service)
                .where(Service.code.in_(procedures))
                .execution_options(populate_existing=True)
            )
            self.services = {service.code: service for service in rows}
        if codes:
            # populate_existing: after a rolled-back attempt, reload what it changed
            rows = await self.session.scalars(
                select(Dossier)
                .where(Dossier.code.in_(codes))
                .execution_options(populate_existing=True)
            )
            self.existing = {dossier.code: dossier for dossier in rows}

    async def _service(
        self, values: dict[str, Any], owner: int, reasons: list[str]
    ) -> Service | None:
        code, name = values.get("procedure_code"), values.get("procedure_name")
        if not code:
            return None
        service = self.services.get(code)
        if service is not None and service.owner_agency_id not in (None, owner):
            reasons.append("procedure_code: a procedure of another agency, not in the catalogue")
        elif service is None and not name:
            reasons.append("procedure_code: not in the catalogue; give procedure_name too")
        elif service is None and len(name) > SERVICE_NAME_MAX:
            reasons.append(
                f"procedure_name: at most {SERVICE_NAME_MAX} characters"
                " for a procedure not in the catalogue"
            )
        elif service is None:
            # The one-stop system knows procedures the survey catalogue may not list yet;
            # they belong to this agency until an operator imports them for everyone.
            service = Service(
                code=code,
                name=name,
                name_folded=fold(name)[:255],
                field=values.get("field"),
                level=None,
                owner_agency_id=owner,
            )
            self.session.add(service)
            await self.session.flush()
            self.services[code] = service
        return service

    def forget_failed(self, code: str) -> None:
        """Drop what a rolled-back savepoint left behind: its new or changed rows."""
        discard_unflushed(self.session)
        self.existing.pop(code, None)
        self.services = {
            key: service for key, service in self.services.items() if inspect(service).persistent
        }

    def owed_date(self, dossier: Dossier | None, values: dict[str, Any]) -> date | None:
        """The date the record leaves the dossier owing (appointment moved by pauses),
        computed as `apply` will compute it, before anything is changed: a new date is
        judged against it, whether the appointment is given or counted in working days."""
        appointment = values.get("appointment_date")
        if appointment is None and values.get("processing_days") is not None:
            received = values.get("received_at") or (dossier and dossier.received_at)
            if received is None:
                return None
            appointment = self.calendar.deadline(
                local_date(received, self.zone), values["processing_days"]
            )
        if appointment is None and dossier is not None:
            appointment = dossier.appointment_date
        if appointment is None:
            return None
        pauses = values.get("pauses")
        if pauses is None:
            pauses = pauses_of(dossier) if dossier is not None else []
        return self.calendar.extend(appointment, pauses)

    async def apply(self, values: dict[str, Any]) -> tuple[Dossier | None, str, list[str]]:
        """Create or change one dossier; (dossier, status, reasons)."""
        reasons: list[str] = []
        dossier = self.existing.get(values["code"])
        agency_id = None
        if values.get("agency"):
            agency_id = self.agencies.get(values["agency"])
            if agency_id is None:
                reasons.append("agency: unknown agency code")
            elif self.scope is not None and agency_id != self.scope:
                reasons.append("agency: not writable with this key")
        if dossier is not None:
            if self.scope is not None and dossier.agency_id != self.scope:
                return None, "rejected", ["code: not writable with this key"]
            if agency_id is not None and agency_id != dossier.agency_id:
                reasons.append("agency: a dossier cannot move to another agency")
        created = dossier is None
        if created:
            agency_id = agency_id or self.scope
            known = values.get("procedure_code") in self.services
            for name, ok in (
                ("agency", agency_id is not None or bool(values.get("agency"))),
                ("procedure_name", bool(values.get("procedure_name")) or known),
                ("received_at", "received_at" in values),
                (
                    "appointment_date",
                    values.get("appointment_date") is not None
                    or values.get("processing_days") is not None,
                ),
            ):
                if not ok:
                    reasons.append(f"{name}: required for a new dossier")
        received = values.get("received_at")
        if received is not None and received > self.now + RECEIPT_CLOCK_SKEW:
            reasons.append("received_at: in the future")
        new_date = values.get("new_appointment_date")
        if new_date is not None:
            if dossier is not None and dossier.stage > 0 and new_date != dossier.new_due_date:
                reasons.append("new_appointment_date: a new date was already given")
            else:
                owed = self.owed_date(dossier, values)
                if owed is not None and new_date <= owed:
                    reasons.append("new_appointment_date: must be after the appointment date")
        if reasons:
            return None, "rejected", reasons
        owner = dossier.agency_id if dossier is not None else agency_id
        service = await self._service(values, owner, reasons)
        if reasons:
            return None, "rejected", reasons
        if created:
            dossier = Dossier(
                code=values["code"],
                agency_id=agency_id,
                procedure_name=values.get("procedure_name") or service.name,
                received_at=values["received_at"],
                received_on=local_date(values["received_at"], self.zone),
                state=0,
                state_changed_at=values.get("state_changed_at", self.now),
                stage=0,
                created_at=self.now,
                updated_at=self.now,
            )
        before = {name: getattr(dossier, name) for name in _TRACKED}

        if service is not None:
            dossier.service_id, dossier.procedure_code = service.id, service.code
        for name in ("procedure_name", "field", "citizen_name", "phone", "delay_reason"):
            if name in values and values[name] is not None:
                setattr(dossier, name, values[name])
            elif name in values and name in ("field", "delay_reason"):
                setattr(dossier, name, None)
        if "received_at" in values:
            dossier.received_at = values["received_at"]
            dossier.received_on = local_date(values["received_at"], self.zone)
        if values.get("appointment_date") is not None:
            dossier.appointment_date = values["appointment_date"]
        elif values.get("processing_days") is not None:
            dossier.appointment_date = self.calendar.deadline(
                dossier.received_on, values["processing_days"]
            )
        if values.get("pauses") is not None:
            _store_pauses(dossier, values["pauses"])
        for name in ("finished_at", "returned_at"):
            if values.get(name) is not None:
                setattr(dossier, name, values[name])

        if new_date is not None:
            dossier.agency_new_date = new_date

        state = values.get("state", dossier.state or 2)
        at = values.get("state_changed_at", self.now)
        apply_state(dossier, state, at, auto_pauses=values.get("pauses") is None, zone=self.zone)
        track(dossier, self.calendar, self.today, self.zone)

        if created:
            self.session.add(dossier)
            return dossier, "created", []
        changed = any(getattr(dossier, name) != before[name] for name in _TRACKED)
        if changed:
            dossier.updated_at = self.now
        return dossier, ("updated" if changed else "unchanged"), []


async def upsert_dossiers(
    session: AsyncSession,
    records: Sequence[tuple[int, Mapping[str, Any]]],
    *,
    now: datetime,
    calendar: WorkCalendar,
    zone: tzinfo,
    scope_agency_id: int | None = None,
    code_length: int = 10,
    cells: bool = False,
) -> list[Outcome]:
    """Create or update dossiers from raw records; each bad record is rejected alone.

    `records` are (reference, raw record) pairs: a row number or a list index.
    `scope_agency_id` limits writes to one agency's dossiers (an API key's).
    `cells`: the records are spreadsheet rows, not JSON (see `parse_record`).
    `zone` (the TIMEZONE setting) reads times given without one and makes local days.
    A new dossier whose procedure is known gets a single-use start code, the
    survey/link code printed on its receipt.
    """
    await lock_writes(session)
    outcomes: list[Outcome] = []
    parsed: list[tuple[int, dict[str, Any]]] = []
    seen: set[str] = set()
    for ref, raw in records:
        try:
            with local_zone(zone):
                values = parse_record(raw, cells=cells)
        except RecordError as error:
            outcomes.append(Outcome(ref, raw_code(raw), "rejected", reasons=error.reasons))
            continue
        if values["code"] in seen:
            outcomes.append(
                Outcome(ref, values["code"], "rejected", reasons=["code: appears twice"])
            )
            continue
        seen.add(values["code"])
        parsed.append((ref, values))

    batch = _Batch(session, now, calendar, scope_agency_id, code_length, zone)
    try:
        async with session.begin_nested():
            written = await batch.write(parsed, isolate=False)
    except Exception as error:
        if is_unavailable(error):
            raise
        # Validation should have refused whatever failed: find it, keep the others.
        log.warning("dossier batch rolled back, retried record by record: %s", describe(error))
        discard_unflushed(session)
        batch = _Batch(session, now, calendar, scope_agency_id, code_length, zone)
        written = await batch.write(parsed, isolate=True)
    outcomes += [outcome for outcome, _ in written]
    accepted = [(outcome, dossier) for outcome, dossier in written if dossier is not None]

    ids = [dossier.id for _, dossier in accepted]
    codes: dict[int, str] = {}
    for start in range(0, len(ids), 500):
        rows = await session.execute(
            select(StartCode.dossier_id, StartCode.code).where(
                StartCode.dossier_id.in_(ids[start : start + 500])
            )
        )
        codes.update({key: value for key, value in rows})
    for outcome, dossier in accepted:
        outcome.start_code = codes.get(dossier.id)
    outcomes.sort(key=lambda outcome: outcome.ref)
    return outcomes
