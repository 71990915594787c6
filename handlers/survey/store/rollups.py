"""Counting responses: the monthly and daily rollups, and the SQL that counts raw answers.

A store module (every statement here is the survey's). The rollups (`rollup_*` tables, see
bot/models.py) hold each cell's counts per month and per day, so a report over any
day-aligned period reads whole months from the monthly rows and the days at its ends from
the daily ones, never an answer. `store.responses`, the one write path, adds each
response's counts to its day's and its month's rows in the same transaction, and
subtracts a replaced form's. This module owns what "counted" means (which values, which
day and month, the respondent moments): the same definitions fill the rollups
incrementally and rebuild them with SQL from the answers, so the two cannot drift apart.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Executable,
    Select,
    SmallInteger,
    Table,
    case,
    cast,
    delete,
    func,
    insert,
    literal,
    literal_column,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from bot.database import block_of, execute_many, month_of, upsert
from bot.models import (
    DAILY_CELL,
    ROLLUP_CELL,
    DailyItem,
    DailyMoments,
    DailyResponses,
    Response,
    ResponseAnswer,
    RollupGeneration,
    RollupItem,
    RollupMoments,
    RollupResponses,
)
from bot.questionnaire import Questionnaire
from scoring import OVERALL

LEVELS = range(6)
"""Coded values counted per criterion: 0 = no opinion, 1..5 = the Likert levels."""

MOMENTS = ("respondents", "sum_y", "sum_m", "sum_yy", "sum_mm", "sum_ym")

_RESPONSES = Response.__table__
_ANSWERS = ResponseAnswer.__table__

CellKey = tuple[str, date, int, int, str, str]
"""(questionnaire, day, agency_id, service_key, level, channel_kind): a daily cell."""


DEKAD, PENTAD = 10, 5
"""Spans of the daily tables' blocks besides single days: a month's days 1-10, 11-20,
21-end (dekads) and 1-5, 6-10, …, 26-end (pentads), each keyed by its first day."""
BLOCKS = (DEKAD, PENTAD)  # largest first: how a period's ends are cut (`split_days`)


@dataclass(frozen=True)
class Grain:
    """One time grain of the rollups: its tables, the key column naming the time, and
    for the daily tables the span (1 = a day, 5 or 10 = a block) that tells their rows
    apart."""

    time: str  # "month" ("YYYY-MM") or "day" (a date: the day, or its block's first)
    cell: tuple[str, ...]
    responses: Table
    items: Table
    moments: Table
    span: int | None = None

    @property
    def tables(self) -> tuple[Table, Table, Table]:
        return (self.responses, self.items, self.moments)

    def key(self, cell: CellKey) -> tuple[Any, ...]:
        """A daily cell's key in this grain."""
        questionnaire, day, *rest = cell
        if self.span is None:
            return (questionnaire, month_key(day), *rest)
        return (questionnaire, self.span, block_start(day, self.span), *rest)

    def selects(self, table: Table) -> list[ColumnElement[bool]]:
        """The condition picking this grain's rows of `table`."""
        return [] if self.span is None else [table.c.span == self.span]


MONTHLY = Grain(
    "month",
    ROLLUP_CELL,
    RollupResponses.__table__,
    RollupItem.__table__,
    RollupMoments.__table__,
)
DAYS, PENTADS, DEKADS = (
    Grain(
        "day",
        DAILY_CELL,
        DailyResponses.__table__,
        DailyItem.__table__,
        DailyMoments.__table__,
        span,
    )
    for span in (1, PENTAD, DEKAD)
)
GRAINS = (MONTHLY, DAYS, PENTADS, DEKADS)


def month_key(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def block_start(day: date, span: int) -> date:
    """The first day of the block of `span` days holding `day` (`bot.database.block_of`
    in SQL): blocks start on days 1, 1 + span, …, and the last runs to the month's end."""
    if span == 1:
        return day
    return day.replace(day=min((day.day - 1) // span, 30 // span - 1) * span + 1)


def criterion_factors(questionnaire: Questionnaire) -> dict[str, str]:
    """Criterion id -> factor id: the items that are counted and how they group."""
    return {question.id: question.factor or "" for question in questionnaire.criteria()}


@dataclass
class Tally:
    """Additive counts of a set of responses by key (a rollup cell or a report group).

    `items[key, item] = [n0..n5]`; `moments[key, scope] = [respondents, Σy, Σm, Σy², Σm²,
    Σym]`. Counts of disjoint sets add up, which is what makes rollups, replacement
    (adding with sign -1) and the merging of report groups exact.
    """

    responses: dict[Any, int] = field(default_factory=dict)
    items: dict[tuple[Any, str], list[int]] = field(default_factory=dict)
    moments: dict[tuple[Any, str], list[int]] = field(default_factory=dict)

    def add_response(
        self, key: Any, factors: Mapping[str, str], answers: Mapping[str, Any], sign: int = 1
    ) -> None:
        """Count one response's criterion answers (values 0..5; anything else is ignored)."""
        self.responses[key] = self.responses.get(key, 0) + sign
        per_scope: dict[str, list[int]] = {}
        overall = [0, 0]
        for item_id, value in answers.items():
            factor = factors.get(item_id)
            if factor is None or not isinstance(value, int) or not 0 <= value <= 5:
                continue  # stored like any answer, but not a Likert level: not counted
            value = int(value)
            counts = self.items.get((key, item_id))
            if counts is None:
                counts = self.items[key, item_id] = [0] * 6
            counts[value] += sign
            if value:
                ym = per_scope.get(factor)
                if ym is None:
                    ym = per_scope[factor] = [0, 0]
                satisfied = value >= 4
                ym[0] += satisfied
                ym[1] += 1
                overall[0] += satisfied
                overall[1] += 1
        if overall[1]:
            per_scope[OVERALL] = overall
        for scope, (y, m) in per_scope.items():
            self.add_moments(
                key, scope, [sign, sign * y, sign * m, sign * y * y, sign * m * m, sign * y * m]
            )

    def add_items(self, key: Any, item_id: str, levels: Sequence[int]) -> None:
        counts = self.items.setdefault((key, item_id), [0] * 6)
        for level, count in enumerate(levels):
            counts[level] += int(count)

    def add_moments(self, key: Any, scope: str, sums: Sequence[int]) -> None:
        current = self.moments.setdefault((key, scope), [0] * 6)
        for index, value in enumerate(sums):
            current[index] += int(value)

    def add_count(self, key: Any, responses: int) -> None:
        self.responses[key] = self.responses.get(key, 0) + int(responses)

    def merge(self, other: Tally, key_map: Any = None) -> None:
        """Add `other` into this tally, optionally renaming its keys with `key_map(key)`."""
        rename = key_map or (lambda key: key)
        for key, count in other.responses.items():
            self.add_count(rename(key), count)
        for (key, item_id), levels in other.items.items():
            self.add_items(rename(key), item_id, levels)
        for (key, scope), sums in other.moments.items():
            self.add_moments(rename(key), scope, sums)


def raw_dimensions(grain: Grain) -> dict[str, ColumnElement[Any]]:
    """The grain's cell computed from `responses`, by rollup column name."""
    r = _RESPONSES.c
    time: dict[str, ColumnElement[Any]] = {"month": month_of(r.response_date)}
    if grain.span is not None:
        day = r.response_date if grain.span == 1 else block_of(r.response_date, grain.span)
        # a cast, not a bare number: "GROUP BY 10" would name the tenth column
        time = {"span": cast(literal_column(str(grain.span)), SmallInteger), "day": day}
    return {
        "questionnaire": r.questionnaire,
        **time,
        "agency_id": r.agency_id,
        "service_key": func.coalesce(r.service_id, 0),
        "level": r.level,
        "channel_kind": r.channel_kind,
    }


def raw_response_counts(
    dims: Sequence[ColumnElement[Any]], where: Sequence[ColumnElement[bool]]
) -> Select[Any]:
    """(dims..., responses) over `responses`."""
    return (
        select(*dims, func.count().label("responses"))
        .select_from(_RESPONSES)
        .where(*where)
        .group_by(*dims)
    )


def _levels(value: Any) -> list[ColumnElement[int]]:
    return [func.sum(case((value == level, 1), else_=0)).label(f"n{level}") for level in LEVELS]


def raw_item_counts(
    dims: Sequence[ColumnElement[Any]],
    criteria: Iterable[str],
    where: Sequence[ColumnElement[bool]],
) -> Select[Any]:
    """(dims..., item_id, n0..n5): conditional sums over the answers to the criteria."""
    a = _ANSWERS.c
    return (
        select(*dims, a.item_id, *_levels(a.value))
        .select_from(_RESPONSES.join(_ANSWERS, a.response_id == _RESPONSES.c.id))
        .where(*where, a.item_id.in_(list(criteria)))
        .group_by(*dims, a.item_id)
    )


def raw_moments(
    dims: Sequence[ColumnElement[Any]],
    factors: Mapping[str, str],
    where: Sequence[ColumnElement[bool]],
) -> Select[Any]:
    """(dims..., scope, respondents, Σy, Σm, Σy², Σm², Σym), per factor and overall.

    The inner query computes each response's y (answers at 4-5) and m (answers at 1-5)
    per factor; the outer ones sum them and their squares and products over the
    responses with m >= 1, as `scoring.RespondentMoments` defines them.
    """
    a = _ANSWERS.c
    factor = case(dict(factors), value=a.item_id)
    labelled = [dim.label(f"d{index}") for index, dim in enumerate(dims)]
    per_factor = (
        select(
            _RESPONSES.c.id.label("rid"),
            *labelled,
            factor.label("scope"),
            func.sum(case((a.value.between(4, 5), 1), else_=0)).label("y"),
            func.sum(case((a.value.between(1, 5), 1), else_=0)).label("m"),
        )
        .select_from(_RESPONSES.join(_ANSWERS, a.response_id == _RESPONSES.c.id))
        .where(*where, a.item_id.in_(list(factors)))
        .group_by(_RESPONSES.c.id, *dims, factor)
        .cte("per_factor")
    )
    outer_dims = [per_factor.c[f"d{index}"] for index in range(len(dims))]
    per_response = (
        select(
            per_factor.c.rid,
            *outer_dims,
            func.sum(per_factor.c.y).label("y"),
            func.sum(per_factor.c.m).label("m"),
        )
        .group_by(per_factor.c.rid, *outer_dims)
        .subquery("per_response")
    )

    def sums(source: Any, scope: Any, group: Sequence[Any]) -> Select[Any]:
        y, m = source.c.y, source.c.m
        return (
            select(
                *(source.c[f"d{index}"] for index in range(len(dims))),
                scope.label("scope"),
                func.count().label("respondents"),
                func.sum(y).label("sum_y"),
                func.sum(m).label("sum_m"),
                func.sum(y * y).label("sum_yy"),
                func.sum(m * m).label("sum_mm"),
                func.sum(y * m).label("sum_ym"),
            )
            .where(m > 0)
            .group_by(*group)
        )

    inner_dims = [per_response.c[f"d{index}"] for index in range(len(dims))]
    return union_all(
        sums(per_factor, per_factor.c.scope, [*outer_dims, per_factor.c.scope]),
        sums(per_response, literal(OVERALL), inner_dims),
    )


def rollup_rebuild_statements(
    questionnaires: Mapping[str, Questionnaire], grains: Sequence[Grain] = GRAINS
) -> list[Executable]:
    """Statements that empty the rollups and count every stored response into them again.

    For the migrations that create the rollups (each passes the grains it creates), and
    for `responses rebuild-rollups` after a questionnaire file moved a criterion to
    another factor. Responses of a questionnaire without a file cannot be classified and
    are left out, as from reports.
    """
    statements: list[Executable] = []
    for grain in grains:
        statements += [delete(table).where(*grain.selects(table)) for table in grain.tables]
        dims = list(raw_dimensions(grain).values())
        for questionnaire in questionnaires.values():
            where = [_RESPONSES.c.questionnaire == questionnaire.id]
            factors = criterion_factors(questionnaire)
            statements += [
                insert(grain.responses).from_select(
                    [*grain.cell, "responses"], raw_response_counts(dims, where)
                ),
                insert(grain.items).from_select(
                    [*grain.cell, "item_id", *(f"n{level}" for level in LEVELS)],
                    raw_item_counts(dims, factors, where),
                ),
                insert(grain.moments).from_select(
                    [*grain.cell, "scope", *MOMENTS], raw_moments(dims, factors, where)
                ),
            ]
    return statements


async def rebuild_rollups(
    session: AsyncSession, questionnaires: Mapping[str, Questionnaire]
) -> None:
    """Recount the rollups from the stored answers (see `rollup_rebuild_statements`)."""
    await raise_generation(session)
    for statement in rollup_rebuild_statements(questionnaires):
        await session.execute(statement)


_GENERATION = RollupGeneration.__table__


async def raise_generation(session: AsyncSession) -> None:
    """Give the rollups a new generation, in the writer's transaction and before its
    first rollup row: every writer then locks this row first (no deadlock between two),
    and a reader that reads the generation before the rollups never keeps older counts
    under a newer generation (`handlers.reports.counts_cache`). A random value, not a
    count: two databases (or one emptied and refilled) never share a generation."""
    statement = upsert(
        session, _GENERATION, ("id",), {"id": 1, "value": new_generation()}, replace=("value",)
    )
    await session.execute(statement)


def new_generation() -> int:
    return secrets.randbits(62)


async def rollup_generation(session: AsyncSession) -> int | None:
    """The rollups' generation now; None when there is none (nothing may be kept)."""
    return await session.scalar(select(_GENERATION.c.value).where(_GENERATION.c.id == 1))


async def add_counts(
    session: AsyncSession, table: Any, rows: list[tuple[Any, ...]], keys: Sequence[str]
) -> None:
    """Add `rows` (key values, then counters) to a table of counts: `INSERT … ON CONFLICT
    DO UPDATE SET c = c + excluded.c` (the rollups, and the survey funnel).

    Rows go in key order, so two transactions touching the same rows lock them in the
    same order and cannot deadlock on PostgreSQL.
    """
    if not rows:
        return
    rows.sort(key=lambda row: row[: len(keys)])
    counters = [column.name for column in table.columns if column.name not in keys]
    statement = upsert(session, table, keys, increment=counters)
    await execute_many(session, statement, [*keys, *counters], rows)


async def apply_tally(session: AsyncSession, tally: Tally) -> None:
    """Add a tally keyed by daily cell to every grain's rollups (the daily tables take
    days and blocks alike), raising the generation first (see `raise_generation`)."""
    await raise_generation(session)
    for grain in GRAINS:
        counts = Tally()
        counts.merge(tally, grain.key)
        await add_counts(
            session,
            grain.responses,
            [(*key, count) for key, count in counts.responses.items()],
            grain.cell,
        )
        await add_counts(
            session,
            grain.items,
            [(*key, item_id, *levels) for (key, item_id), levels in counts.items.items()],
            (*grain.cell, "item_id"),
        )
        await add_counts(
            session,
            grain.moments,
            [(*key, scope, *sums) for (key, scope), sums in counts.moments.items()],
            (*grain.cell, "scope"),
        )


def cell_key(
    questionnaire: str,
    day: date,
    agency_id: int,
    service_id: int | None,
    level: str,
    channel_kind: str,
) -> CellKey:
    return (questionnaire, day, agency_id, service_id or 0, level, channel_kind)
