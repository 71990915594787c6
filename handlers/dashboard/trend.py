"""The trend: SIPAS by month or quarter, from one report grouped by month.

A quarter's counts are the sum of its months' counts (every count is additive, as
`build_report` itself adds the rollups), scored with the report's rule, target and
minimum sample: the same figure `bot report --quarter` gives for a whole quarter.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from handlers.dashboard.filters import QUARTER, trend_slots
from handlers.reports import Period, Report
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
    window: Period  # the days the trend covers (its filters: `Overview.trend_filters`)
    points: tuple[TrendPoint, ...]


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
    return Trend(kind, window, tuple(points))
