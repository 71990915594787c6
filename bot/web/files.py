"""GET /officials/files/<token>: the chart or workbook behind a signed link.

403 for a token whose signature does not match (or an official no longer entitled),
410 once it has expired; the body says only that, never which agencies exist. A
digest's link serves the files stored with that digest; an export link builds the
report again, for the official's scope as it is at download time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from datetime import date, datetime

from aiohttp import web

from bot.clock import utc_now
from bot.database import Database
from bot.i18n import shipped
from bot.models import Official, OfficialDigest
from bot.questionnaire import Questionnaire
from bot.rendering import render
from bot.settings import Settings
from handlers.officials import access, content, links
from handlers.reports.build import ReportError
from handlers.reports.periods import Period

log = logging.getLogger(__name__)


def _refused(status: int, text: str) -> web.Response:
    return web.Response(status=status, text=text, headers={"Cache-Control": "no-store"})


def add_official_routes(
    app: web.Application,
    database: Database,
    settings: Settings,
    questionnaires: Mapping[str, Questionnaire],
    clock: Callable[[], datetime] = utc_now,
) -> None:
    secret = links.secret_of(settings)

    def refused(status: int, key: str) -> web.Response:
        # Whoever opens the link is not known yet: the installation's language.
        return _refused(status, shipped()(settings.default_language, key))

    async def download(request: web.Request) -> web.Response:
        if secret is None:
            return _refused(404, "not found")
        try:
            payload = links.verify(secret, request.match_info["token"], clock())
        except links.LinkError as error:
            if error.reason == "expired":
                return refused(410, "official_link_expired")
            return refused(403, "official_link_invalid")
        kind = payload.get("k")
        if kind not in links.MEDIA_TYPES:
            return refused(403, "official_link_invalid")
        try:
            body, name = await _file(database, settings, questionnaires, payload, kind)
        except PermissionError:
            return refused(403, "official_link_revoked")
        return web.Response(
            body=body,
            content_type=links.MEDIA_TYPES[kind],
            headers={
                "Content-Disposition": f'attachment; filename="{name}"',
                "Cache-Control": "no-store",
            },
        )

    app.router.add_get(links.PATH + "/{token}", download)


async def _file(database, settings, questionnaires, payload, kind) -> tuple[bytes, str]:
    """The bytes to serve; PermissionError when the official or the file is out of reach."""
    extension = kind
    async with database.transaction() as session:
        official = await session.get(Official, payload.get("o"))
        if official is None or official.revoked_at is not None or official.registered_at is None:
            raise PermissionError
        if "d" in payload:
            row = await session.get(OfficialDigest, payload["d"])
            if row is None or row.official_id != official.id:
                raise PermissionError
            body = row.workbook if kind == links.WORKBOOK else row.chart
            if body is None:
                raise PermissionError
            period = Period(row.period_start, row.period_end)
            return body, content.file_name("sipas-digest", period, extension)
        scope = await access.scope_of(session, official.agency_id)
        if payload.get("a"):
            agency = await access.agency_in_scope(session, scope, payload["a"])
            if agency is None:
                raise PermissionError
            scope = await access.scope_of(session, agency.id)
        try:
            start, end, period_kind = payload["p"]
            period = Period(date.fromisoformat(start), date.fromisoformat(end), period_kind)
            report = await content.scope_report(
                session, questionnaires, settings, scope, period, grouping=("agency",)
            )
        except (KeyError, TypeError, ValueError, ReportError):
            raise PermissionError from None
    lang = payload.get("l") if payload.get("l") in ("vi", "en") else settings.default_language
    chart, workbook = content.report_files(report, lang, "sipas", period)
    described = workbook if kind == links.WORKBOOK else chart
    return await asyncio.to_thread(render, described), described.file_name
