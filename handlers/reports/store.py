"""Every query of reports: the catalogue a report names its groups with, and the counts.

The database sums report groups' rollup rows, never reading an answer; the drop-off
figures come from `survey_funnel`, counts of ended chat sessions per day.

Whole months come from the monthly rollups that `handlers.survey.store.rollups` keeps, the
days of a period outside whole months from its daily tables: whole dekads (days 1-10,
11-20, 21-end), then whole pentads (1-5, …, 26-end) from their block rows, at most four or
five single days at each end from the day rows. So a period of any length reads a
handful of blocks of a few thousand cells each (day rows alone would read every day of
the ends, about 60 for a two-month range and its previous period; a daily-only store
every day of a year). All give additive `Tally` rows, keyed by
the grouping's values, that are simply added together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Table, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.database import month_of
from bot.models import Agency, Service, SurveyFunnel
from bot.questionnaire import Questionnaire
from handlers.reports.periods import Period, split_days
from handlers.survey.store.rollups import (
    DAYS,
    DEKADS,
    LEVELS,
    MOMENTS,
    MONTHLY,
    PENTADS,
    Grain,
    Tally,
    criterion_factors,
)

DIMENSIONS: dict[str, str] = {
    "agency": "agency_id",
    "service": "service_key",
    "level": "level",
    "channel": "channel_kind",
    "month": "month",
}
"""Report grouping name -> rollup column."""


@dataclass(frozen=True)
class Selection:
    """Which responses count, in database ids; None means no restriction."""

    questionnaire: str
    agency_ids: tuple[int, ...] | None = None
    service_ids: tuple[int, ...] | None = None
    level: str | None = None
    channel_kind: str | None = None


async def catalogue_rows(session: AsyncSession) -> tuple[list[Any], list[Any]]:
    """Every agency (id, code, name, successor_code, level) and service (id, code, name,
    field): a report resolves its filters' codes and names its groups with them."""
    agencies = await session.execute(
        select(Agency.id, Agency.code, Agency.name, Agency.successor_code, Agency.level)
    )
    services = await session.execute(select(Service.id, Service.code, Service.name, Service.field))
    return list(agencies), list(services)


def _where(columns: Any, selection: Selection) -> list[ColumnElement[bool]]:
    where = [columns.questionnaire == selection.questionnaire]
    if selection.agency_ids is not None:
        where.append(columns.agency_id.in_(selection.agency_ids))
    if selection.service_ids is not None:
        where.append(columns.service_key.in_(selection.service_ids))
    if selection.level is not None:
        where.append(columns.level == selection.level)
    if selection.channel_kind is not None:
        where.append(columns.channel_kind == selection.channel_kind)
    return where


def _dimension(grain: Grain, table: Table, name: str) -> ColumnElement[Any]:
    if name == "month" and grain.span is not None:
        return month_of(table.c.day)
    return table.c[DIMENSIONS[name]]


def _key(row: Sequence[Any], width: int) -> tuple[Any, ...]:
    return tuple(row[:width])


async def _add_rows(session: AsyncSession, tally: Tally, queries: dict[str, Any], width: int):
    for row in await session.execute(queries["responses"]):
        if row[width]:
            tally.add_count(_key(row, width), row[width])
    criteria = queries["criteria"]
    for row in await session.execute(queries["items"]):
        if row[width] in criteria:
            tally.add_items(_key(row, width), row[width], [v or 0 for v in row[width + 1 :]])
    for row in await session.execute(queries["moments"]):
        if row[width + 1]:
            tally.add_moments(_key(row, width), row[width], row[width + 1 :])


def _rollup_queries(
    grain: Grain,
    selection: Selection,
    times: Any,
    grouping: Sequence[str],
    criteria: list[str],
) -> dict[str, Any]:
    """Sums of the grain's rows whose time `times(column)` selects, by the grouping."""

    def base(table: Table) -> tuple[list[Any], list[ColumnElement[bool]]]:
        dims = [_dimension(grain, table, name) for name in grouping]
        where = [*_where(table.c, selection), *grain.selects(table), times(table.c[grain.time])]
        return dims, where

    responses = grain.responses
    dims, where = base(responses)
    count_query = select(*dims, func.sum(responses.c.responses)).where(*where).group_by(*dims)
    items = grain.items
    dims, where = base(items)
    # The criteria are picked from the few summed rows, not in the WHERE: PostgreSQL would
    # scan the key range once per item of an `item_id IN (…)` (five times slower).
    item_query = (
        select(*dims, items.c.item_id, *(func.sum(items.c[f"n{v}"]) for v in LEVELS))
        .where(*where)
        .group_by(*dims, items.c.item_id)
    )
    moments = grain.moments
    dims, where = base(moments)
    moment_query = (
        select(*dims, moments.c.scope, *(func.sum(moments.c[name]) for name in MOMENTS))
        .where(*where)
        .group_by(*dims, moments.c.scope)
    )
    return {
        "responses": count_query,
        "items": item_query,
        "moments": moment_query,
        "criteria": set(criteria),
    }


async def count_groups(
    session: AsyncSession,
    questionnaire: Questionnaire,
    period: Period,
    selection: Selection,
    grouping: Sequence[str],
) -> Tally:
    """Counts of the selected responses in `period`, keyed by the grouping's values.

    Keys are tuples in `grouping` order: agency id, service id (0 = none), level,
    channel kind, "YYYY-MM".
    """
    unknown = [name for name in grouping if name not in DIMENSIONS]
    if unknown:
        raise ValueError(f"cannot group by {', '.join(unknown)}")
    tally = Tally()
    months, ranges = period.split()
    width = len(grouping)
    criteria = list(criterion_factors(questionnaire))
    if months:
        queries = _rollup_queries(
            MONTHLY, selection, lambda month: month.in_(months), grouping, criteria
        )
        await _add_rows(session, tally, queries, width)
    blocks: dict[Grain, list[Any]] = {DEKADS: [], PENTADS: []}
    days: list[tuple[Any, Any]] = []
    for start, end in ranges:
        whole, rest = split_days(start, end)
        for grain in blocks:
            blocks[grain] += whole[grain.span]
        days += rest
    for grain, firsts in blocks.items():
        if firsts:
            queries = _rollup_queries(
                grain, selection, lambda day, f=firsts: day.in_(f), grouping, criteria
            )
            await _add_rows(session, tally, queries, width)
    for start, end in days:  # one range a query: each is one slice of the key's order
        queries = _rollup_queries(
            DAYS, selection, lambda day, a=start, b=end: day.between(a, b), grouping, criteria
        )
        await _add_rows(session, tally, queries, width)
    return tally


async def count_funnel(
    session: AsyncSession, period: Period, selection: Selection
) -> list[tuple[str, int, str, int]]:
    """Chat sessions that ended in `period`: (phase, step, outcome, sessions), summed.

    The funnel has no level column: the caller turns a level into the agencies of that
    level (`selection.agency_ids`), as a chat response takes its agency's level. Sessions
    that ended before an agency (or service) was chosen have key 0, so they count only
    where no agency (service) is asked for.
    """
    f = SurveyFunnel.__table__.c
    where = [
        f.questionnaire == selection.questionnaire,
        f.day.between(period.start, period.end),
    ]
    if selection.agency_ids is not None:
        where.append(f.agency_key.in_(selection.agency_ids))
    if selection.service_ids is not None:
        where.append(f.service_key.in_(selection.service_ids))
    if selection.channel_kind is not None:
        where.append(f.channel_kind == selection.channel_kind)
    rows = await session.execute(
        select(f.phase, f.step, f.outcome, func.sum(f.sessions))
        .where(*where)
        .group_by(f.phase, f.step, f.outcome)
    )
    return [(phase, step, outcome, int(n or 0)) for phase, step, outcome, n in rows]
