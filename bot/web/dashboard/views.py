"""The dashboard's pages: the overview of the scope, one unit, the dossiers' timeliness.

Each request is one read transaction: who is asking (`auth.viewer`: session, standing
and scope, checked now), then the query (`query.parse_query`), then the figures from the
use cases (`handlers.dashboard`, `handlers.dossiers`); the page is rendered after the
transaction. A unit outside the scope and a unit that does not exist get the same 404
page, byte for byte: the answer does not tell which codes exist.
"""

from __future__ import annotations

from aiohttp import web

from bot.i18n import shipped
from bot.rendering import svg
from bot.web.dashboard import pages
from bot.web.dashboard.auth import Deps, signed_out, viewer
from bot.web.dashboard.query import (
    PageQuery,
    QueryError,
    parse_query,
    period_params,
    plausible_code,
)
from handlers import dashboard
from handlers.dossiers import Timeliness, timeliness_report
from handlers.officials import OutOfScope, Words
from handlers.officials.signin import Viewer
from handlers.reports import MONTH, QUARTER, YEAR, Period

DOSSIER_EXPORTS = ("xlsx", "csv")


async def timeliness(deps: Deps, session, scope, period: Period) -> Timeliness:
    """QĐ 766's figures for the scope's own agencies (each dossier under its agency)."""
    return await timeliness_report(
        session,
        scope.agency_ids,
        period,
        deps.clock(),
        deps.settings.dossier,
        zone=deps.settings.zone,
    )


def bad_query(request: web.Request, lang: str) -> web.Response:
    return pages.message(request, lang, 400, "bad_query")


def not_found(request: web.Request, lang: str) -> web.Response:
    """The one answer for an unknown unit and a unit outside the scope."""
    return pages.message(request, lang, 404, "not_found")


async def gate(
    deps: Deps, session, request: web.Request, *, page: bool
) -> tuple[Viewer, PageQuery] | web.Response:
    """Who asks (checked now) and what, in that order; or the page that refuses."""
    seen = await viewer(deps, session, request)
    if seen is None:
        return signed_out(request)
    try:
        return seen, parse_query(request.query, deps.today(), page=page)
    except QueryError as error:
        return bad_query(request, error.lang)


def quick_periods(query: PageQuery, today) -> list[tuple[str, Period]]:
    """The periods offered as one-click links: this month, last month, quarter, year."""
    month = Period.containing(today, MONTH)
    return [
        ("web_this_month", month),
        ("web_last_month", month.previous()),
        ("web_this_quarter", Period.containing(today, QUARTER)),
        ("web_this_year", Period.containing(today, YEAR)),
    ]


def _common(deps: Deps, query: PageQuery, viewer_scope, words: Words) -> dict:
    today = deps.today()
    return {
        "signed_in": True,
        "query": query,
        "period_text": words.period(query.period),
        "scope_text": words.scope(viewer_scope),
        "quick": [
            (key, query.params(**period_params(period)))
            for key, period in quick_periods(query, today)
        ],
        "exports": ("xlsx", "csv", "png"),
        "exports_note": "web_exports_note",
        "show_trend": True,
    }


def add_routes(app: web.Application, deps: Deps) -> None:
    settings = deps.settings

    async def overview_page(request: web.Request) -> web.Response:
        async with deps.database.transaction() as session:
            asked = await gate(deps, session, request, page=True)
            if isinstance(asked, web.Response):
                return asked
            seen, query = asked
            try:
                data = await dashboard.overview(
                    session,
                    scoring=settings.scoring,
                    questionnaires=deps.questionnaires,
                    questionnaire_id=settings.survey.questionnaire,
                    scope=seen.scope,
                    period=query.period,
                    lang=query.lang,
                    trend=query.trend,
                )
            except OutOfScope:
                return signed_out(request)
        words = Words(shipped(), query.lang)
        ranked = (*data.top, *(row for row in data.bottom if row not in data.top))
        return pages.page(
            request,
            "overview.html",
            query.lang,
            {
                **_common(deps, query, seen.scope, words),
                "active": "overview",
                "data": data,
                "high": dashboard.HIGH,
                "trend_chart": svg.trend_svg(data.trend.points, query.lang),
                "ranking_chart": svg.ranking_svg(ranked, query.lang, data.target)
                if ranked
                else None,
                "export_params": query.params(view="overview"),
            },
            params=query.params(),
        )

    async def unit_page(request: web.Request) -> web.Response:
        code = request.match_info["code"]
        async with deps.database.transaction() as session:
            asked = await gate(deps, session, request, page=True)
            if isinstance(asked, web.Response):
                return asked
            seen, query = asked
            if not plausible_code(code):
                return not_found(request, query.lang)
            try:
                data = await dashboard.unit(
                    session,
                    scoring=settings.scoring,
                    questionnaires=deps.questionnaires,
                    questionnaire_id=settings.survey.questionnaire,
                    scope=seen.scope,
                    agency_code=code,
                    period=query.period,
                    lang=query.lang,
                    trend=query.trend,
                )
            except OutOfScope:
                return not_found(request, query.lang)
        words = Words(shipped(), query.lang)
        return pages.page(
            request,
            "unit.html",
            query.lang,
            {
                **_common(deps, query, seen.scope, words),
                "data": data,
                "trend_chart": svg.trend_svg(data.trend.points, query.lang),
                "export_params": query.params(view="unit", unit=data.code),
            },
            params=query.params(),
        )

    async def dossiers_page(request: web.Request) -> web.Response:
        async with deps.database.transaction() as session:
            asked = await gate(deps, session, request, page=True)
            if isinstance(asked, web.Response):
                return asked
            seen, query = asked
            data = await timeliness(deps, session, seen.scope, query.period)
        words = Words(shipped(), query.lang)
        return pages.page(
            request,
            "dossiers.html",
            query.lang,
            {
                **_common(deps, query, seen.scope, words),
                "active": "dossiers",
                "data": data,
                "exports": DOSSIER_EXPORTS,
                "exports_note": "web_exports_note_dossiers",
                "show_trend": False,
                "export_params": query.params(view="dossiers"),
            },
            params=query.params(),
        )

    app.router.add_get("/dashboard/", overview_page)
    app.router.add_get("/dashboard/dossiers", dossiers_page)
    app.router.add_get("/dashboard/units/{code}", unit_page)
