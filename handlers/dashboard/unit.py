"""One unit's page: its headline, criteria weakest first, trend, channel mix, drop-off by
question and the open suggestions citizens wrote.

Two `build_report` calls (one grouped by channel: its total is the unit's figures, its
groups the channel mix; one grouped by month for the trend) and one query for the
suggestions. The agency must lie in the official's scope; an unknown code gets the very
same OutOfScope, so the answer does not tell which codes exist.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from bot.questionnaire import QuestionKind, Questionnaire
from bot.settings import ScoringSettings
from handlers.dashboard import catalogue as names
from handlers.dashboard import store
from handlers.dashboard.figures import Headline, headline_of
from handlers.dashboard.filters import overview_filters, trend_window
from handlers.dashboard.trend import Trend
from handlers.dashboard.trend import series as trend_series
from handlers.officials.access import OutOfScope, Scope
from handlers.reports import (
    Dropoff,
    Period,
    Report,
    ReportFilters,
    build_report,
    criterion_name,
)
from scoring import weakest_criteria

WEAKEST = 3
SUGGESTIONS = 200  # shown at most; `suggestions_total` says how many there are


@dataclass(frozen=True)
class CriterionRow:
    code: str
    factor: str
    name: str
    index: float | None
    ci_low: float | None
    ci_high: float | None
    valid_n: int
    change: float | None
    to_target: float | None
    weakest: bool  # one of the three weakest (scoring.weakest_criteria)


@dataclass(frozen=True)
class ChannelShare:
    channel: str  # telegram, zalo, paper, web, …
    forms: int
    share: float  # percent of the unit's forms
    index: float | None
    reliable: bool


@dataclass(frozen=True)
class Suggestion:
    """An open answer and the day of its form: nothing else (no id, time, chat)."""

    day: date
    text: str


@dataclass(frozen=True)
class UnitView:
    code: str
    name: str
    level: str
    successor_code: str | None  # set when the unit was merged away: whose figures these are
    members: tuple[str, ...]  # the codes counted (itself and those merged into it)
    period: Period
    previous_period: Period
    lang: str
    target: float
    min_sample: int
    filters: ReportFilters  # == overview_filters(scope, period, code, questionnaire_id=…)
    headline: Headline
    criteria: tuple[CriterionRow, ...]  # weakest first; no index last
    trend: Trend | None  # None when the page asked for none
    channels: tuple[ChannelShare, ...]  # most forms first
    dropoff: Dropoff  # chat sessions only: paper and web forms have no steps
    step_names: Mapping[str, str]  # question id -> its text in `lang`
    suggestions: tuple[Suggestion, ...]  # by day, then text; at most SUGGESTIONS
    suggestions_total: int
    report: Report

    @property
    def trend_filters(self) -> ReportFilters | None:
        return self.trend.filters if self.trend else None

    @property
    def trend_report(self) -> Report | None:
        return self.trend.report if self.trend else None


def criteria_rows(report: Report, lang: str) -> tuple[CriterionRow, ...]:
    total = report.total.indices
    weakest = {c.item_id for c in weakest_criteria(total, WEAKEST)}
    order = sorted(
        total.criteria,
        key=lambda c: (c.index is None, c.index if c.index is not None else 0.0, c.item_id),
    )
    return tuple(
        CriterionRow(
            code=c.item_id,
            factor=c.factor,
            name=criterion_name(report.questionnaire, c.item_id, lang),
            index=c.index,
            ci_low=c.ci_low,
            ci_high=c.ci_high,
            valid_n=c.valid_n,
            change=c.comparison.change,
            to_target=c.comparison.to_target,
            weakest=c.item_id in weakest,
        )
        for c in order
    )


def channel_mix(report: Report) -> tuple[ChannelShare, ...]:
    forms = report.total.indices.respondents
    shares = [
        ChannelShare(
            channel=group.key["channel"],
            forms=group.indices.respondents,
            share=100.0 * group.indices.respondents / forms if forms else 0.0,
            index=group.indices.overall.index,
            reliable=group.indices.reliable,
        )
        for group in report.groups
    ]
    return tuple(sorted(shares, key=lambda share: (-share.forms, share.channel)))


def _counted(catalogue: names.Catalogue, agency: names.Agency, merged: bool) -> list[names.Agency]:
    """The agencies a unit's figures count, as build_report selects them."""
    if not merged:
        return [agency]
    return catalogue.members(catalogue.final(agency))


async def unit(
    session: AsyncSession,
    *,
    scoring: ScoringSettings,
    questionnaires: Mapping[str, Questionnaire],
    questionnaire_id: str,
    scope: Scope,
    agency_code: str,
    period: Period,
    lang: str,
    trend: str | None = "month",
) -> UnitView:
    """The unit page (see the module). OutOfScope(agency_code) when the scope does not
    cover the agency or no agency has that code; ValueError for a trend that is not
    month, quarter or None."""
    if trend is not None:
        trend_window(period, trend)
    catalogue = await names.load(session)
    agency = catalogue.by_code.get(agency_code.strip()) if isinstance(agency_code, str) else None
    if agency is None or not scope.covers(agency.id):
        raise OutOfScope(agency_code)
    filters = overview_filters(scope, period, agency.code, questionnaire_id=questionnaire_id)
    report = await build_report(session, questionnaires, filters, ("channel",), scoring)
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
            agency_code=agency.code,
        )
    counted = _counted(catalogue, agency, filters.merge_successors)
    questionnaire = report.questionnaire
    text_items = tuple(q.id for q in questionnaire.questions if q.kind == QuestionKind.TEXT)
    rows, total = await store.suggestions(
        session,
        store.SuggestionQuery(
            questionnaire.id,
            tuple(sorted(a.id for a in counted)),
            text_items,
            period.start,
            period.end,
        ),
        SUGGESTIONS,
    )
    final = catalogue.final(agency) if filters.merge_successors else agency
    return UnitView(
        code=agency.code,
        name=agency.name,
        level=agency.level,
        successor_code=final.code if final.id != agency.id else None,
        members=tuple(a.code for a in counted),
        period=period,
        previous_period=report.previous_period,
        lang=lang,
        target=report.target,
        min_sample=report.min_sample,
        filters=filters,
        headline=headline_of(report.total, report, lang),
        criteria=criteria_rows(report, lang),
        trend=series,
        channels=channel_mix(report),
        dropoff=report.dropoff,
        step_names={
            q.id: criterion_name(questionnaire, q.id, lang) for q in questionnaire.questions
        },
        suggestions=tuple(
            Suggestion(day, text) for day, text in sorted(rows, key=lambda row: (row[0], row[1]))
        ),
        suggestions_total=total,
        report=report,
    )
