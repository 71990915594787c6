"""What a page shows of one scored group: SIPAS and the five factors, each with its
interval, change, distance to the target, number of forms and small-sample flag.

Values are the report's own (`scoring` results), unrounded: a page formats them with
`bot.i18n.number` (two decimals), which is also what `bot report --format json` rounds to.
"""

from __future__ import annotations

from dataclasses import dataclass

from handlers.reports import Report, ReportGroup, factor_name
from scoring import Comparison

SIPAS = "SIPAS"


@dataclass(frozen=True)
class Figure:
    """One index: SIPAS (`code` "SIPAS") or a factor ("F1")."""

    code: str
    name: str
    index: float | None
    ci_low: float | None
    ci_high: float | None
    change: float | None  # index − the previous period's index, in points
    to_target: float | None  # index − SCORING_TARGET, in points (negative: below)
    met_target: bool | None
    forms: int  # completed forms that count towards this index
    reliable: bool  # forms >= SCORING_MIN_SAMPLE

    @property
    def small_sample(self) -> bool:
        return not self.reliable


@dataclass(frozen=True)
class Headline:
    """SIPAS and the factors of one group, this period against the previous one."""

    sipas: Figure
    factors: tuple[Figure, ...]
    forms: int
    previous_forms: int
    reliable: bool

    @property
    def small_sample(self) -> bool:
        return not self.reliable


def _figure(code: str, name: str, index, comparison: Comparison, forms: int, minimum: int):
    return Figure(
        code=code,
        name=name,
        index=index.index,
        ci_low=index.ci_low,
        ci_high=index.ci_high,
        change=comparison.change,
        to_target=comparison.to_target,
        met_target=comparison.met_target,
        forms=forms,
        reliable=forms >= minimum,
    )


def headline_of(group: ReportGroup, report: Report, lang: str) -> Headline:
    indices = group.indices
    overall = indices.overall
    factors = tuple(
        _figure(
            factor.factor,
            factor_name(report.questionnaire, factor.factor, lang),
            factor,
            factor.comparison,
            factor.respondents or 0,
            report.min_sample,
        )
        for factor in indices.factors
    )
    return Headline(
        sipas=_figure(
            SIPAS, SIPAS, overall, overall.comparison, indices.respondents, report.min_sample
        ),
        factors=factors,
        forms=indices.respondents,
        previous_forms=group.previous.respondents if group.previous else 0,
        reliable=indices.reliable,
    )
