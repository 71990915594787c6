"""The trend: SIPAS by month or quarter, from one report grouped by month.

The report counts neither the previous period nor the drop-off (`compare=False`,
`funnel=False`): a series needs only each month's indices, and a year of rollups is the
dearest read of a page. `series` is also callable on its own, so a page can draw its
trend chart from a request of its own.

A quarter's counts are the sum of its months' counts (every count is additive, as
`build_report` itself adds the rollups), scored with the report's rule, target and
minimum sample: the same figure `bot report --quarter` gives for a whole quarter.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from bot.questionnaire import Questionnaire
from bot.settings import ScoringSettings
from handlers.dashboard.filters import QUARTER, overview_filters, trend_slots, trend_window
from handlers.officials.access import Scope
from handlers.reports import Period, Report, ReportFilters, build_report
from scoring import GroupCounts, ItemCounts, RespondentMoments, compute


@dataclass(frozen=True)
class TrendPoint:
    """One month or quarter: `label` 2025-07 or 2025-Q3; `start`..`end` the days counted
    (the last point may stop before its month or quarter ends, with the period)."""

    label: str
    start: date
    end: date
    index: float | None
    ci_low: float | None
    ci_high: float | None
    forms: int
    reliable: bool

    @property
    def small_sample(self) -> bool:
        return not self.reliable


@dataclass(frozen=True)
class Trend:
    kind: str  # month or quarter
    window: Period  # the days the trend covers
    filters: ReportFilters  # what `bot report --group-by month` is given for the same
    points: tuple[TrendPoint, ...]
    # the report grouped by month the points come from (for exports)
    report: Report = field(compare=False, repr=False)


def add_counts(parts: Iterable[GroupCounts]) -> GroupCounts | None:
    """The counts of several groups together; None for none."""
    parts = list(parts)
    if not parts:
        return None
    items: dict[str, list[int]] = {}
    factors: dict[str, str] = {}
    moments: dict[str, list[int]] = {}
    for part in parts:
        for item in part.items:
            factors.setdefault(item.item_id, item.factor)
            sums = items.setdefault(item.item_id, [0] * 6)
            for position, value in enumerate((*item.levels, item.no_opinion)):
                sums[position] += value
        for scope, moment in part.moments.items():
            sums = moments.setdefault(scope, [0] * 6)
            values = (
                moment.respondents,
                moment.sum_y,
                moment.sum_m,
                moment.sum_yy,
                moment.sum_mm,
                moment.sum_ym,
            )
            for position, value in enumerate(values):
                sums[position] += value
    return GroupCounts(
        sum(part.respondents for part in parts),
        tuple(
            ItemCounts(item_id, factors[item_id], tuple(sums[:5]), sums[5])
            for item_id, sums in items.items()
        ),
        {scope: RespondentMoments(*sums) for scope, sums in moments.items()},
    )


def trend_of(report: Report, kind: str) -> Trend:
    """The points of a report grouped by month over `trend_window` (empty slots included:
    a month without forms is a gap, not a zero)."""
    window = report.filters.period
    by_month = {group.key["month"]: group for group in report.groups}
    points = []
    for slot in trend_slots(window, kind):
        whole = Period.containing(slot.start, kind)
        months = [
            f"{month.start.year:04d}-{month.start.month:02d}"
            for month in trend_slots(Period(slot.start, slot.end), "month")
        ]
        groups = [by_month[month] for month in months if month in by_month]
        if kind == QUARTER and groups:
            counts = add_counts(group.counts for group in groups)
            assert counts is not None
            indices = compute(counts, report.rule, report.target, report.min_sample)
        elif groups:
            indices = groups[0].indices
        else:
            indices = None
        overall = indices.overall if indices else None
        points.append(
            TrendPoint(
                label=whole.label,
                start=slot.start,
                end=slot.end,
                index=overall.index if overall else None,
                ci_low=overall.ci_low if overall else None,
                ci_high=overall.ci_high if overall else None,
                forms=indices.respondents if indices else 0,
                reliable=indices.reliable if indices else False,
            )
        )
    return Trend(kind, window, report.filters, tuple(points), report)


async def series(
    session: AsyncSession,
    *,
    scoring: ScoringSettings,
    questionnaires: Mapping[str, Questionnaire],
    questionnaire_id: str,
    scope: Scope,
    period: Period,
    trend: str = "month",
    agency_code: str | None = None,
) -> Trend:
    """The trend of the overview (no `agency_code`) or of a unit page, for `period`.

    The caller has checked that the scope covers `agency_code` (as `dashboard.unit` does);
    ValueError for a trend that is not month or quarter."""
    window = trend_window(period, trend)
    filters = overview_filters(scope, window, agency_code, questionnaire_id=questionnaire_id)
    report = await build_report(
        session, questionnaires, filters, ("month",), scoring, compare=False, funnel=False
    )
    return trend_of(report, trend)
