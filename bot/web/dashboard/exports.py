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
import csv
import io
from collections.abc import Callable
from functools import partial

from aiohttp import web

from bot.i18n import shipped
from bot.rendering import render
from bot.web.dashboard import pages
from bot.web.dashboard.auth import Deps
from bot.web.dashboard.views import DOSSIER_EXPORTS, gate, not_found, timeliness
from handlers import dashboard
from handlers.dossiers import Timeliness, UnitTimeliness
from handlers.dossiers.timeliness_text import COLUMNS as TIMELINESS_COLUMNS
from handlers.messages import PERCENT, Sheet, WorkbookAttachment
from handlers.officials import access
from handlers.reports import Report, build_report, chart_of, render_csv, workbook_of

FORMATS = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
    "png": "image/png",
}
GROUPING = {"overview": ("agency",), "unit": ("channel",)}


def file_name(view: str, unit: str | None, label: str, extension: str) -> str:
    """sipas-overview-2025-Q3.xlsx, sipas-DNAI-STP-2025-07.csv (ASCII, no path)."""
    what = "".join(c if c.isascii() and (c.isalnum() or c in "-_") else "_" for c in unit or "")
    return f"sipas-{what or view}-{label}.{extension}"


def draw(extension: str, report: Report, lang: str, name: str) -> bytes:
    """The file's bytes, written as `bot report --format <extension>` writes them."""
    if extension == "csv":
        return render_csv(report, lang).encode("utf-8")
    describe: Callable = workbook_of if extension == "xlsx" else chart_of
    return render(describe(report, lang, name))


def timeliness_rows(figures: Timeliness, lang: str) -> tuple[tuple[str, ...], list[list]]:
    """The dossiers page's table: the ranked units, then the total; shares in percent."""
    words = shipped()
    headers = ("#", "code", words(lang, "timeliness_unit"))
    headers += tuple(words(lang, f"timeliness_{key}") for key, _ in TIMELINESS_COLUMNS)

    def cells(unit: UnitTimeliness) -> list:
        share = unit.on_time_share
        return [
            round(100 * share, 2) if field is None and share is not None else
            None if field is None else getattr(unit, field)
            for _, field in TIMELINESS_COLUMNS
        ]  # fmt: skip

    rows = [
        [rank, unit.agency_code, unit.agency_name, *cells(unit)]
        for rank, unit in enumerate(figures.units, start=1)
    ]
    rows.append([None, None, words(lang, "timeliness_total"), *cells(figures.total)])
    return headers, rows


def draw_timeliness(extension: str, figures: Timeliness, lang: str, name: str) -> bytes:
    headers, rows = timeliness_rows(figures, lang)
    if extension == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(headers)
        writer.writerows(["" if cell is None else cell for cell in row] for row in rows)
        return out.getvalue().encode("utf-8")
    sheet = Sheet(
        name=shipped()(lang, "timeliness_share")[:31],
        headers=headers,
        rows=tuple(tuple(row) for row in rows),
        formats=((5, PERCENT),),
    )
    return render(WorkbookAttachment(sheets=(sheet,), file_name=name, fallback=""))


def _period_label(period) -> str:
    return period.label.replace("..", "_")


def _attachment(body: bytes, extension: str, name: str) -> web.Response:
    return web.Response(
        body=body,
        headers={
            **pages.HEADERS,
            "Content-Type": FORMATS[extension],
            "Content-Disposition": f'attachment; filename="{name}"',
        },
    )


def add_routes(app: web.Application, deps: Deps) -> None:
    settings = deps.settings

    async def report_of(session, seen, query) -> Report | None:
        """The report of the overview or the unit, as the page counted it; None for a unit
        outside the scope or unknown alike."""
        code = None
        if query.unit is not None:
            agency = await access.agency_in_scope(session, seen.scope, query.unit)
            if agency is None:
                return None
            code = agency.code
        filters = dashboard.overview_filters(
            seen.scope, query.period, code, questionnaire_id=settings.survey.questionnaire
        )
        return await build_report(
            session, deps.questionnaires, filters, GROUPING[query.view], settings.scoring
        )

    async def export(request: web.Request) -> web.Response:
        extension = request.match_info["extension"]
        async with deps.database.transaction() as session:
            asked = await gate(deps, session, request, page=False)
            if isinstance(asked, web.Response):
                return asked
            seen, query = asked
            allowed = DOSSIER_EXPORTS if query.view == "dossiers" else FORMATS
            if extension not in allowed:
                return not_found(request, query.lang)
            label = _period_label(query.period)
            if query.view == "dossiers":
                figures = await timeliness(deps, session, seen.scope, query.period)
                name = f"sipas-dossiers-{label}.{extension}"
                drawing = partial(draw_timeliness, extension, figures, query.lang, name)
            else:
                report = await report_of(session, seen, query)
                if report is None:
                    return not_found(request, query.lang)
                name = file_name(query.view, query.unit, label, extension)
                drawing = partial(draw, extension, report, query.lang, name)
        return _attachment(await asyncio.to_thread(drawing), extension, name)

    app.router.add_get("/dashboard/export.{extension}", export)
