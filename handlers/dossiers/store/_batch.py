"""One batch of dossier records applied to the database: the work of `upsert_dossiers`.

`Batch` loads what its records name in three queries (agencies, procedures, dossiers),
checks each record against what is stored, applies it through `handlers.dossiers.deadlines`
and adds what follows (the receipt's start code, the survey invitation in the outbox).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import local_date
from bot.database import is_unavailable
from bot.logs import describe
from bot.models import Agency, Dossier, Service, StartCode
from bot.states import DossierState, OutboxKind
from bot.textnorm import fold
from handlers.dossiers.deadlines import apply_state, pauses_of, set_pauses, track
from handlers.dossiers.records import SERVICE_NAME_MAX
from handlers.dossiers.store._outbox import queue_message
from handlers.dossiers.workdays import WorkCalendar
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


class Batch:
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
            await queue_message(
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
            set_pauses(dossier, values["pauses"])
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
