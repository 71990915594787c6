"""Helpers for digests built on scored groups."""

from __future__ import annotations

from collections.abc import Iterable

from scoring.indices import CriterionIndex, GroupIndices


def weakest_criteria(
    scored: GroupIndices | Iterable[CriterionIndex], k: int, min_valid: int = 1
) -> list[CriterionIndex]:
    """The k criteria with the lowest index, ties broken by item id.

    Criteria without an index (no valid answers) or with fewer than ``min_valid`` valid
    answers are skipped, so a digest never names a criterion as weakest on no data.
    """
    criteria = scored.criteria if isinstance(scored, GroupIndices) else scored
    ranked = sorted(
        (c for c in criteria if c.index is not None and c.valid_n >= max(1, min_valid)),
        key=lambda c: (c.index, c.item_id),
    )
    return ranked[: max(0, k)]
