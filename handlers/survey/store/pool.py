"""The holding pool's rows: completed chat responses waiting for their day to be published.

A store module (see `handlers.survey.publication` for why the pool exists and when it is
published). Rows leave the pool only through `publish_pool`, into the one write path.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import date

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import PooledResponse
from bot.questionnaire import Questionnaire
from handlers.survey.store.responses import NewResponse, store_responses

_POOL = PooledResponse.__table__
_POOL_ID_BITS = 62  # positive in a signed 64-bit column on both databases


async def hold_response(
    session: AsyncSession,
    *,
    questionnaire: str,
    agency_id: int,
    service_id: int | None,
    level: str,
    day: date,
    channel_kind: str,
    answers: Mapping[str, int | str],
) -> None:
    """Put one completed chat response in the pool until its day is published.

    The id is random, so the pool's own order (the rowid on SQLite) says nothing
    about when it was completed.
    """
    await session.execute(
        _POOL.insert().values(
            id=secrets.randbits(_POOL_ID_BITS) or 1,
            questionnaire=questionnaire,
            agency_id=agency_id,
            service_id=service_id,
            level=level,
            response_date=day,
            channel_kind=channel_kind,
            answers=dict(answers),
        )
    )


async def publish_pool(
    session: AsyncSession, questionnaires: Mapping[str, Questionnaire], *, before: date
) -> int:
    """Store every pool row of a day before `before`, shuffled, and empty them from the pool.

    The rows are taken by one DELETE … RETURNING, so two processes publishing at once
    cannot store a row twice: on PostgreSQL the second waits for the first and then
    finds the rows gone.
    """
    taken = (
        await session.execute(
            delete(_POOL)
            .where(_POOL.c.response_date < before)
            .returning(
                _POOL.c.questionnaire,
                _POOL.c.agency_id,
                _POOL.c.service_id,
                _POOL.c.level,
                _POOL.c.response_date,
                _POOL.c.channel_kind,
                _POOL.c.answers,
            )
        )
    ).all()
    batch = [
        NewResponse(questionnaire, agency_id, service_id, level, day, channel_kind, answers)
        for questionnaire, agency_id, service_id, level, day, channel_kind, answers in taken
    ]
    secrets.SystemRandom().shuffle(batch)
    await store_responses(session, batch, questionnaires)
    return len(batch)


async def pool_size(session: AsyncSession) -> int:
    return await session.scalar(select(func.count()).select_from(_POOL)) or 0
