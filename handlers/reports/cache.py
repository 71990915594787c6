"""Scored report groups kept per process, keyed by what they depend on and the rollups'
generation.

A dashboard page asks the same few reports again and again between two publications;
at a million responses the rollup reads, and scoring a hundred groups, are most of a
page. What `build_report` keeps here (its groups and total) depends only on the rollups,
the catalogue, the filters, the grouping, the questionnaire's criteria and the scoring
rule, target and minimum sample, all of which are in the key: the catalogue as its
rows, read on every report, and the rollups as their generation. Every writer of the
rollups gives them a new generation in its own transaction, before its first rollup row
(`handlers.survey.store.rollups.raise_generation`), and `build_report` reads it before
the rollups, in one transaction: a kept result is never older than its generation, and
any write (publication, import, replacement, deletion, rebuild) makes every kept result
unreachable. Generations are random, so results kept for one database are never taken
for another's. The drop-off (`survey_funnel`, written by every ended chat session) is
not kept: it is counted on every report.

Kept values are shared and must not be changed (they are frozen dataclasses).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

MAX_ENTRIES = 256
"""Results kept per process: a province's pages ask a few dozen; a month by agency is
about 100 scored groups, so the cache stays a few tens of megabytes at most."""


class KeptResults:
    """Least recently used results by key (None: never kept)."""

    def __init__(self, max_entries: int = MAX_ENTRIES):
        self.max_entries = max_entries
        self._kept: OrderedDict[Hashable, Any] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def clear(self) -> None:
        self._kept.clear()

    def get(self, key: Hashable | None) -> Any | None:
        if key is None:
            return None
        kept = self._kept.get(key)
        if kept is None:
            self.misses += 1
            return None
        self._kept.move_to_end(key)
        self.hits += 1
        return kept

    def put(self, key: Hashable | None, value: Any) -> None:
        if key is None:
            return
        self._kept[key] = value
        while len(self._kept) > self.max_entries:
            self._kept.popitem(last=False)


REPORTS = KeptResults()
"""The process's kept report results, which `build_report` reads through."""
