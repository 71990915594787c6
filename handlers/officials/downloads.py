"""The file a signed download link serves (`links` says what a link carries, signs, checks).

An export link (`/scores`, `/export`, `/digest`) names the official, the agency the
reply was narrowed to and the period: the file is built again at download time, for
the scope as `access.official_scope` narrows it then. A digest's link names the stored
digest and serves the files kept with it. Either way the official must still be active.
The file comes back *described*; the web route draws it after the read transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.questionnaire import Questionnaire
from bot.settings import Settings
from handlers.messages import Attachment, StoredFile
from handlers.officials import access, links, store
from handlers.officials.content import file_name, report_files, scope_report
from handlers.reports import Period, ReportError

LANGUAGES = ("vi", "en")


async def linked_file(
    session: AsyncSession,
    settings: Settings,
    questionnaires: Mapping[str, Questionnaire],
    payload: dict[str, Any],
    kind: str,
) -> Attachment:
    """The file behind a genuine link's payload; PermissionError when it is out of reach
    (the official revoked, the agency out of scope, the digest not theirs)."""
    official = await access.entitled_official(session, payload.get("o"))
    if official is None:
        raise PermissionError
    if "d" in payload:
        row = await store.digest(session, payload["d"])
        if row is None or row.official_id != official.id:
            raise PermissionError
        body = row.workbook if kind == links.WORKBOOK else row.chart
        if body is None:
            raise PermissionError
        name = file_name("sipas-digest", Period(row.period_start, row.period_end), kind)
        return StoredFile(body, kind == links.CHART, name, "")
    try:
        scope = await access.official_scope(session, official, payload.get("a") or None)
    except access.OutOfScope:
        raise PermissionError from None
    try:
        start, end, period_kind = payload["p"]
        period = Period(date.fromisoformat(start), date.fromisoformat(end), period_kind)
        report = await scope_report(
            session, questionnaires, settings, scope, period, grouping=("agency",)
        )
    except (KeyError, TypeError, ValueError, ReportError):
        raise PermissionError from None
    lang = payload.get("l") if payload.get("l") in LANGUAGES else settings.default_language
    chart, workbook = report_files(report, lang, "sipas", period)
    return workbook if kind == links.WORKBOOK else chart
