"""Property: counts and moments built from raw answers give the directly computed indices."""

from hypothesis import given, settings
from hypothesis import strategies as st

from scoring import OVERALL, GroupCounts, ItemCounts, RespondentMoments, Rule, compute

# criterion -> factor; F5 sits behind a gate, so many respondents skip it entirely
ITEMS = {"q1": "F1", "q2": "F1", "q3": "F2", "q4": "F3", "q5": "F3", "q6": "F5", "q7": "F5"}
NO_OPINION = 0

# an answer is 1..5, NO_OPINION, or None (not asked)
answer = st.one_of(st.none(), st.just(NO_OPINION), st.integers(1, 5))
respondent = st.fixed_dictionaries({item: answer for item in ITEMS})
respondents = st.lists(respondent, max_size=25)


def moments_of(people: list[dict], items: list[str]) -> RespondentMoments:
    """The sums the database would compute, written out from the raw answers."""
    pairs = []
    for person in people:
        valid = [person[i] for i in items if person[i] not in (None, NO_OPINION)]
        if valid:
            pairs.append((sum(1 for a in valid if a >= 4), len(valid)))
    return RespondentMoments(
        respondents=len(pairs),
        sum_y=sum(y for y, _ in pairs),
        sum_m=sum(m for _, m in pairs),
        sum_yy=sum(y * y for y, _ in pairs),
        sum_mm=sum(m * m for _, m in pairs),
        sum_ym=sum(y * m for y, m in pairs),
    )


def counts_of(people: list[dict]) -> GroupCounts:
    items = []
    for item, factor in ITEMS.items():
        answers = [p[item] for p in people]
        levels = tuple(answers.count(level) for level in range(1, 6))
        items.append(ItemCounts(item, factor, levels, answers.count(NO_OPINION)))
    moments = {
        f: moments_of(people, [i for i in ITEMS if ITEMS[i] == f]) for f in set(ITEMS.values())
    }
    moments[OVERALL] = moments_of(people, list(ITEMS))
    return GroupCounts(len(people), tuple(items), moments)


def direct_pooled(people: list[dict], items: list[str]) -> float | None:
    valid = [p[i] for p in people for i in items if p[i] not in (None, NO_OPINION)]
    return 100 * sum(1 for a in valid if a >= 4) / len(valid) if valid else None


def direct_mean_of_criteria(people: list[dict]) -> float | None:
    by_factor: dict[str, list[float]] = {}
    for item, factor in ITEMS.items():
        share = direct_pooled(people, [item])
        if share is not None:
            by_factor.setdefault(factor, []).append(share)
    factor_means = [sum(v) / len(v) for v in by_factor.values()]
    return sum(factor_means) / len(factor_means) if factor_means else None


def close(a: float | None, b: float | None) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and abs(a - b) < 1e-9)


@settings(max_examples=300, deadline=None)
@given(respondents)
def test_indices_equal_direct_computation_and_lie_in_their_intervals(people: list[dict]) -> None:
    group = counts_of(people)
    pooled = compute(group, "pooled_share")
    assert close(pooled.overall.index, direct_pooled(people, list(ITEMS)))
    for f in pooled.factors:
        assert close(f.index, direct_pooled(people, [i for i in ITEMS if ITEMS[i] == f.factor]))
    mean_rule = compute(group, Rule.MEAN_OF_FACTORS)
    assert close(mean_rule.overall.index, direct_mean_of_criteria(people))

    for result in (pooled, mean_rule):
        levels = [result.overall, *result.factors, *result.criteria]
        for level in levels:
            if level.index is None:
                assert level.ci_low is None and level.ci_high is None
                continue
            assert 0.0 <= level.index <= 100.0
            # moments were sent for every scope, so every index has an interval
            assert level.ci_low is not None and level.ci_high is not None
            assert 0.0 <= level.ci_low <= level.index <= level.ci_high <= 100.0
