"""Interval maths checked against hand arithmetic and published values."""

import math

import pytest

from scoring import (
    Z95,
    RespondentMoments,
    clustering_deff,
    design_effect,
    ratio_variance,
    weighting_deff,
    wilson_interval,
)


def test_wilson_matches_textbook_formula() -> None:
    # 8 satisfied out of 10: p = 0.8, n = 10
    p, n, z = 0.8, 10, Z95
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z / (1 + z**2 / n) * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    low, high = wilson_interval(8 / 10, 10)
    assert low == pytest.approx(centre - half, abs=1e-12)
    assert high == pytest.approx(centre + half, abs=1e-12)


@pytest.mark.parametrize(
    ("successes", "n", "low", "high"),
    [  # Newcombe (1998), Stat Med 17:857, Table I, method 3 (Wilson score)
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ],
)
def test_wilson_matches_published_values(successes: int, n: int, low: float, high: float) -> None:
    got = wilson_interval(successes / n, n)
    assert got == pytest.approx((low, high), abs=5e-5)


def test_wilson_at_the_edges_keeps_a_width_and_contains_the_share() -> None:
    # at p = 1 the lower bound is n / (n + z²)
    low, high = wilson_interval(1.0, 5)
    assert low == pytest.approx(5 / (5 + Z95**2))
    assert high == 1.0
    assert wilson_interval(0.5, 0) is None


# three respondents, raw (y_i, m_i) = (answers at 4-5, valid answers)
RAW = [(3, 4), (1, 4), (2, 2)]


def test_ratio_variance_from_three_respondents() -> None:
    moments = RespondentMoments.from_pairs(RAW)
    assert moments == RespondentMoments(3, 6, 10, 9 + 1 + 4, 16 + 16 + 4, 12 + 4 + 4)
    r = (3 + 1 + 2) / (4 + 4 + 2)  # 0.6
    residuals = [(3 - r * 4) ** 2, (1 - r * 4) ** 2, (2 - r * 2) ** 2]  # .36, 1.96, .64
    expected = 3 / (3 - 1) * sum(residuals) / (4 + 4 + 2) ** 2  # 1.5 · 2.96 / 100 = 0.0444
    assert expected == pytest.approx(0.0444)
    assert ratio_variance(moments) == pytest.approx(expected)
    srs = r * (1 - r) / 10  # 0.024 if the 10 answers were independent
    assert design_effect(moments) == pytest.approx(expected / srs)  # 1.85
    assert clustering_deff(moments) == pytest.approx(1.85)


def test_variance_not_estimable_falls_back_to_one_unit_per_respondent() -> None:
    one = RespondentMoments.from_pairs([(1, 2)])
    assert ratio_variance(one) is None
    assert design_effect(one) is None
    assert clustering_deff(one) == 2 / 1  # deff = mean answers per respondent -> n_eff = 1
    all_satisfied = RespondentMoments.from_pairs([(4, 4), (2, 2), (3, 3)])
    assert ratio_variance(all_satisfied) == 0
    assert design_effect(all_satisfied) is None
    assert clustering_deff(all_satisfied) == pytest.approx((4 + 2 + 3) / 3)
    assert clustering_deff(RespondentMoments(0, 0, 0, 0, 0, 0)) is None
    assert clustering_deff(None) is None


def test_design_effect_below_one_is_floored() -> None:
    # every respondent has exactly half: no between-respondent variance at all
    same = RespondentMoments.from_pairs([(1, 2), (1, 2), (1, 2)])
    assert design_effect(same) == 0
    assert clustering_deff(same) == 1.0


def test_weighting_design_effect() -> None:
    assert weighting_deff([(10, 0.1), (10, 0.1)]) == pytest.approx(1.0)
    # criteria with 10 and 30 answers, each answer weighted 1/n_j
    n_total = 10 + 30
    expected = n_total * (10 * (1 / 10) ** 2 + 30 * (1 / 30) ** 2) / (10 / 10 + 30 / 30) ** 2
    assert expected == pytest.approx(4 / 3)
    assert weighting_deff([(10, 1 / 10), (30, 1 / 30)]) == pytest.approx(expected)
    assert weighting_deff([]) == 1.0


def test_counts_are_validated() -> None:
    with pytest.raises(ValueError):
        RespondentMoments(1, 3, 2, 9, 4, 6)  # more satisfied answers than valid ones
    with pytest.raises(ValueError):
        RespondentMoments(-1, 0, 0, 0, 0, 0)
