"""Interval arithmetic on shares. Shares here are proportions in [0, 1]; callers scale to %.

Everything is exact integer arithmetic where the inputs are counts, so that large
groups (millions of answers) do not lose precision to cancellation.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from scoring.counts import RespondentMoments

Z95 = 1.959963984540054
"""Two-sided 95% normal quantile."""


def wilson_interval(share: float, n: float, z: float = Z95) -> tuple[float, float] | None:
    """Wilson score interval for a proportion; ``n`` may be an effective (non-integer) size.

    Wilson rather than Wald because satisfaction shares sit near 100% and small commune
    samples are common: Wald collapses to a zero-width interval at 0% or 100%.

        centre    = (p + z²/2n) / (1 + z²/n)
        halfwidth = z / (1 + z²/n) · sqrt(p(1-p)/n + z²/4n²)

    Returns None when n <= 0 (no data: no interval). The bounds are clamped to [0, 1]
    and widened, if rounding requires it, to contain ``share`` itself.
    """
    if n <= 0 or math.isnan(n):
        return None
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"share must be in [0, 1], got {share}")
    z2n = z * z / n
    denom = 1.0 + z2n
    centre = (share + z2n / 2.0) / denom
    half = z / denom * math.sqrt(share * (1.0 - share) / n + z2n / (4.0 * n))
    low = min(max(centre - half, 0.0), share)
    high = max(min(centre + half, 1.0), share)
    return low, high


def _residual_sum_scaled(m: RespondentMoments) -> int:
    """S² · Σ(y_i − R m_i)² with R = Y/S, expanded into the stored sums (exact integers).

    Σ(y − R m)² = Σyy − 2R Σym + R² Σmm; multiplying by S² removes the division.
    Cauchy–Schwarz makes it >= 0 for consistent sums; clamp in case the database
    read the sums from a moving table.
    """
    s, y = m.sum_m, m.sum_y
    return max(0, m.sum_yy * s * s - 2 * y * m.sum_ym * s + y * y * m.sum_mm)


def ratio_variance(m: RespondentMoments) -> float | None:
    """Linearised variance of the ratio R = Σy_i / Σm_i with the respondent as unit.

        var(R) ≈ n/(n−1) · Σ(y_i − R m_i)² / (Σm_i)²

    None when it cannot be estimated: fewer than 2 respondents or no valid answers.
    """
    n, s = m.respondents, m.sum_m
    if n < 2 or s == 0:
        return None
    return n * _residual_sum_scaled(m) / ((n - 1) * s**4)


def design_effect(m: RespondentMoments) -> float | None:
    """Measured design effect of clustering answers in respondents.

        deff = var(R) / (R(1−R)/Σm) = n · S²Σ(y−Rm)² / ((n−1) · S · Y · (S−Y))

    i.e. the linearised variance over the variance the same share would have if all
    Σm answers were independent. None when undefined: n < 2, or R is 0 or 1 (then both
    variances are 0).
    """
    n, s, y = m.respondents, m.sum_m, m.sum_y
    if n < 2 or y == 0 or y == s:
        return None
    return n * _residual_sum_scaled(m) / ((n - 1) * s * y * (s - y))


def clustering_deff(m: RespondentMoments | None) -> float | None:
    """The respondent-clustering design effect applied to intervals.

    * measured ``design_effect(m)``, floored at 1: answers of one person are not taken
      as more informative than independent answers (the same truncation Korn & Graubard
      apply to the effective sample size);
    * when it cannot be measured (one respondent, or everyone at 0% or 100%), the worst
      case for equal-size clusters, every answer of a person identical (ICC = 1):
      deff = mean answers per respondent = Σm / n, so the effective size is n;
    * None when there are no moments or no respondents: the interval is then missing.
    """
    if m is None or m.respondents == 0 or m.sum_m == 0:
        return None
    measured = design_effect(m)
    if measured is None:
        return m.sum_m / m.respondents
    return max(1.0, measured)


def weighting_deff(groups: Iterable[tuple[int, float]]) -> float:
    """Kish design effect of unequal weights, from ``(answers, weight per answer)`` groups.

        deff_w = N · Σ n_j w_j² / (Σ n_j w_j)²,  N = Σ n_j

    Used for mean-of-criteria indices, which are pooled shares in which every answer to
    criterion j carries weight 1/n_j (scaled by the number of criteria and factors).
    Returns 1 for equal weights or for no data.
    """
    pairs = [(n, w) for n, w in groups if n > 0]
    total = sum(n for n, _ in pairs)
    weighted = sum(n * w for n, w in pairs)
    if total == 0 or weighted == 0:
        return 1.0
    return max(1.0, total * sum(n * w * w for n, w in pairs) / (weighted * weighted))
