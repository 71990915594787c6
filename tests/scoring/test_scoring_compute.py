"""compute() on small groups whose expected values are worked out by hand."""

import json
import math

import pytest

from scoring import (
    OVERALL,
    Z95,
    Comparison,
    GroupCounts,
    ItemCounts,
    RespondentMoments,
    Rule,
    compute,
    weakest_criteria,
)


def wilson_pct(p: float, n: float) -> tuple[float, float]:
    """Textbook Wilson score interval, in percent (independent of scoring.stats)."""
    z2 = Z95**2
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = Z95 / (1 + z2 / n) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return 100 * (centre - half), 100 * (centre + half)


def group(respondents: int, *items: ItemCounts, moments=None) -> GroupCounts:
    return GroupCounts(respondents, tuple(items), moments or {})


def test_criterion_share_mean_and_interval() -> None:
    item = ItemCounts("q1", "F1", (1, 2, 3, 4, 5), no_opinion=7)
    c = compute(group(15, item), "pooled_share").criterion("q1")
    assert c.valid_n == 1 + 2 + 3 + 4 + 5  # no-opinion answers left out
    assert c.no_opinion == 7
    assert c.satisfied == 4 + 5
    assert c.index == pytest.approx((4 + 5) / 15 * 100)  # 60
    assert c.mean_score == pytest.approx((1 * 1 + 2 * 2 + 3 * 3 + 4 * 4 + 5 * 5) / 15)
    low, high = wilson_pct(9 / 15, 15)
    assert (c.ci_low, c.ci_high) == (pytest.approx(low), pytest.approx(high))


A = ItemCounts("a", "F1", (0, 0, 1, 1, 2))  # 3 of 4 -> 75%
B = ItemCounts("b", "F1", (1, 3, 4, 1, 1))  # 2 of 10 -> 20%
C = ItemCounts("c", "F2", (0, 0, 0, 5, 5))  # 10 of 10 -> 100%
D = ItemCounts("d", "F5", (0, 0, 0, 0, 0), no_opinion=0)  # gated away: nobody answered


def test_factor_mean_of_criteria_differs_from_pooled_share() -> None:
    g = group(12, A, B)
    mean_rule = compute(g, "mean_of_criteria").factor("F1")
    pooled = compute(g, Rule.POOLED_SHARE).factor("F1")
    assert mean_rule.index == pytest.approx((75 + 20) / 2)  # 47.5
    assert pooled.index == pytest.approx((3 + 2) / (4 + 10) * 100)  # 35.71
    assert mean_rule.criteria == pooled.criteria == ("a", "b")


def test_overall_with_f5_missing() -> None:
    g = group(12, A, B, C, D)
    mean_rule = compute(g, "mean_of_criteria")
    assert mean_rule.factor("F5").index is None
    assert mean_rule.overall.index == pytest.approx(((75 + 20) / 2 + 100) / 2)  # 73.75
    assert mean_rule.overall.factors_used == ("F1", "F2")
    assert mean_rule.overall.factors_missing == ("F5",)
    pooled = compute(g, "pooled_share")
    assert pooled.overall.index == pytest.approx((3 + 2 + 10) / (4 + 10 + 10) * 100)  # 62.5
    assert pooled.overall.factors_used == ("F1", "F2")


# Three respondents answer criteria a..d of F1 (None = no opinion):
#   r1: 5 4 4 2  -> y=3, m=4
#   r2: 4 1 2 3  -> y=1, m=4
#   r3: 5 5 - -  -> y=2, m=2
THREE = group(
    3,
    ItemCounts("a", "F1", (0, 0, 0, 1, 2)),  # 5,4,5: 3 of 3
    ItemCounts("b", "F1", (1, 0, 0, 1, 1)),  # 4,1,5: 2 of 3
    ItemCounts("c", "F1", (0, 1, 0, 1, 0), no_opinion=1),  # 4,2: 1 of 2
    ItemCounts("d", "F1", (0, 1, 1, 0, 0), no_opinion=1),  # 2,3: 0 of 2
    moments={
        "F1": RespondentMoments(3, 3 + 1 + 2, 4 + 4 + 2, 9 + 1 + 4, 16 + 16 + 4, 12 + 4 + 4),
        OVERALL: RespondentMoments(3, 6, 10, 14, 36, 20),
    },
)
R = 6 / 10
VAR = 3 / 2 * ((3 - R * 4) ** 2 + (1 - R * 4) ** 2 + (2 - R * 2) ** 2) / 10**2  # 0.0444
DEFF = VAR / (R * (1 - R) / 10)  # 1.85


def test_pooled_interval_uses_respondent_as_unit() -> None:
    f1 = compute(THREE, "pooled_share").factor("F1")
    assert f1.index == pytest.approx(60.0)
    assert f1.design_effect == pytest.approx(1.85)
    low, high = wilson_pct(R, 10 / DEFF)  # 10 answers worth 5.4 independent ones
    assert (f1.ci_low, f1.ci_high) == (pytest.approx(low), pytest.approx(high))
    naive_low, _ = wilson_pct(R, 10)
    assert f1.ci_low < naive_low  # wider than treating answers as independent
    overall = compute(THREE, "pooled_share").overall
    assert (overall.ci_low, overall.ci_high) == (pytest.approx(low), pytest.approx(high))


def test_mean_of_criteria_interval_applies_design_effects() -> None:
    f1 = compute(THREE, "mean_of_criteria").factor("F1")
    point = (100 + 200 / 3 + 50 + 0) / 4
    assert f1.index == pytest.approx(point)
    # answers of criterion j weigh 1/n_j, n = (3, 3, 2, 2): Kish N·Σ(1/n_j) / K²
    deff_w = 10 * (1 / 3 + 1 / 3 + 1 / 2 + 1 / 2) / 4**2
    assert f1.design_effect == pytest.approx(DEFF * deff_w)
    low, high = wilson_pct(point / 100, 10 / (DEFF * deff_w))
    assert (f1.ci_low, f1.ci_high) == (pytest.approx(low), pytest.approx(high))


def test_one_respondent_gets_the_widest_interval() -> None:
    # one person, answers 5 and 2: variance not estimable -> counts as 1 unit
    g = group(
        1,
        ItemCounts("a", "F1", (0, 0, 0, 0, 1)),
        ItemCounts("b", "F1", (0, 1, 0, 0, 0)),
        moments={
            "F1": RespondentMoments(1, 1, 2, 1, 4, 2),
            OVERALL: RespondentMoments(1, 1, 2, 1, 4, 2),
        },
    )
    for rule in Rule:
        f1 = compute(g, rule).factor("F1")
        assert f1.index == pytest.approx(50.0)
        low, high = wilson_pct(0.5, 1)
        assert (f1.ci_low, f1.ci_high) == (pytest.approx(low), pytest.approx(high))


def test_all_satisfied_interval_is_not_degenerate() -> None:
    g = group(
        3,
        ItemCounts("a", "F1", (0, 0, 0, 2, 1)),
        ItemCounts("b", "F1", (0, 0, 0, 0, 3)),
        moments={"F1": RespondentMoments.from_pairs([(2, 2), (2, 2), (2, 2)])},
    )
    f1 = compute(g, "pooled_share").factor("F1")
    assert f1.index == 100.0
    assert f1.ci_high == 100.0
    assert f1.ci_low == pytest.approx(100 * 3 / (3 + Z95**2))  # Wilson at p=1, n_eff = 3
    assert compute(g, "pooled_share").overall.ci_low is None  # no overall moments sent


def test_change_and_target() -> None:
    previous = group(40, ItemCounts("a", "F1", (0, 0, 2, 1, 1)))  # 2 of 4 -> 50%
    current = group(40, A)  # 75%
    r = compute(current, "mean_of_criteria", target=80.0, previous=previous)
    for level in (r.criterion("a"), r.factor("F1"), r.overall):
        assert level.comparison.change == pytest.approx(75 - 50)
        assert level.comparison.to_target == pytest.approx(75 - 80)
        assert level.comparison.met_target is False
    met = compute(current, "mean_of_criteria", target=70.0).overall.comparison
    assert met.to_target == pytest.approx(75 - 70)
    assert met.met_target is True
    assert met.change is None  # no previous period


def test_target_met_exactly_and_change_with_missing_side() -> None:
    four_of_five = group(5, ItemCounts("a", "F1", (1, 0, 0, 2, 2)))  # 80%
    assert compute(four_of_five, "pooled_share").overall.comparison.met_target is True
    empty_previous = group(0, ItemCounts("a", "F1", (0, 0, 0, 0, 0)))
    r = compute(four_of_five, "pooled_share", previous=empty_previous)
    assert r.overall.comparison.change is None
    assert r.criterion("a").comparison.change is None
    back = compute(empty_previous, "pooled_share", previous=four_of_five)
    assert back.overall.comparison == Comparison()  # all None


def test_min_sample_flag() -> None:
    assert compute(group(29, A), "pooled_share").reliable is False
    assert compute(group(30, A), "pooled_share").reliable is True
    assert compute(group(5, A), "pooled_share", min_sample=5).reliable is True
    g = group(40, A, moments={"F1": RespondentMoments.from_pairs([(1, 1)] * 3 + [(0, 1)])})
    assert compute(g, "pooled_share").factor("F1").reliable is False  # 4 < 30 in F1


def test_all_no_opinion_is_missing_not_zero() -> None:
    g = group(6, ItemCounts("a", "F1", (0, 0, 0, 0, 0), no_opinion=6))
    previous = group(6, A)
    for rule in Rule:
        r = compute(g, rule, previous=previous)
        c = r.criterion("a")
        assert (c.index, c.mean_score, c.ci_low, c.ci_high) == (None, None, None, None)
        assert c.no_opinion == 6
        assert r.factor("F1").index is None
        assert r.overall.index is None
        assert r.overall.factors_missing == ("F1",)
        assert r.overall.comparison.to_target is None
        assert r.overall.comparison.change is None


def test_zero_respondents_is_missing() -> None:
    g = group(
        0, ItemCounts("a", "F1", (0,) * 5), moments={OVERALL: RespondentMoments(0, 0, 0, 0, 0, 0)}
    )
    for rule in Rule:
        r = compute(g, rule)
        assert r.reliable is False
        assert r.overall.index is None
        assert r.overall.ci_low is None
        assert r.factor("F1").index is None
    empty = compute(GroupCounts(0, ()), "mean_of_criteria")
    assert empty.overall.index is None
    assert empty.factors == ()


def test_unknown_rule_is_rejected() -> None:
    with pytest.raises(ValueError):
        compute(group(1, A), "median_of_criteria")


def test_bad_counts_are_rejected() -> None:
    with pytest.raises(ValueError):
        ItemCounts("a", "F1", (0, 0, -1, 0, 0))
    with pytest.raises(ValueError):
        ItemCounts("a", "F1", (0, 0, 0, 0))  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        group(1, A, A)


def test_weakest_criteria() -> None:
    r = compute(
        group(
            20,
            ItemCounts("z", "F1", (1, 0, 0, 1, 0)),  # 50%
            ItemCounts("y", "F1", (0, 1, 0, 0, 1)),  # 50%, ties with z -> id order
            B,  # 20%
            C,  # 100%
            D,  # missing: never listed
        ),
        "pooled_share",
    )
    assert [c.item_id for c in weakest_criteria(r, 3)] == ["b", "y", "z"]
    assert [c.item_id for c in weakest_criteria(r, 10)] == ["b", "y", "z", "c"]
    assert [c.item_id for c in weakest_criteria(r.criteria, 2, min_valid=3)] == ["b", "c"]
    assert weakest_criteria(r, 0) == []


def test_to_dict_is_json_ready_and_rounded() -> None:
    d = compute(THREE, "mean_of_criteria", previous=THREE).to_dict()
    text = json.dumps(d)
    assert json.loads(text) == d
    assert d["rule"] == "mean_of_factors"
    assert d["factors"][0]["index"] == round((100 + 200 / 3 + 50 + 0) / 4, 2)  # 54.17
    assert d["criteria"][1]["index"] == 66.67
    assert d["overall"]["change"] == 0.0
    assert d["criteria"][3]["index"] == 0.0  # a real 0%, distinct from missing
