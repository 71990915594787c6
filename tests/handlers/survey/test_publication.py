"""The pool is published once its day is over, once, with the rollups kept right."""

from __future__ import annotations

import asyncio
from datetime import datetime

from sqlalchemy import func, select

from bot.database import Database
from bot.models import (
    DailyItem,
    DailyMoments,
    DailyResponses,
    PooledResponse,
    Response,
    RollupItem,
    RollupMoments,
    RollupResponses,
)
from handlers.survey.publication import publish_due
from handlers.survey.store.rollups import rebuild_rollups
from tests.builders import (
    QUESTIONNAIRES,
    ZONE,
    Citizen,
    FakeClock,
    make_code,
    make_processor,
    make_settings,
    seed_catalog,
)
from tests.handlers.survey.test_conversation import answer_all_by_buttons, plan


async def complete(citizen: Citizen, code: str) -> None:
    await citizen.say(f"/start {code}")
    await answer_all_by_buttons(citizen, plan(gate=2))
    assert citizen.last.text.startswith("Cảm ơn")


async def count(database: Database, model) -> int:
    async with database.transaction() as session:
        return await session.scalar(select(func.count()).select_from(model))


async def rollups(database: Database) -> list:
    async with database.transaction() as session:
        return [
            sorted(tuple(row) for row in await session.execute(select(*model.__table__.c)))
            for model in (
                RollupResponses,
                RollupItem,
                RollupMoments,
                DailyResponses,
                DailyItem,
                DailyMoments,
            )
        ]


async def test_only_days_before_today_are_published_once_and_counted(database: Database):
    catalog = await seed_catalog(database)
    clock = FakeClock(datetime(2026, 11, 23, 9, tzinfo=ZONE))
    processor = make_processor(database, clock)
    for number in range(3):
        await complete(
            Citizen(processor, chat_key=f"c{number}"), await make_code(database, catalog)
        )
    settings = make_settings(database)
    assert await count(database, PooledResponse) == 3
    # Still the same local day (23:59 in Vietnam, 16:59 UTC): nothing is published.
    evening = datetime(2026, 11, 23, 23, 59, tzinfo=ZONE)
    assert await publish_due(database, settings, QUESTIONNAIRES, evening) == 0
    assert await count(database, Response) == 0
    # A completion just after midnight belongs to the new day and stays held.
    clock.now = datetime(2026, 11, 24, 0, 10, tzinfo=ZONE)
    await complete(Citizen(processor, chat_key="late"), await make_code(database, catalog))
    # Two processes publish at once: each held response is stored once.
    now = datetime(2026, 11, 24, 0, 30, tzinfo=ZONE)
    published = await asyncio.gather(
        *(publish_due(database, settings, QUESTIONNAIRES, now) for _ in range(2))
    )
    assert sorted(published) == [0, 3]
    assert (await count(database, Response), await count(database, PooledResponse)) == (3, 1)
    # The write path kept the rollups exactly as a recount from the answers makes them.
    incremental = await rollups(database)
    assert incremental[0][0][-1] == 3  # three responses in the one cell
    async with database.transaction() as session:
        await rebuild_rollups(session, QUESTIONNAIRES)
    assert await rollups(database) == incremental
    assert await publish_due(database, settings, QUESTIONNAIRES, now, include_today=True) == 1
    assert await count(database, PooledResponse) == 0
