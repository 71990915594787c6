"""GET /dashboard/export.{xlsx,csv,png}: the figures on screen, as `bot report` writes them.

The query is the page's own plus `view` (overview, unit or dossiers) and, for a unit,
`unit=CODE`. The overview and unit views build the report with the filters the page
used (`handlers.dashboard.overview_filters`) and the grouping the page shows (by agency;
a unit by channel), then write it with the very functions `python -m bot report` uses
(`render_csv`, `workbook_of`, `chart_of`), so a file says what the command says. The
dossiers view writes the timeliness table the page shows. Files are drawn after the read
transaction, in a worker thread (as bot/web/files.py does).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from aiohttp import web

from bot.rendering import render
from bot.web.dashboard import pages
from bot.web.dashboard.auth import Deps, signed_out, viewer
from bot.web.dashboard.query import QueryError, parse_query
from bot.web.dashboard.views import bad_query, not_found
from handlers import dashboard
from handlers.officials import OutOfScope, access
from handlers.reports import Report, build_report, chart_of, render_csv, workbook_of

FORMATS = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
    "png": "image/png",
}
GROUPING = {"overview": ("agency",), "unit": ("channel",)}


def file_name(view: str, unit: str | None, report: Report, extension: str) -> str:
    """sipas-overview-2025-Q3.xlsx, sipas-DNAI-STP-2025-07.csv (ASCII, no path)."""
    label = report.filters.period.label.replace("..", "_")
    what = "".join(c if c.isascii() and (c.isalnum() or c in "-_") else "_" for c in unit or "")
    return f"sipas-{what or view}-{label}.{extension}"


def draw(extension: str, report: Report, lang: str, name: str) -> bytes:
    """The file's bytes, written as `bot report --format <extension>` writes them."""
    if extension == "csv":
        return render_csv(report, lang).encode("utf-8")
    describe: Callable = workbook_of if extension == "xlsx" else chart_of
    return render(describe(report, lang, name))


def add_routes(app: web.Application, deps: Deps) -> None:
    settings = deps.settings

    async def export(request: web.Request) -> web.Response:
        extension = request.match_info["extension"]
        async with deps.database.transaction() as session:
            seen = await viewer(deps, session, request)
            if seen is None:
                return signed_out(request)
            try:
                query = parse_query(request.query, deps.today())
            except QueryError as error:
                return bad_query(request, error.lang)
            if extension not in FORMATS:
                return not_found(request, query.lang)
            if query.view not in GROUPING:
                return bad_query(request, query.lang)
            code = None
            if query.unit is not None:
                agency = await access.agency_in_scope(session, seen.scope, query.unit)
                if agency is None:
                    return not_found(request, query.lang)
                code = agency.code
            try:
                filters = dashboard.overview_filters(
                    seen.scope,
                    query.period,
                    code,
                    questionnaire_id=settings.survey.questionnaire,
                )
            except OutOfScope:
                return signed_out(request)
            report = await build_report(
                session, deps.questionnaires, filters, GROUPING[query.view], settings.scoring
            )
        name = file_name(query.view, code, report, extension)
        body = await asyncio.to_thread(draw, extension, report, query.lang, name)
        return web.Response(
            body=body,
            headers={
                **pages.HEADERS,
                "Content-Type": FORMATS[extension],
                "Content-Disposition": f'attachment; filename="{name}"',
            },
        )

    app.router.add_get("/dashboard/export.{extension}", export)
