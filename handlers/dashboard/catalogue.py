"""The agencies as the dashboard names, places and merges them.

A unit is shown under the agency that now stands for it when the figures merge
successors (the province's view, see `filters`): the same final successor as
`build_report` follows, stopping at the last code still in the catalogue. The block a
unit belongs to is its catalogue level.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from handlers.dashboard import store

MAX_HOPS = 10  # as `handlers.reports.build.MAX_SUCCESSOR_HOPS`


@dataclass(frozen=True)
class Agency:
    id: int
    code: str
    name: str
    level: str
    successor_code: str | None


@dataclass(frozen=True)
class Catalogue:
    by_id: dict[int, Agency]
    by_code: dict[str, Agency]
    final_ids: dict[int, int]  # agency id -> the id of the agency that now stands for it
    members_of: dict[int, tuple[int, ...]]  # standing agency id -> ids counted under it

    def final(self, agency: Agency) -> Agency:
        """The agency that now stands for `agency` (itself when it was not merged)."""
        return self.by_id[self.final_ids[agency.id]]

    def members(self, agency: Agency) -> list[Agency]:
        """The agencies whose figures `agency` carries when successors merge: itself and
        every agency whose final successor it is (by code); empty when merged away."""
        return [self.by_id[i] for i in self.members_of.get(agency.id, ())]

    def standing(self, agencies: Iterable[Agency]) -> list[Agency]:
        """Those of `agencies` that were not merged away."""
        return [agency for agency in agencies if self.final_ids[agency.id] == agency.id]


def _final_id(agency: Agency, by_code: dict[str, Agency]) -> int:
    """Follow successor links to the last code still in the catalogue, as build_report."""
    current, seen = agency, {agency.id}
    for _ in range(MAX_HOPS):
        following = by_code.get(current.successor_code or "")
        if following is None or following.id in seen:
            break
        seen.add(following.id)
        current = following
    return current.id


async def load(session: AsyncSession) -> Catalogue:
    rows: list[Any] = await store.agency_rows(session)
    agencies = [Agency(row.id, row.code, row.name, row.level, row.successor_code) for row in rows]
    by_code = {a.code: a for a in agencies}
    finals = {a.id: _final_id(a, by_code) for a in agencies}
    members: dict[int, list[Agency]] = {}
    for agency in agencies:
        members.setdefault(finals[agency.id], []).append(agency)
    ordered = {
        final: tuple(a.id for a in sorted(group, key=lambda a: a.code))
        for final, group in members.items()
    }
    return Catalogue({a.id: a for a in agencies}, by_code, finals, ordered)
