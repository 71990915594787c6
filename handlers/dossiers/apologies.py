"""The scan for late dossiers, the apology notice it issues, and the notice's text.

`scan(session, now, …)` is what the ticking job calls. It works in three set-based
statements, so a million dossiers never pass through Python:

1. `INSERT INTO apology_notices … SELECT` every dossier whose `watch_date` has
   passed at stage 0, copying each field of the legal form and numbering notices
   per agency and year; `ON CONFLICT DO NOTHING` on (dossier, due date) makes a
   second notice for the same lateness impossible, whoever runs the scan;
2. one outbox row per such notice (unique per notice);
3. the dossiers move to stage 1 with the new date as their next watch date.

A dossier that misses the new date too is escalated (stage 2) to its agency's
officials and never apologised for again: the new date is given once.

Which dossiers owe a notice is decided by `handlers.dossiers.store.track` (their watch
date): open ones past their due date (or with a delay announced in advance), and ones done
but not returned (state 9) that were finished after their due date, whose new date is
the next working day, the result being ready. A dossier first reported returned
(state 10) after a late finish gets no notice: form 04 tells the citizen when the
result will come, and they already have it; a notice would state a new date that is
false. It still counts as finished late wherever lateness is counted.

The text comes from editable YAML templates (`templates/*.yaml`, or a copy in
DOSSIER_TEMPLATE_DIR); the notice stores the name of the form it was issued on.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from functools import lru_cache
from pathlib import Path
from string import Template
from typing import Any

import yaml
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

from bot.clock import local_date
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
from bot.outbox import Rendered
from bot.states import OPEN_STATES, DossierState, OutboxKind, OutboxStatus
from handlers.dossiers.workdays import WorkCalendar
from handlers.messages import Outbound

TEMPLATE_DIR = Path(__file__).parent / "templates"
ENGLISH_TEMPLATE = "en"
_MONTHS_EN = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


@dataclass(frozen=True)
class ScanReport:
    notices: int
    escalations: int


async def scan(
    session: AsyncSession,
    now: datetime,
    *,
    calendar: WorkCalendar,
    zone: tzinfo,
    new_date_working_days: int,
    template: str,
) -> ScanReport:
    """Issue the apology notices and escalations that are due at `now` (days in `zone`)."""
    # Scanners queue up, so the per-agency numbering sees every earlier notice.
    await transaction_lock(session, LockKey.APOLOGY_SCAN)
    today = local_date(now, zone)
    default_new_date = calendar.add_working_days(today, new_date_working_days)
    ready = calendar.next_working_day(today)  # a finished dossier's result: from now on
    notices = await _issue_notices(session, now, today, default_new_date, ready, template)
    escalations = await _escalate(session, now, today)
    return ScanReport(notices, escalations)


def _late(today: date, stage: int, states=OPEN_STATES):
    return and_(
        Dossier.watch_date < today,
        Dossier.stage == stage,
        Dossier.state.in_(sorted(states)),
    )


async def _issue_notices(
    session: AsyncSession,
    now: datetime,
    today: date,
    default_new_date: date,
    ready: date,
    template: str,
) -> int:
    # State 9 has a watch date only when it was finished late (`store.track`).
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
    outbox_columns = {
        "kind": literal(OutboxKind.APOLOGY, String),
        "ref_id": ApologyNotice.id,
        "dossier_id": ApologyNotice.dossier_id,
        "status": literal(OutboxStatus.PENDING, String),
        "attempts": literal(0, Integer),
        "uncertain": literal(0, Integer),
        "next_attempt_at": literal(now, OutboxMessage.next_attempt_at.type),
        "created_at": literal(now, OutboxMessage.created_at.type),
    }
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


async def _escalate(session: AsyncSession, now: datetime, today: date) -> int:
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


# -- the text ------------------------------------------------------------------------


@dataclass(frozen=True)
class NoticeTemplate:
    name: str
    language: str
    data: dict[str, Any]

    @property
    def reason_fallback(self) -> str:
        """The sentence printed when the agency gave no reason: a field of the template
        (`reason_fallback`), neutral and honest, which the agency must review; older
        copies may still hold it as `defaults.reason`."""
        defaults = self.data.get("defaults", {}) or {}
        return str(self.data.get("reason_fallback") or defaults.get("reason", "")).strip()

    @property
    def reason_fallback_reviewed(self) -> bool:
        return self.data.get("reason_fallback_reviewed") is True

    def text(self, key: str, values: dict[str, str]) -> str:
        return self.substitute(self.data.get(key, ""), values)

    @staticmethod
    def substitute(raw: object, values: dict[str, str]) -> str:
        return Template(str(raw or "")).safe_substitute(values).strip()


@lru_cache(maxsize=32)
def _load(path: Path, mtime: float) -> dict[str, Any]:
    with open(path, encoding="utf-8") as file:
        data = yaml.safe_load(file)
    if not isinstance(data, dict) or "body" not in data or "chat" not in data:
        raise ValueError(f"{path.name}: an apology template needs at least body and chat")
    return data


def load_template(name: str, directory: str | Path | None = None) -> NoticeTemplate:
    """A template by name, from the editable directory first, else the shipped one."""
    for folder in (Path(directory) if directory else None, TEMPLATE_DIR):
        if folder is None:
            continue
        path = folder / f"{name}.yaml"
        if path.is_file():
            data = _load(path, path.stat().st_mtime)
            return NoticeTemplate(name, str(data.get("language", "vi")), data)
    raise FileNotFoundError(f"no apology template named {name!r}")


def shipped_templates() -> list[str]:
    return sorted(path.stem for path in TEMPLATE_DIR.glob("*.yaml"))


def _vi_day(day: date) -> tuple[str, str, str]:
    """Day and month as administrative documents write them: 05, 02 (01-09, 01-02 padded)."""
    month = f"{day.month:02d}" if day.month <= 2 else str(day.month)
    return f"{day.day:02d}", month, str(day.year)


def format_date(day: date, language: str) -> str:
    if language == "en":
        return f"{day.day} {_MONTHS_EN[day.month - 1]} {day.year}"
    return day.strftime("%d/%m/%Y")


def notice_values(notice: ApologyNotice, template: NoticeTemplate) -> dict[str, str]:
    """Every field of the form as text, with the template's words where data is missing."""
    language = template.language
    defaults = template.data.get("defaults", {}) or {}
    issued = notice.issued_on
    if language == "en":
        issued_parts = (str(issued.day), _MONTHS_EN[issued.month - 1], str(issued.year))
    else:
        issued_parts = _vi_day(issued)
    values = {
        "agency_name": notice.agency_name,
        "AGENCY_NAME": notice.agency_name.upper(),
        "parent_agency_name": notice.parent_agency_name or "",
        "PARENT_AGENCY_NAME": (notice.parent_agency_name or "").upper(),
        "notice_number": f"{notice.number_seq}/PXL",
        "place": notice.place or defaults.get("place", "……"),
        "issued_day": issued_parts[0],
        "issued_month": issued_parts[1],
        "issued_year": issued_parts[2],
        "issued_date": format_date(issued, language),
        "citizen_name": notice.citizen_name or defaults.get("citizen_name", "……"),
        "dossier_code": notice.dossier_code,
        "procedure_name": notice.procedure_name,
        "field": notice.field or defaults.get("field", "—"),
        "received_date": format_date(notice.received_on, language),
        "original_date": format_date(notice.original_date, language),
        "reason": notice.reason or template.reason_fallback,
        "new_date": format_date(notice.new_date, language),
        "signer_title": notice.signer_title or defaults.get("signer_title", ""),
        "SIGNER_TITLE": (notice.signer_title or defaults.get("signer_title", "")).upper(),
        "signer_name": notice.signer_name or defaults.get("signer_name", ""),
    }
    return values


def notice_template_for(notice: ApologyNotice, language: str | None, directory) -> NoticeTemplate:
    name = ENGLISH_TEMPLATE if language == "en" else notice.template
    return load_template(name, directory)


def chat_text(notice: ApologyNotice, template: NoticeTemplate) -> str:
    return template.text("chat", notice_values(notice, template))


def zns_fields(notice: ApologyNotice) -> dict[str, str]:
    """Fields a ZNS template may use (ZALO_OA_ZNS_PARAMS maps its parameters to these)."""
    return {
        "dossier_code": notice.dossier_code,
        "agency_name": notice.agency_name,
        "procedure_name": notice.procedure_name[:100],
        "original_date": format_date(notice.original_date, "vi"),
        "new_date": format_date(notice.new_date, "vi"),
        "notice_number": f"{notice.number_seq}/PXL",
        "citizen_name": notice.citizen_name or "",
    }


def renderers(translator, template_dir: str | None = None) -> dict[str, Any]:
    """The outbox renderers of this package: apology notices and survey invitations."""

    async def apology(session: AsyncSession, message: OutboxMessage, dossier, language):
        notice = await session.get(ApologyNotice, message.ref_id)
        if notice is None:
            return None
        template = notice_template_for(notice, language, template_dir)
        return Rendered(
            [Outbound(chat_text(notice, template))],
            zns_fields=zns_fields(notice),
            counter_fallback=True,
        )

    async def invitation(session: AsyncSession, message: OutboxMessage, dossier, language):
        if dossier is None:
            return None
        code = await session.scalar(
            select(StartCode.code).where(
                StartCode.dossier_id == dossier.id, StartCode.used_at.is_(None)
            )
        )
        agency = await session.get(Agency, dossier.agency_id)
        if code is None:
            return None
        words = translator(
            language,
            "dossier_invite",
            code=dossier.code,
            procedure=dossier.procedure_name,
            agency=agency.name if agency else "",
            start_code=code,
        )
        return Rendered([Outbound(words)])

    return {OutboxKind.APOLOGY: apology, OutboxKind.INVITATION: invitation}


# -- agencies whose notices would go unsigned ------------------------------------------


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


def code_list(codes: list[str], limit: int = 10) -> str:
    """Agency codes for one line: the first `limit`, then how many more."""
    shown = ", ".join(codes[:limit])
    return shown if len(codes) <= limit else f"{shown} (+{len(codes) - limit})"
