"""Counts in, indices out: criterion, factor and overall SIPAS indices for one group.

Indices are percentages (0-100). Anything that cannot be computed from the counts
(no valid answers, no respondents, variance not estimable) is None, never 0 or 100.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from scoring.counts import OVERALL, GroupCounts, ItemCounts
from scoring.stats import clustering_deff, weighting_deff, wilson_interval

TARGET_TOLERANCE = 1e-9
"""Points of slack when testing index >= target, so 79.99999999999999 meets 80."""


class Rule(StrEnum):
    """How criteria are aggregated; the questionnaire file chooses, since the official
    rule after 2022 is uncertain (published SIPAS differs from the mean of its factors).

    MEAN_OF_FACTORS
        factor  = (1/K) Σ_j p_j  over the K criteria of the factor with valid answers
        overall = (1/F) Σ_f P_f  over the F factors with a (non-missing) index
    POOLED_SHARE
        factor  = Σ_j s_j / Σ_j n_j  over the criteria of the factor
        overall = Σ_j s_j / Σ_j n_j  over all criteria
    where s_j = answers at 4-5 and n_j = valid answers (1-5) of criterion j, and
    p_j = 100 · s_j / n_j.
    """

    MEAN_OF_FACTORS = "mean_of_factors"
    POOLED_SHARE = "pooled_share"

    @classmethod
    def _missing_(cls, value: object) -> Rule | None:
        # The first name of the rule, still accepted in files and calls written before.
        return cls.MEAN_OF_FACTORS if value == "mean_of_criteria" else None


def _pct(x: float | None, digits: int = 2) -> float | None:
    return None if x is None else round(x, digits)


@dataclass(frozen=True)
class Comparison:
    """Change against the previous period and distance to the target, in points."""

    change: float | None = None
    """index − previous index; None when either is missing."""
    to_target: float | None = None
    """index − target; negative means below target. None when the index is missing."""
    met_target: bool | None = None
    """index >= target (within TARGET_TOLERANCE); None when the index is missing."""

    @classmethod
    def of(cls, index: float | None, previous: float | None, target: float) -> Comparison:
        if index is None:
            return cls()
        change = None if previous is None else index - previous
        return cls(change, index - target, index >= target - TARGET_TOLERANCE)

    def to_dict(self) -> dict[str, Any]:
        return {
            "change": _pct(self.change),
            "to_target": _pct(self.to_target),
            "met_target": self.met_target,
        }


@dataclass(frozen=True)
class CriterionIndex:
    """One criterion: share of 4-5 among valid answers, with a plain Wilson interval
    (each respondent gives at most one answer to a criterion, so answers are independent).
    """

    item_id: str
    factor: str
    valid_n: int
    satisfied: int
    no_opinion: int
    index: float | None
    mean_score: float | None
    ci_low: float | None
    ci_high: float | None
    comparison: Comparison = Comparison()

    def to_dict(self) -> dict[str, Any]:
        return {
            "item_id": self.item_id,
            "factor": self.factor,
            "valid_n": self.valid_n,
            "satisfied": self.satisfied,
            "no_opinion": self.no_opinion,
            "index": _pct(self.index),
            "mean_score": _pct(self.mean_score),
            "ci_low": _pct(self.ci_low),
            "ci_high": _pct(self.ci_high),
            **self.comparison.to_dict(),
        }


@dataclass(frozen=True)
class FactorIndex:
    """One factor under the chosen rule.

    ``criteria`` lists the criteria that had valid answers and so entered the index.
    ``respondents`` comes from the factor's moments (None if the database sent none);
    ``reliable`` is respondents >= min_sample. ``design_effect`` is the total used for
    the interval (see ``aggregate_interval``).
    """

    factor: str
    index: float | None
    mean_score: float | None
    ci_low: float | None
    ci_high: float | None
    valid_n: int
    respondents: int | None
    reliable: bool
    criteria: tuple[str, ...]
    design_effect: float | None
    comparison: Comparison = Comparison()

    def to_dict(self) -> dict[str, Any]:
        return {
            "factor": self.factor,
            "index": _pct(self.index),
            "mean_score": _pct(self.mean_score),
            "ci_low": _pct(self.ci_low),
            "ci_high": _pct(self.ci_high),
            "valid_n": self.valid_n,
            "respondents": self.respondents,
            "reliable": self.reliable,
            "criteria": list(self.criteria),
            "design_effect": _pct(self.design_effect, 3),
            **self.comparison.to_dict(),
        }


@dataclass(frozen=True)
class OverallIndex:
    """The SIPAS figure under the chosen rule.

    ``factors_used`` are the factors that entered it (under mean_of_factors, those with
    an index; F5 sits behind a gate and is often missing). ``factors_missing`` are the
    factors present in the counts but without any valid answer.
    """

    index: float | None
    mean_score: float | None
    ci_low: float | None
    ci_high: float | None
    valid_n: int
    factors_used: tuple[str, ...]
    factors_missing: tuple[str, ...]
    design_effect: float | None
    comparison: Comparison = Comparison()

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": _pct(self.index),
            "mean_score": _pct(self.mean_score),
            "ci_low": _pct(self.ci_low),
            "ci_high": _pct(self.ci_high),
            "valid_n": self.valid_n,
            "factors_used": list(self.factors_used),
            "factors_missing": list(self.factors_missing),
            "design_effect": _pct(self.design_effect, 3),
            **self.comparison.to_dict(),
        }


@dataclass(frozen=True)
class GroupIndices:
    """All indices of one group; ``reliable`` is respondents >= min_sample."""

    rule: Rule
    target: float
    min_sample: int
    respondents: int
    reliable: bool
    overall: OverallIndex
    factors: tuple[FactorIndex, ...]
    criteria: tuple[CriterionIndex, ...]

    def factor(self, factor_id: str) -> FactorIndex:
        """The factor with this id (KeyError if the counts had no such factor)."""
        for f in self.factors:
            if f.factor == factor_id:
                return f
        raise KeyError(factor_id)

    def criterion(self, item_id: str) -> CriterionIndex:
        """The criterion with this id (KeyError if the counts had no such item)."""
        for c in self.criteria:
            if c.item_id == item_id:
                return c
        raise KeyError(item_id)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; percentages and mean scores rounded to 2 decimals, deff to 3."""
        return {
            "rule": self.rule.value,
            "target": self.target,
            "min_sample": self.min_sample,
            "respondents": self.respondents,
            "reliable": self.reliable,
            "overall": self.overall.to_dict(),
            "factors": [f.to_dict() for f in self.factors],
            "criteria": [c.to_dict() for c in self.criteria],
        }


def criterion_index(item: ItemCounts) -> CriterionIndex:
    """Criterion index = 100 · (n4 + n5) / (n1 + … + n5); mean score = Σ k·n_k / Σ n_k.

    No-opinion answers are reported but excluded; with no valid answer all values are None.
    """
    n = item.valid
    if n == 0:
        return CriterionIndex(
            item.item_id, item.factor, 0, 0, item.no_opinion, None, None, None, None
        )
    interval = wilson_interval(item.satisfied / n, n)
    assert interval is not None  # n > 0
    return CriterionIndex(
        item_id=item.item_id,
        factor=item.factor,
        valid_n=n,
        satisfied=item.satisfied,
        no_opinion=item.no_opinion,
        index=100 * item.satisfied / n,
        mean_score=item.score_sum / n,
        ci_low=100 * interval[0],
        ci_high=100 * interval[1],
    )


def aggregate_interval(
    index: float, valid_n: int, cluster_deff: float | None, weight_deff: float = 1.0
) -> tuple[float | None, float | None, float | None]:
    """Respondent-unit 95% interval for a factor or overall index, in percent.

    Wilson interval at the effective sample size

        n_eff = N / (deff_c · deff_w)

    N      = valid answers in the scope;
    deff_c = clustering design effect from the respondent moments, i.e. the ratio
             linearisation var(R) ≈ n/(n−1) · Σ(y_i − R m_i)² / (Σm_i)² divided by
             R(1−R)/Σm (see ``scoring.stats.clustering_deff`` for floor and fallback);
    deff_w = Kish unequal-weighting effect, 1 for pooled_share; for mean_of_factors,
             which weights each answer of criterion j by 1/n_j (and by 1/K_f, 1/F),
             deff_w = N · Σ n_j w_j² / (Σ n_j w_j)².

    For pooled_share this is the linearised ratio variance expressed as a Wilson
    interval (deff-adjusted Wilson, Dean & Pagano 2015) so it stays inside [0, 100] and
    keeps a width at 0% or 100%. For mean_of_factors the exact linearisation would
    need per-criterion cross-moments by respondent, which the counts do not carry;
    deff_c · deff_w (Kish's product approximation) is applied to the mean-of-criteria
    point instead. Returns (low, high, deff_c · deff_w), all None if deff_c is None.
    """
    if cluster_deff is None or valid_n == 0:
        return None, None, None
    deff = cluster_deff * weight_deff
    interval = wilson_interval(min(max(index / 100, 0.0), 1.0), valid_n / deff)
    if interval is None:
        return None, None, None
    return 100 * interval[0], 100 * interval[1], deff


def _mean(values: list[float]) -> float:
    return math.fsum(values) / len(values)


def _pooled(items: list[ItemCounts]) -> tuple[float | None, float | None, int]:
    n = sum(i.valid for i in items)
    if n == 0:
        return None, None, 0
    return 100 * sum(i.satisfied for i in items) / n, sum(i.score_sum for i in items) / n, n


def _factor_index(
    factor: str,
    items: list[ItemCounts],
    criteria: list[CriterionIndex],
    group: GroupCounts,
    rule: Rule,
    min_sample: int,
) -> FactorIndex:
    used = [c for c in criteria if c.index is not None]
    moments = group.moments.get(factor)
    respondents = None if moments is None else moments.respondents
    reliable = respondents is not None and respondents >= min_sample
    valid_n = sum(c.valid_n for c in used)
    if not used:
        return FactorIndex(factor, None, None, None, None, 0, respondents, reliable, (), None)
    if rule is Rule.MEAN_OF_FACTORS:
        index = _mean([c.index for c in used if c.index is not None])
        mean_score = _mean([c.mean_score for c in used if c.mean_score is not None])
        w_deff = weighting_deff((c.valid_n, 1 / c.valid_n) for c in used)
    else:
        pooled, mean_score, _ = _pooled(items)
        assert pooled is not None  # some criterion has valid answers
        index, w_deff = pooled, 1.0
    low, high, deff = aggregate_interval(index, valid_n, clustering_deff(moments), w_deff)
    return FactorIndex(
        factor=factor,
        index=index,
        mean_score=mean_score,
        ci_low=low,
        ci_high=high,
        valid_n=valid_n,
        respondents=respondents,
        reliable=reliable,
        criteria=tuple(c.item_id for c in used),
        design_effect=deff,
    )


def _overall_index(
    group: GroupCounts,
    factors: list[FactorIndex],
    criteria: list[CriterionIndex],
    rule: Rule,
) -> OverallIndex:
    used = [f for f in factors if f.index is not None]
    used_ids = tuple(f.factor for f in used)
    missing = tuple(f.factor for f in factors if f.index is None)
    cluster = clustering_deff(group.moments.get(OVERALL))
    if not used:
        return OverallIndex(None, None, None, None, 0, (), missing, None)
    valid_n = sum(f.valid_n for f in used)
    if rule is Rule.MEAN_OF_FACTORS:
        index = _mean([f.index for f in used if f.index is not None])
        mean_score = _mean([f.mean_score for f in used if f.mean_score is not None])
        # answer to criterion j of factor f weighs 1 / (F · K_f · n_j)
        by_id = {c.item_id: c for c in criteria}
        w_deff = weighting_deff(
            (by_id[j].valid_n, 1 / (len(used) * len(f.criteria) * by_id[j].valid_n))
            for f in used
            for j in f.criteria
        )
    else:
        pooled, mean_score, _ = _pooled(list(group.items))
        assert pooled is not None  # some factor has valid answers
        index, w_deff = pooled, 1.0
    low, high, deff = aggregate_interval(index, valid_n, cluster, w_deff)
    return OverallIndex(index, mean_score, low, high, valid_n, used_ids, missing, deff)


def _score(
    group: GroupCounts, rule: Rule, min_sample: int
) -> tuple[OverallIndex, list[FactorIndex], list[CriterionIndex]]:
    criteria = [criterion_index(item) for item in group.items]
    factors = []
    for factor in group.factors:
        members = [k for k, item in enumerate(group.items) if item.factor == factor]
        factors.append(
            _factor_index(
                factor,
                [group.items[k] for k in members],
                [criteria[k] for k in members],
                group,
                rule,
                min_sample,
            )
        )
    return _overall_index(group, factors, criteria, rule), factors, criteria


def compute(
    group: GroupCounts,
    rule: Rule | str,
    target: float = 80.0,
    min_sample: int = 30,
    previous: GroupCounts | None = None,
) -> GroupIndices:
    """Score a group: criterion, factor and overall indices with 95% intervals.

    ``rule`` is "mean_of_factors" (alias "mean_of_criteria") or "pooled_share" (see ``Rule``).
    ``previous`` is the same group in the previous period, scored with the same rule;
    changes are matched by item id, factor id and overall. ``target`` (points) gives
    ``to_target`` = index − target and ``met_target`` at every level.
    ``reliable`` = group.respondents >= min_sample.
    """
    rule = Rule(rule)
    overall, factors, criteria = _score(group, rule, min_sample)
    if previous is None:
        p_overall, p_factors, p_criteria = None, {}, {}
    else:
        po, pf, pc = _score(previous, rule, min_sample)
        p_overall = po.index
        p_factors = {f.factor: f.index for f in pf}
        p_criteria = {c.item_id: c.index for c in pc}
    return GroupIndices(
        rule=rule,
        target=target,
        min_sample=min_sample,
        respondents=group.respondents,
        reliable=group.respondents >= min_sample,
        overall=replace(overall, comparison=Comparison.of(overall.index, p_overall, target)),
        factors=tuple(
            replace(f, comparison=Comparison.of(f.index, p_factors.get(f.factor), target))
            for f in factors
        ),
        criteria=tuple(
            replace(c, comparison=Comparison.of(c.index, p_criteria.get(c.item_id), target))
            for c in criteria
        ),
    )
