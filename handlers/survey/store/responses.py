"""Storing completed responses: the one write path for chat answers and imports alike.

A store module. Whatever else must stay in step with the responses is maintained here,
so no caller can store a response without it: each store adds the response's counts to
its day's and its month's rollup rows (`store.rollups`) in the same transaction;
replacing a form subtracts the old one's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import delete, func, insert, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from bot.database import bulk_insert, returns_batch_ids_in_order
from bot.models import Response, ResponseAnswer
from bot.questionnaire import Questionnaire
from handlers.survey.store.rollups import Tally, apply_tally, cell_key, criterion_factors

_BATCH = 500  # ids per IN (...) list
_RESPONSES = Response.__table__
_ANSWERS = ResponseAnswer.__table__


@dataclass(frozen=True)
class NewResponse:
    """One completed response to store; the fields of `store_response`."""

    questionnaire: str
    agency_id: int
    service_id: int | None
    level: str
    day: date
    channel_kind: str
    answers: Mapping[str, int | str]
    form_id: str | None = None


def _factors_of(
    questionnaires: Mapping[str, Questionnaire], questionnaire_id: str
) -> dict[str, str]:
    """The write path needs the factors: the rollups count per factor."""
    questionnaire = questionnaires.get(questionnaire_id)
    if questionnaire is None:
        raise ValueError(f"unknown questionnaire {questionnaire_id!r}")
    return criterion_factors(questionnaire)


async def _insert_answers(session: AsyncSession, rows: list[tuple[Any, ...]]) -> None:
    """Insert (response_id, item_id, value, text) rows, after their response rows."""
    await bulk_insert(session, _ANSWERS, ("response_id", "item_id", "value", "text"), rows)


async def remove_responses(
    session: AsyncSession,
    response_ids: Sequence[int],
    questionnaires: Mapping[str, Questionnaire],
) -> None:
    """Delete responses and take their counts out of the rollups (which need the factors)."""
    tally = Tally()
    r, a = _RESPONSES.c, _ANSWERS.c
    for start in range(0, len(response_ids), _BATCH):
        chunk = list(response_ids[start : start + _BATCH])
        stored = await session.execute(
            select(
                r.id,
                r.questionnaire,
                r.response_date,
                r.agency_id,
                r.service_id,
                r.level,
                r.channel_kind,
            ).where(r.id.in_(chunk))
        )
        answers: dict[int, dict[str, int]] = {}
        for response_id, item_id, value in await session.execute(
            select(a.response_id, a.item_id, a.value).where(
                a.response_id.in_(chunk), a.value.is_not(None)
            )
        ):
            answers.setdefault(response_id, {})[item_id] = value
        for response_id, questionnaire, *cell in stored:
            tally.add_response(
                cell_key(questionnaire, *cell),
                _factors_of(questionnaires, questionnaire),
                answers.get(response_id, {}),
                sign=-1,
            )
        await session.execute(delete(_ANSWERS).where(a.response_id.in_(chunk)))
        await session.execute(delete(_RESPONSES).where(r.id.in_(chunk)))
    await apply_tally(session, tally)


async def _insert_responses(session: AsyncSession, responses: Sequence[NewResponse]) -> list[int]:
    """Insert the response rows; their ids in the order given.

    PostgreSQL returns ordered ids from one batched INSERT … RETURNING. SQLite cannot
    batch an ordered RETURNING (SQLAlchemy falls back to one INSERT per row), so the
    ids are given explicitly after the largest one: every transaction there starts with
    BEGIN IMMEDIATE (bot.database), so no other writer can take them meanwhile.
    """
    rows = [
        {
            "questionnaire": response.questionnaire,
            "agency_id": response.agency_id,
            "service_id": response.service_id,
            "level": response.level,
            "response_date": response.day,
            "channel_kind": response.channel_kind,
            "form_id": response.form_id,
        }
        for response in responses
    ]
    if not returns_batch_ids_in_order(session) and len(rows) > 1:
        first = (await session.scalar(select(func.coalesce(func.max(_RESPONSES.c.id), 0)))) + 1
        ids = list(range(first, first + len(rows)))
        await session.execute(
            insert(_RESPONSES), [{"id": i, **row} for i, row in zip(ids, rows, strict=True)]
        )
        return ids
    return list(
        await session.scalars(
            insert(_RESPONSES).returning(_RESPONSES.c.id, sort_by_parameter_order=True), rows
        )
    )


FormKey = tuple[int, str, str]


def form_key(response: NewResponse) -> FormKey:
    """What identifies a paper form: its agency and questionnaire with the office's number."""
    assert response.form_id is not None
    return (response.agency_id, response.questionnaire, response.form_id)


async def stored_forms(
    session: AsyncSession, forms: Sequence[FormKey]
) -> list[tuple[int, FormKey]]:
    """(response id, form) of those of `forms` that are already stored."""
    found: list[tuple[int, FormKey]] = []
    key = tuple_(_RESPONSES.c.agency_id, _RESPONSES.c.questionnaire, _RESPONSES.c.form_id)
    for start in range(0, len(forms), _BATCH):
        rows = await session.execute(
            select(_RESPONSES.c.id, *key.clauses).where(key.in_(forms[start : start + _BATCH]))
        )
        found += [(row[0], (row[1], row[2], row[3])) for row in rows]
    return found


async def store_responses(
    session: AsyncSession,
    responses: Sequence[NewResponse],
    questionnaires: Mapping[str, Questionnaire],
) -> list[int]:
    """Insert completed responses with their answers and rollup counts; returns their ids.

    A response whose form (agency, questionnaire and `form_id`) is already stored
    replaces that one: a re-imported paper form never counts twice. Forms must be unique
    within one call.
    """
    if not responses:
        return []
    used = {response.questionnaire for response in responses}
    factors = {q: _factors_of(questionnaires, q) for q in used}
    forms = [form_key(response) for response in responses if response.form_id is not None]
    if len(set(forms)) != len(forms):
        raise ValueError("a form appears twice among the responses to store")
    replaced = [response_id for response_id, _ in await stored_forms(session, forms)]
    if replaced:
        await remove_responses(session, replaced, questionnaires)

    ids = await _insert_responses(session, responses)
    await _insert_answers(
        session,
        [
            (response_id, item_id, value, None)
            if isinstance(value, int)
            else (response_id, item_id, None, value)
            for response_id, response in zip(ids, responses, strict=True)
            for item_id, value in response.answers.items()
        ],
    )

    tally = Tally()
    for response in responses:
        key = cell_key(
            response.questionnaire,
            response.day,
            response.agency_id,
            response.service_id,
            response.level,
            response.channel_kind,
        )
        tally.add_response(key, factors[response.questionnaire], response.answers)
    await apply_tally(session, tally)
    return ids


async def store_response(
    session: AsyncSession,
    questionnaires: Mapping[str, Questionnaire],
    *,
    questionnaire: str,
    agency_id: int,
    service_id: int | None,
    level: str,
    day: date,
    channel_kind: str,
    answers: dict[str, int | str],
    form_id: str | None = None,
) -> int:
    """Insert one anonymous response and its answers; returns the response id.

    `answers` maps item ids to a coded value (Likert 1-5, 0 = no opinion, or a
    choice's value) or to a text.
    """
    (response_id,) = await store_responses(
        session,
        [
            NewResponse(
                questionnaire, agency_id, service_id, level, day, channel_kind, answers, form_id
            )
        ],
        questionnaires,
    )
    return response_id
