"""The overview of a scope for a period: headline, blocks of ranked units, top and
bottom five, units at 90 or above, and the trend.

Two `build_report` calls, whatever the number of units: one grouped by agency (its
total is the headline, its groups the units) and one grouped by month over the trend's
window (`trend.series`). Units of the scope without a form in the period are listed
too (no index, not ranked), so a silent unit shows as silent rather than missing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from bot.questionnaire import Questionnaire
from bot.settings import ScoringSettings
from handlers.dashboard import catalogue as names
from handlers.dashboard.figures import Headline, headline_of
from handlers.dashboard.filters import is_province, overview_filters, trend_window
from handlers.dashboard.ranking import (
    Block,
    UnitRow,
    blocks_of,
    ranked,
    top_and_bottom,
)
from handlers.dashboard.trend import Trend
from handlers.dashboard.trend import series as trend_series
from handlers.officials.access import Scope
from handlers.reports import Period, Report, ReportFilters, ReportGroup, build_report


@dataclass(frozen=True)
class Overview:
    """Everything the overview page shows; `report` is the report the figures come from
    (for exports: `handlers.reports.to_json`, CSV, workbook). `trend` is None when the
    page asked for none (it can fetch it apart: `dashboard.trend_series`)."""

    questionnaire_id: str
    scope: Scope
    period: Period
    previous_period: Period
    lang: str
    target: float
    min_sample: int
    filters: ReportFilters  # == overview_filters(scope, period, questionnaire_id=…)
    headline: Headline
    blocks: tuple[Block, ...]
    top: tuple[UnitRow, ...]  # across blocks, best first (their `rank`: across blocks)
    bottom: tuple[UnitRow, ...]  # across blocks, worst first
    at_or_above_high: int  # ranked units with SIPAS >= 90, across blocks
    units: int  # units listed, with or without forms
    ranked_units: int
    trend: Trend | None
    report: Report

    @property
    def trend_filters(self) -> ReportFilters | None:
        return self.trend.filters if self.trend else None

    @property
    def trend_report(self) -> Report | None:
        return self.trend.report if self.trend else None


def unit_row(group: ReportGroup | None, agency: names.Agency, members: list[str]) -> UnitRow:
    """A unit's row from its report group (None: no form in the period)."""
    if group is None:
        return UnitRow(
            agency.code, agency.name, agency.level, None, None, None, None, None, None, 0, 0,
            False, (), tuple(members),
        )  # fmt: skip
    indices = group.indices
    overall = indices.overall
    return UnitRow(
        code=agency.code,
        name=agency.name,
        level=agency.level,
        index=overall.index,
        ci_low=overall.ci_low,
        ci_high=overall.ci_high,
        change=overall.comparison.change,
        to_target=overall.comparison.to_target,
        met_target=overall.comparison.met_target,
        forms=indices.respondents,
        previous_forms=group.previous.respondents if group.previous else 0,
        reliable=indices.reliable,
        factors=tuple((factor.factor, factor.index) for factor in indices.factors),
        members=tuple(members),
    )


def _units(report: Report, scope: Scope, catalogue: names.Catalogue) -> list[UnitRow]:
    by_code = {group.key["agency"]: group for group in report.groups}
    merged = report.filters.merge_successors
    if is_province(scope):
        listed = list(catalogue.by_id.values())
    else:
        listed = [catalogue.by_code[code] for code in scope.codes if code in catalogue.by_code]
    if merged:
        listed = catalogue.standing(listed)
    rows = []
    for agency in listed:
        members = [a.code for a in catalogue.members(agency)] if merged else [agency.code]
        rows.append(unit_row(by_code.pop(agency.code, None), agency, members))
    return rows


async def overview(
    session: AsyncSession,
    *,
    scoring: ScoringSettings,
    questionnaires: Mapping[str, Questionnaire],
    questionnaire_id: str,
    scope: Scope,
    period: Period,
    lang: str,
    trend: str | None = "month",
) -> Overview:
    """The overview (see the module). ValueError for a trend that is not month, quarter
    or None (no trend); `handlers.reports.ReportError` for an unknown questionnaire;
    OutOfScope(None) for an agency scope without agencies."""
    if trend is not None:
        trend_window(period, trend)  # refuse a wrong trend before reading anything
    filters = overview_filters(scope, period, questionnaire_id=questionnaire_id)
    catalogue = await names.load(session)
    report = await build_report(session, questionnaires, filters, ("agency",), scoring)
    series = None
    if trend is not None:
        series = await trend_series(
            session,
            scoring=scoring,
            questionnaires=questionnaires,
            questionnaire_id=questionnaire_id,
            scope=scope,
            period=period,
            trend=trend,
        )
    units = _units(report, scope, catalogue)
    blocks = blocks_of(units, lang)
    every = ranked(units)  # ranks across blocks, for the scope's own top and bottom
    top, bottom = top_and_bottom(every)
    return Overview(
        questionnaire_id=questionnaire_id,
        scope=scope,
        period=period,
        previous_period=report.previous_period,
        lang=lang,
        target=report.target,
        min_sample=report.min_sample,
        filters=filters,
        headline=headline_of(report.total, report, lang),
        blocks=blocks,
        top=top,
        bottom=bottom,
        at_or_above_high=sum(block.at_or_above_high for block in blocks),
        units=len(units),
        ranked_units=sum(1 for unit in every if unit.ranked),
        trend=series,
        report=report,
    )
