"""Units ranked inside their block, the top and bottom five, and the units at 90 or above.

How small samples are treated: a unit with fewer forms than SCORING_MIN_SAMPLE (or with
no SIPAS index at all) is listed and flagged but not ranked: it has no rank, is never in
a top or bottom five and does not count towards "≥ 90". One form at 100 points would
otherwise head the province. Ranked units are ordered by index (ties share a rank,
compared at the two decimals a page shows), then by code.

Blocks follow the catalogue level: provincial departments ("province"), communes
("commune"), then every other level as its own block (old district data, ministries'
vertical agencies), in that order. The top and bottom five never overlap: with fewer
than ten ranked units the bottom list holds those not already on top.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from bot.i18n import INDEX_DECIMALS, shipped

TOP = 5
HIGH = 90.0  # "units at or above 90%" of the provincial reports
BLOCK_ORDER = ("province", "commune", "district", "ministry")


@dataclass(frozen=True)
class UnitRow:
    """One unit of a block: `code` links to its page; `members` are the codes counted
    under it (itself and the agencies merged into it, when successors merge)."""

    code: str
    name: str
    level: str
    index: float | None
    ci_low: float | None
    ci_high: float | None
    change: float | None
    to_target: float | None
    met_target: bool | None
    forms: int
    previous_forms: int
    reliable: bool
    factors: tuple[tuple[str, float | None], ...]  # (factor id, index)
    members: tuple[str, ...] = ()
    rank: int | None = None  # within its block; None when not ranked (see the module)

    @property
    def small_sample(self) -> bool:
        return not self.reliable

    @property
    def ranked(self) -> bool:
        return self.rank is not None


def block_name(level: str, lang: str) -> str:
    """ "Sở, ban, ngành", "Xã, phường", … (bot/locales `dashboard_block_<level>`); the level
    itself for one the locales do not name."""
    key = f"dashboard_block_{level}"
    translate = shipped()
    return translate(lang, key) if key in translate.catalogs["vi"] else level


@dataclass(frozen=True)
class Block:
    level: str
    name: str  # in the page's language
    units: tuple[UnitRow, ...]  # ranked first in rank order, then the others by code
    top: tuple[UnitRow, ...]  # best first
    bottom: tuple[UnitRow, ...]  # worst first
    at_or_above_high: int  # ranked units with SIPAS >= 90

    @property
    def ranked(self) -> tuple[UnitRow, ...]:
        return tuple(unit for unit in self.units if unit.ranked)


def rankable(unit: UnitRow) -> bool:
    return unit.reliable and unit.index is not None


def _shown(value: float) -> float:
    return round(value, INDEX_DECIMALS)


def ranked(units: Iterable[UnitRow]) -> list[UnitRow]:
    """Ranked units in rank order, then the unranked ones by code (see the module)."""
    units = list(units)
    eligible = sorted(
        (unit for unit in units if rankable(unit)),
        key=lambda unit: (-_shown(unit.index or 0.0), unit.code),
    )
    out: list[UnitRow] = []
    for position, unit in enumerate(eligible, start=1):
        previous = out[-1] if out else None
        same = previous is not None and _shown(previous.index or 0.0) == _shown(unit.index or 0.0)
        rank = previous.rank if same and previous is not None else position
        out.append(_with_rank(unit, rank))
    rest = sorted((unit for unit in units if not rankable(unit)), key=lambda unit: unit.code)
    return out + [_with_rank(unit, None) for unit in rest]


def _with_rank(unit: UnitRow, rank: int | None) -> UnitRow:
    return replace(unit, rank=rank)


def top_and_bottom(units: Sequence[UnitRow]) -> tuple[tuple[UnitRow, ...], tuple[UnitRow, ...]]:
    """The best five and the worst five (worst first) of units already `ranked`."""
    order = [unit for unit in units if unit.ranked]
    top = order[:TOP]
    bottom = order[max(TOP, len(order) - TOP) :]
    return tuple(top), tuple(reversed(bottom))


def at_or_above_high(units: Iterable[UnitRow]) -> int:
    return sum(1 for unit in units if unit.ranked and _shown(unit.index or 0.0) >= HIGH)


def block_of(level: str, units: Iterable[UnitRow], lang: str) -> Block:
    order = ranked(units)
    top, bottom = top_and_bottom(order)
    return Block(level, block_name(level, lang), tuple(order), top, bottom, at_or_above_high(order))


def blocks_of(units: Iterable[UnitRow], lang: str) -> tuple[Block, ...]:
    by_level: dict[str, list[UnitRow]] = {}
    for unit in units:
        by_level.setdefault(unit.level, []).append(unit)
    order = sorted(
        by_level,
        key=lambda level: (
            BLOCK_ORDER.index(level) if level in BLOCK_ORDER else len(BLOCK_ORDER),
            level,
        ),
    )
    return tuple(block_of(level, by_level[level], lang) for level in order)
