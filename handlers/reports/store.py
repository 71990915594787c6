"""Every query of reports: the catalogue a report names its groups with, and the counts.

The database counts report groups' answers and respondent moments, never single answers;
the drop-off figures come from `survey_funnel`, counts of ended chat sessions per day.

Whole months come from the rollups that `handlers.survey.store.rollups` keeps; the days of a
period outside whole months are counted from `responses` + `response_answers` with the SQL
`handlers.survey.store.rollups` defines, grouped the same way. Both give additive `Tally` rows,
keyed by the grouping's values, that are simply added together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Table, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import (
    Agency,
    Response,
    RollupItem,
    RollupMoments,
    RollupResponses,
    Service,
    SurveyFunnel,
)
from bot.questionnaire import Questionnaire
from handlers.reports.periods import Period
from handlers.survey.store.rollups import (
    LEVELS,
    MOMENTS,
    Tally,
    criterion_factors,
    raw_dimensions,
    raw_item_counts,
    raw_moments,
    raw_response_counts,
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


def _where(columns: Any, selection: Selection, service_column: Any) -> list[ColumnElement[bool]]:
    where = [columns.questionnaire == selection.questionnaire]
    if selection.agency_ids is not None:
        where.append(columns.agency_id.in_(selection.agency_ids))
    if selection.service_ids is not None:
        where.append(service_column.in_(selection.service_ids))
    if selection.level is not None:
        where.append(columns.level == selection.level)
    if selection.channel_kind is not None:
        where.append(columns.channel_kind == selection.channel_kind)
    return where


def _key(row: Sequence[Any], width: int) -> tuple[Any, ...]:
    return tuple(row[:width])


async def _add_rows(session: AsyncSession, tally: Tally, queries: dict[str, Any], width: int):
    for row in await session.execute(queries["responses"]):
        if row[width]:
            tally.add_count(_key(row, width), row[width])
    for row in await session.execute(queries["items"]):
        tally.add_items(_key(row, width), row[width], [v or 0 for v in row[width + 1 :]])
    for row in await session.execute(queries["moments"]):
        if row[width + 1]:
            tally.add_moments(_key(row, width), row[width], row[width + 1 :])


def _rollup_queries(
    selection: Selection, months: list[str], grouping: Sequence[str], criteria: list[str]
) -> dict[str, Any]:
    def base(table: Table) -> tuple[list[Any], list[ColumnElement[bool]]]:
        c = table.c
        dims = [c[DIMENSIONS[name]] for name in grouping]
        return dims, [*_where(c, selection, c.service_key), c.month.in_(months)]

    responses = RollupResponses.__table__
    dims, where = base(responses)
    count_query = select(*dims, func.sum(responses.c.responses)).where(*where).group_by(*dims)
    items = RollupItem.__table__
    dims, where = base(items)
    item_query = (
        select(*dims, items.c.item_id, *(func.sum(items.c[f"n{v}"]) for v in LEVELS))
        .where(*where, items.c.item_id.in_(criteria))
        .group_by(*dims, items.c.item_id)
    )
    moments = RollupMoments.__table__
    dims, where = base(moments)
    moment_query = (
        select(*dims, moments.c.scope, *(func.sum(moments.c[name]) for name in MOMENTS))
        .where(*where)
        .group_by(*dims, moments.c.scope)
    )
    return {"responses": count_query, "items": item_query, "moments": moment_query}


def _raw_queries(
    selection: Selection,
    ranges: list[tuple[Any, Any]],
    grouping: Sequence[str],
    questionnaire: Questionnaire,
) -> dict[str, Any]:
    r = Response.__table__.c
    columns = raw_dimensions()
    dims = [columns[DIMENSIONS[name]] for name in grouping]
    where = [
        *_where(r, selection, columns["service_key"]),
        or_(*(r.response_date.between(start, end) for start, end in ranges)),
    ]
    factors = criterion_factors(questionnaire)
    return {
        "responses": raw_response_counts(dims, where),
        "items": raw_item_counts(dims, factors, where),
        "moments": raw_moments(dims, factors, where),
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
    if months:
        criteria = list(criterion_factors(questionnaire))
        await _add_rows(
            session, tally, _rollup_queries(selection, months, grouping, criteria), width
        )
    if ranges:
        await _add_rows(
            session, tally, _raw_queries(selection, ranges, grouping, questionnaire), width
        )
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
