"""Every query of the dashboard: the catalogue's agencies and the citizens' open suggestions.

The figures themselves come from `handlers.reports.build_report` (rollups), never from
here. Suggestions are read from `response_answers.text` with the response's day only:
no id, chat, form number or time leaves this module, and they are ordered by day then
text, so not even the order of insertion shows through.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import Agency, Response, ResponseAnswer


async def agency_rows(session: AsyncSession) -> list[Any]:
    """Every agency as (id, code, name, level, successor_code)."""
    return list(
        await session.execute(
            select(Agency.id, Agency.code, Agency.name, Agency.level, Agency.successor_code)
        )
    )


@dataclass(frozen=True)
class SuggestionQuery:
    """Which text answers: these agencies' responses to one questionnaire, days start..end,
    answers to the questionnaire's text questions `item_ids`."""

    questionnaire: str
    agency_ids: tuple[int, ...]
    item_ids: tuple[str, ...]
    start: date
    end: date


def _where(query: SuggestionQuery) -> list[Any]:
    return [
        Response.questionnaire == query.questionnaire,
        Response.agency_id.in_(query.agency_ids),
        Response.response_date.between(query.start, query.end),
        ResponseAnswer.item_id.in_(query.item_ids),
        ResponseAnswer.text.is_not(None),
        func.length(func.trim(ResponseAnswer.text)) > 0,
    ]


async def suggestions(
    session: AsyncSession, query: SuggestionQuery, limit: int
) -> tuple[list[tuple[date, str]], int]:
    """(the first `limit` suggestions as (day, text), ordered by day then text; how many
    there are in all)."""
    if not query.agency_ids or not query.item_ids:
        return [], 0
    joined = ResponseAnswer.__table__.join(
        Response.__table__, ResponseAnswer.response_id == Response.id
    )
    where = _where(query)
    total = await session.scalar(select(func.count()).select_from(joined).where(*where))
    rows: Sequence[Any] = (
        await session.execute(
            select(Response.response_date, ResponseAnswer.text)
            .select_from(joined)
            .where(*where)
            .order_by(Response.response_date, ResponseAnswer.text)
            .limit(limit)
        )
    ).all()
    return [(row[0], row[1]) for row in rows], int(total or 0)
