"""Count objects handed over by the database (GROUP BY results).

Scoring never sees individual answers: the database aggregates them, and these frozen
dataclasses are the whole contract between the two sides.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

OVERALL = "overall"
"""Key of ``GroupCounts.moments`` that covers all criteria of the questionnaire."""


def _check_non_negative(owner: str, **values: int) -> None:
    for name, value in values.items():
        if value < 0:
            raise ValueError(f"{owner}.{name} must be >= 0, got {value}")


@dataclass(frozen=True)
class ItemCounts:
    """Answers to one criterion (likert item) within one group.

    ``levels[k - 1]`` is the number of answers at level k (1..5). ``no_opinion`` answers
    are kept for reporting but, as the method says, never enter a denominator.
    """

    item_id: str
    factor: str
    levels: tuple[int, int, int, int, int]
    no_opinion: int = 0

    def __post_init__(self) -> None:
        if len(self.levels) != 5:
            raise ValueError(f"ItemCounts.levels needs 5 counts, got {len(self.levels)}")
        object.__setattr__(self, "levels", tuple(int(c) for c in self.levels))
        _check_non_negative("ItemCounts", no_opinion=self.no_opinion)
        _check_non_negative("ItemCounts", **{f"levels[{i}]": c for i, c in enumerate(self.levels)})

    @property
    def valid(self) -> int:
        """Answers on the 1-5 scale: the denominator of the criterion index."""
        return sum(self.levels)

    @property
    def satisfied(self) -> int:
        """Answers at 4 (Hài lòng) or 5 (Rất hài lòng): the numerator."""
        return self.levels[3] + self.levels[4]

    @property
    def score_sum(self) -> int:
        """Sum of the scores, for the mean score."""
        return sum(level * count for level, count in enumerate(self.levels, start=1))


@dataclass(frozen=True)
class RespondentMoments:
    """Sums over respondents of one scope (a factor, or ``"overall"``).

    For respondent i within the scope, ``y_i`` is the number of their answers at 4-5 and
    ``m_i`` the number of their valid (1-5) answers; only respondents with ``m_i >= 1``
    are counted. These five sums are all that the ratio-estimator (linearisation)
    variance needs, so the respondent can be the sampling unit without exporting rows.
    """

    respondents: int
    sum_y: int
    sum_m: int
    sum_yy: int
    sum_mm: int
    sum_ym: int

    def __post_init__(self) -> None:
        _check_non_negative(
            "RespondentMoments",
            respondents=self.respondents,
            sum_y=self.sum_y,
            sum_m=self.sum_m,
            sum_yy=self.sum_yy,
            sum_mm=self.sum_mm,
            sum_ym=self.sum_ym,
        )
        if self.sum_y > self.sum_m:
            raise ValueError("RespondentMoments.sum_y cannot exceed sum_m")
        if self.sum_m < self.respondents:
            raise ValueError("every counted respondent has >= 1 valid answer: sum_m < respondents")

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[int, int]]) -> RespondentMoments:
        """Build the sums from per-respondent ``(y_i, m_i)``; respondents with m_i = 0 are skipped.

        The database computes the same sums in SQL; this is for tests and small tools.
        """
        kept = [(y, m) for y, m in pairs if m > 0]
        return cls(
            respondents=len(kept),
            sum_y=sum(y for y, _ in kept),
            sum_m=sum(m for _, m in kept),
            sum_yy=sum(y * y for y, _ in kept),
            sum_mm=sum(m * m for _, m in kept),
            sum_ym=sum(y * m for y, m in kept),
        )


@dataclass(frozen=True)
class GroupCounts:
    """Everything needed to score one group (e.g. one agency in one month).

    ``respondents`` counts completed responses only. ``items`` should include a zero row
    for every criterion of the questionnaire, so that a factor nobody answered (F5 behind
    its gate) is reported as missing rather than silently absent.
    """

    respondents: int
    items: tuple[ItemCounts, ...]
    moments: Mapping[str, RespondentMoments] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_non_negative("GroupCounts", respondents=self.respondents)
        items = tuple(self.items)
        ids = [item.item_id for item in items]
        if len(set(ids)) != len(ids):
            raise ValueError("GroupCounts.items has duplicate item_id values")
        object.__setattr__(self, "items", items)
        object.__setattr__(self, "moments", MappingProxyType(dict(self.moments)))

    @property
    def factors(self) -> tuple[str, ...]:
        """Factor ids in order of first appearance among the items."""
        return tuple(dict.fromkeys(item.factor for item in self.items))
