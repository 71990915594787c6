"""SIPAS scoring: pure functions from database counts to indices, intervals, comparisons."""

from scoring.counts import OVERALL, GroupCounts, ItemCounts, RespondentMoments
from scoring.digest import weakest_criteria
from scoring.indices import (
    Comparison,
    CriterionIndex,
    FactorIndex,
    GroupIndices,
    OverallIndex,
    Rule,
    aggregate_interval,
    compute,
    criterion_index,
)
from scoring.stats import (
    Z95,
    clustering_deff,
    design_effect,
    ratio_variance,
    weighting_deff,
    wilson_interval,
)

__all__ = [
    "OVERALL",
    "Z95",
    "Comparison",
    "CriterionIndex",
    "FactorIndex",
    "GroupCounts",
    "GroupIndices",
    "ItemCounts",
    "OverallIndex",
    "RespondentMoments",
    "Rule",
    "aggregate_interval",
    "clustering_deff",
    "compute",
    "criterion_index",
    "design_effect",
    "ratio_variance",
    "weighting_deff",
    "weakest_criteria",
    "wilson_interval",
]
