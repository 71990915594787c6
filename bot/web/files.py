"""GET /officials/files/<token>: the chart or workbook behind a signed link.

403 for a token whose signature does not match (or an official no longer entitled),
410 once it has expired; the body says only that, never which agencies exist. What a
link serves, and who may still have it, is the officials' room's (`linked_file`: a
digest's stored files, or the report built again for the scope as it is now); this
route only translates HTTP and draws the file once the read transaction is over.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from datetime import datetime

from aiohttp import web

from bot.clock import utc_now
from bot.database import Database
from bot.i18n import shipped
from bot.questionnaire import Questionnaire
from bot.rendering import render
from bot.settings import Settings
from handlers.officials import linked_file, links

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
    async with database.transaction() as session:
        described = await linked_file(session, settings, questionnaires, payload, kind)
    return await asyncio.to_thread(render, described), described.file_name
