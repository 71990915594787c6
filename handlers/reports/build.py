"""`build_report`: filters in, scored groups out — the one function behind every report.

The command line, digests and chat commands call it alike. It resolves the filters
against the catalogue (codes to ids, merged agencies to their successor), lets the
database count the current and the previous period (`counting`), and hands the
counts to `scoring`. Merging groups (successors) and the total add counts, which
are additive, so Python only handles a few rows per group. The scored groups are kept
per process (`cache`) until the rollups or the catalogue change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.catalog import LEVELS
from bot.questionnaire import Questionnaire
from bot.settings import ScoringSettings
from bot.textnorm import fold
from handlers.reports.cache import REPORTS
from handlers.reports.dropoff import Dropoff, dropoff_of
from handlers.reports.periods import Period
from handlers.reports.store import (
    DIMENSIONS,
    Selection,
    catalogue_rows,
    count_funnel,
    count_groups,
)
from handlers.survey.store.rollups import Tally, criterion_factors, rollup_generation
from scoring import (
    OVERALL,
    GroupCounts,
    GroupIndices,
    ItemCounts,
    RespondentMoments,
    Rule,
    compute,
)

GROUPINGS = tuple(DIMENSIONS)
"""What a report can be grouped by: agency, service, level, channel, month."""

MAX_SUCCESSOR_HOPS = 10


class ReportError(ValueError):
    """The filters name something that does not exist; the message says what."""


@dataclass(frozen=True)
class ReportFilters:
    """Which completed responses a report covers.

    `agencies`, `services` are codes; `fields` are service fields (lĩnh vực), matched
    without regard to case or accents. With `merge_successors`, an agency stands for
    itself and every agency merged into it (catalogue `successor_code` chains), and
    grouping by agency reports merged agencies under their successor.
    """

    questionnaire: str
    period: Period
    agencies: tuple[str, ...] = ()
    merge_successors: bool = False
    services: tuple[str, ...] = ()
    fields: tuple[str, ...] = ()
    level: str | None = None
    channel_kind: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "questionnaire": self.questionnaire,
            "period": self.period.label,
            "from": self.period.start.isoformat(),
            "to": self.period.end.isoformat(),
            "agencies": list(self.agencies),
            "merge_successors": self.merge_successors,
            "services": list(self.services),
            "fields": list(self.fields),
            "level": self.level,
            "channel_kind": self.channel_kind,
        }


@dataclass(frozen=True)
class ReportGroup:
    """One group (or the total, with an empty key): its counts and scored indices.

    `key` maps each grouping dimension to a code or value ("" for no service);
    `names` to the catalogue's name for it (the value itself for level, channel, month).
    `previous` holds the same group's counts in the previous period, if it had any.
    """

    key: Mapping[str, str]
    names: Mapping[str, str]
    counts: GroupCounts
    previous: GroupCounts | None
    indices: GroupIndices

    @property
    def label(self) -> str:
        """What a reader sees: "STP Sở Tư pháp / 2025-07"."""
        parts = []
        for dimension, name in self.names.items():
            code = self.key.get(dimension, "")
            parts.append(f"{code} {name}" if code and code != name else name)
        return " / ".join(parts) or "—"


@dataclass(frozen=True)
class Report:
    questionnaire: Questionnaire
    filters: ReportFilters
    grouping: tuple[str, ...]
    previous_period: Period
    rule: Rule
    target: float
    min_sample: int
    total: ReportGroup
    dropoff: Dropoff  # the chat sessions under the total's filters (see `dropoff`)
    groups: tuple[ReportGroup, ...] = field(default=())


@dataclass(frozen=True)
class _Catalogue:
    agencies: dict[int, Any]
    agency_ids: dict[str, int]
    services: dict[int, Any]
    service_ids: dict[str, int]
    rows: tuple[Any, ...]  # every row as read: what a kept result depends on

    def final_successor(self, agency_id: int) -> int:
        """The agency that now stands for `agency_id`, as `bot.catalog.successor_of`
        follows the links, but stopping at the last code that is in the catalogue."""
        current, seen = agency_id, {agency_id}
        for _ in range(MAX_SUCCESSOR_HOPS):
            following = self.agency_ids.get(self.agencies[current].successor_code or "")
            if following is None or following in seen:
                break
            seen.add(following)
            current = following
        return current


async def _catalogue(session: AsyncSession) -> _Catalogue:
    agency_rows, service_rows = await catalogue_rows(session)
    agencies = {row.id: row for row in agency_rows}
    services = {row.id: row for row in service_rows}
    return _Catalogue(
        agencies,
        {row.code: row.id for row in agencies.values()},
        services,
        {row.code: row.id for row in services.values()},
        (*map(tuple, agency_rows), None, *map(tuple, service_rows)),
    )


def _selection(filters: ReportFilters, catalogue: _Catalogue) -> Selection:
    agency_ids = None
    if filters.agencies:
        unknown = [code for code in filters.agencies if code not in catalogue.agency_ids]
        if unknown:
            raise ReportError(f"unknown agency code {', '.join(unknown)}")
        wanted = {catalogue.agency_ids[code] for code in filters.agencies}
        if filters.merge_successors:
            finals = {catalogue.final_successor(agency_id) for agency_id in wanted}
            wanted = {a for a in catalogue.agencies if catalogue.final_successor(a) in finals}
        agency_ids = tuple(sorted(wanted))

    service_ids = None
    if filters.services:
        unknown = [code for code in filters.services if code not in catalogue.service_ids]
        if unknown:
            raise ReportError(f"unknown service code {', '.join(unknown)}")
        service_ids = {catalogue.service_ids[code] for code in filters.services}
    if filters.fields:
        in_fields = set()
        for wanted_field in filters.fields:
            matching = {
                service_id
                for service_id, row in catalogue.services.items()
                if row.field and fold(row.field) == fold(wanted_field)
            }
            if not matching:
                raise ReportError(f"no service in the field {wanted_field!r}")
            in_fields |= matching
        service_ids = in_fields if service_ids is None else service_ids & in_fields
    level = None
    if filters.level is not None:
        level = LEVELS.get(fold(filters.level).replace("cap ", ""))
        if level is None:
            raise ReportError(f"unknown level {filters.level!r} (province, commune, district)")
    return Selection(
        questionnaire=filters.questionnaire,
        agency_ids=agency_ids,
        service_ids=None if service_ids is None else tuple(sorted(service_ids)),
        level=level,
        channel_kind=filters.channel_kind.strip().lower() if filters.channel_kind else None,
    )


def _funnel_selection(selection: Selection, catalogue: _Catalogue) -> Selection:
    """The selection for `survey_funnel`, which has no level: a level becomes its
    agencies (a chat response takes its agency's level)."""
    if selection.level is None:
        return selection
    at_level = {a for a, row in catalogue.agencies.items() if row.level == selection.level}
    if selection.agency_ids is not None:
        at_level &= set(selection.agency_ids)
    return replace(selection, agency_ids=tuple(sorted(at_level)), level=None)


def group_counts(tally: Tally, key: Any, questionnaire: Questionnaire) -> GroupCounts:
    """The scoring input of one group: a row for every criterion (zeros where none was
    answered, so a factor behind an unanswered gate is reported missing) and moments
    for every factor and overall."""
    items = []
    for question in questionnaire.criteria():
        levels = tally.items.get((key, question.id), [0] * 6)
        items.append(ItemCounts(question.id, question.factor or "", tuple(levels[1:]), levels[0]))
    moments = {
        scope: RespondentMoments(*tally.moments.get((key, scope), [0] * 6))
        for scope in (*(factor.id for factor in questionnaire.factors), OVERALL)
    }
    return GroupCounts(tally.responses.get(key, 0), tuple(items), moments)


def _describe(
    grouping: Sequence[str], key: tuple[Any, ...], catalogue: _Catalogue
) -> tuple[dict[str, str], dict[str, str]]:
    codes: dict[str, str] = {}
    names: dict[str, str] = {}
    for name, value in zip(grouping, key, strict=True):
        if name == "agency":
            row = catalogue.agencies.get(value)
            codes[name] = row.code if row else str(value)
            names[name] = row.name if row else str(value)
        elif name == "service":
            row = catalogue.services.get(value)
            codes[name] = row.code if row else ""
            names[name] = row.name if row else "—"
        else:
            codes[name] = names[name] = str(value)
    return codes, names


async def build_report(
    session: AsyncSession,
    questionnaires: Mapping[str, Questionnaire],
    filters: ReportFilters,
    grouping: Sequence[str] = (),
    settings: ScoringSettings | None = None,
    *,
    compare: bool = True,
    funnel: bool = True,
) -> Report:
    """Score the selected completed responses: the total and one group per grouping key,
    each compared with the same group in the previous period and with the target; and
    the drop-off of the chat sessions under the same filters, for the total.

    A series (a trend by month) needs neither: `compare=False` leaves the previous
    period uncounted (no change anywhere), `funnel=False` the drop-off empty; the
    indices are the same."""
    settings = settings or ScoringSettings()
    questionnaire = questionnaires.get(filters.questionnaire)
    if questionnaire is None:
        raise ReportError(
            f"unknown questionnaire {filters.questionnaire!r} "
            f"(available: {', '.join(sorted(questionnaires))})"
        )
    grouping = tuple(dict.fromkeys(grouping))
    unknown = [name for name in grouping if name not in DIMENSIONS]
    if unknown:
        raise ReportError(
            f"cannot group by {', '.join(unknown)} (choose from {', '.join(GROUPINGS)})"
        )
    generation = await rollup_generation(session)  # before the rollups: see `cache`
    catalogue = await _catalogue(session)
    selection = _selection(filters, catalogue)
    previous_period = filters.period.previous()
    rule = Rule(questionnaire.aggregation.value)
    key = None
    if generation is not None:
        key = (
            generation,
            filters,
            grouping,
            compare,
            questionnaire.id,
            tuple(criterion_factors(questionnaire).items()),
            rule,
            settings.target,
            settings.min_sample,
            catalogue.rows,
        )
    kept = REPORTS.get(key)
    if kept is None:
        kept = await _scored_groups(
            session, questionnaire, filters, grouping, settings, compare, catalogue, selection
        )
        REPORTS.put(key, kept)
    groups, total = kept
    sessions = (
        await count_funnel(session, filters.period, _funnel_selection(selection, catalogue))
        if funnel
        else []
    )
    return Report(
        questionnaire=questionnaire,
        filters=filters,
        grouping=grouping,
        previous_period=previous_period,
        rule=rule,
        target=settings.target,
        min_sample=settings.min_sample,
        total=total,
        dropoff=dropoff_of(sessions, questionnaire, settings.min_sample),
        groups=groups,
    )


async def _scored_groups(
    session: AsyncSession,
    questionnaire: Questionnaire,
    filters: ReportFilters,
    grouping: tuple[str, ...],
    settings: ScoringSettings,
    compare: bool,
    catalogue: _Catalogue,
    selection: Selection,
) -> tuple[tuple[ReportGroup, ...], ReportGroup]:
    """The scored groups (sorted by label; none without a grouping) and the total."""
    current = await count_groups(session, questionnaire, filters.period, selection, grouping)
    previous_period = filters.period.previous()
    previous = (
        await count_groups(session, questionnaire, previous_period, selection, grouping)
        if compare
        else Tally()
    )

    if filters.merge_successors and "agency" in grouping:
        position = grouping.index("agency")

        def to_successor(key: tuple[Any, ...]) -> tuple[Any, ...]:
            return (
                *key[:position],
                catalogue.final_successor(key[position]),
                *key[position + 1 :],
            )

        current, previous = _renamed(current, to_successor), _renamed(previous, to_successor)

    rule = Rule(questionnaire.aggregation.value)

    def scored(key: Any, now: Tally, before: Tally, codes, names) -> ReportGroup:
        counts = group_counts(now, key, questionnaire)
        earlier = group_counts(before, key, questionnaire) if before.responses.get(key) else None
        indices = compute(counts, rule, settings.target, settings.min_sample, earlier)
        return ReportGroup(codes, names, counts, earlier, indices)

    groups = []
    for key in current.responses:
        codes, names = _describe(grouping, key, catalogue)
        groups.append(scored(key, current, previous, codes, names))
    groups.sort(key=lambda group: group.label)
    total = scored((), _renamed(current, _total), _renamed(previous, _total), {}, {})
    return (tuple(groups) if grouping else ()), total


def _total(key: Any) -> tuple[()]:
    return ()


def _renamed(tally: Tally, rename: Any) -> Tally:
    merged = Tally()
    merged.merge(tally, rename)
    return merged
