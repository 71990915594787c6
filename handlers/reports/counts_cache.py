"""Report counts kept per process, keyed by what was counted and the rollups' generation.

A dashboard page asks the same few reports again and again between two publications,
and at a million responses their rollup reads are the dearest part of a page. Every
writer of the rollups raises their generation in its own transaction before its first
rollup row (`handlers.survey.store.rollups.raise_generation`), and this reads the
generation before the rollups, in the same transaction: a kept count is therefore never
older than the generation it is kept under, and any write (publication, import,
replacement, deletion, rebuild) makes every kept count unreachable. Generations are
random, so counts kept for one database are never taken for another's. The counts are
plain additive tallies, so what comes out equals what `count_groups` would read now.

Kept tallies are shared: callers must not change them (`build_report` only reads and
copies them).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.questionnaire import Questionnaire
from handlers.reports.periods import Period
from handlers.reports.store import Selection, count_groups
from handlers.survey.store.rollups import Tally, criterion_factors, rollup_generation

MAX_ENTRIES = 256
"""Kept counts per process: a province's pages ask a few dozen; a month's counts by
agency are about 100 groups of 30 rows, so the cache stays a few megabytes."""


class CountsCache:
    """Least recently used `count_groups` results by (generation, what was counted)."""

    def __init__(self, max_entries: int = MAX_ENTRIES):
        self.max_entries = max_entries
        self._kept: OrderedDict[tuple[Any, ...], Tally] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def clear(self) -> None:
        self._kept.clear()

    async def count_groups(
        self,
        session: AsyncSession,
        questionnaire: Questionnaire,
        period: Period,
        selection: Selection,
        grouping: Sequence[str],
    ) -> Tally:
        """`handlers.reports.store.count_groups`, from the cache when nothing was written
        to the rollups since it was counted."""
        generation = await rollup_generation(session)  # first: see the module
        if generation is None:
            return await count_groups(session, questionnaire, period, selection, grouping)
        key = (
            generation,
            questionnaire.id,
            tuple(sorted(criterion_factors(questionnaire).items())),
            period.start,
            period.end,
            selection,
            tuple(grouping),
        )
        kept = self._kept.get(key)
        if kept is not None:
            self._kept.move_to_end(key)
            self.hits += 1
            return kept
        self.misses += 1
        tally = await count_groups(session, questionnaire, period, selection, grouping)
        self._kept[key] = tally
        while len(self._kept) > self.max_entries:
            self._kept.popitem(last=False)
        return tally


COUNTS = CountsCache()
"""The process's cache, which `build_report` reads through."""
