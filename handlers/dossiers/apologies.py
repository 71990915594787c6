"""The scan for late dossiers, the apology notices it issues, and their outbox renderers.

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

Which dossiers owe a notice is decided by `handlers.dossiers.deadlines.track` (their watch
date): open ones past their due date (or with a delay announced in advance), and ones done
but not returned (state 9) that were finished after their due date, whose new date is
the next working day, the result being ready. A dossier first reported returned
(state 10) after a late finish gets no notice: form 04 tells the citizen when the
result will come, and they already have it; a notice would state a new date that is
false. It still counts as finished late wherever lateness is counted.

The statements are in the store (`handlers.dossiers.store`); the notice's text in
`handlers.dossiers.notice`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import local_date
from bot.models import OutboxMessage
from bot.states import OutboxKind
from handlers.dossiers import store
from handlers.dossiers.notice import chat_text, notice_template_for, zns_fields
from handlers.dossiers.workdays import WorkCalendar
from handlers.messages import Outbound, Rendered


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
    await store.lock_scan(session)
    today = local_date(now, zone)
    default_new_date = calendar.add_working_days(today, new_date_working_days)
    ready = calendar.next_working_day(today)  # a finished dossier's result: from now on
    notices = await store.issue_notices(session, now, today, default_new_date, ready, template)
    escalations = await store.escalate(session, now, today)
    return ScanReport(notices, escalations)


def renderers(translator, template_dir: str | None = None) -> dict[str, Any]:
    """The outbox renderers of this package: apology notices and survey invitations."""

    async def apology(session: AsyncSession, message: OutboxMessage, dossier, language):
        notice = await store.notice_by_id(session, message.ref_id)
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
        code = await store.unused_start_code(session, dossier.id)
        agency = await store.agency_by_id(session, dossier.agency_id)
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


def code_list(codes: list[str], limit: int = 10) -> str:
    """Agency codes for one line: the first `limit`, then how many more."""
    shown = ", ".join(codes[:limit])
    return shown if len(codes) <= limit else f"{shown} (+{len(codes) - limit})"
