"""Storing completed responses: the one write path for chat answers and imports alike.

Whatever else must stay in step with the responses (indexes, rollups for the
reports) is maintained here, so no caller can store a response without it.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import Response, ResponseAnswer


async def store_response(
    session: AsyncSession,
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
    response_id = await session.scalar(
        insert(Response)
        .values(
            questionnaire=questionnaire,
            agency_id=agency_id,
            service_id=service_id,
            level=level,
            response_date=day,
            channel_kind=channel_kind,
            form_id=form_id,
        )
        .returning(Response.id)
    )
    assert response_id is not None
    rows = [
        {
            "response_id": response_id,
            "item_id": item_id,
            "value": value if isinstance(value, int) else None,
            "text": value if isinstance(value, str) else None,
        }
        for item_id, value in answers.items()
    ]
    if rows:
        await session.execute(insert(ResponseAnswer), rows)
    return response_id
