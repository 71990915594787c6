"""Migration 0013 gives chats `stopped_at` and `unreachable_at`: an existing chat is
neither stopped nor unreachable, and both can be set and stepped back down."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text

from bot import migrate
from bot.database import Database

NOW = datetime(2026, 12, 1, tzinfo=UTC)


async def test_0013_existing_chats_are_neither_stopped_nor_unreachable(empty_database_url, backend):
    database = Database(await empty_database_url(backend))
    try:
        await migrate.upgrade(database, "0012")
        async with database.transaction() as session:
            await session.execute(
                text(
                    "INSERT INTO chats (id, channel, chat_key, created_at) "
                    "VALUES (1, 'telegram', '1', :now)"
                ),
                {"now": NOW},
            )
        await migrate.upgrade(database, "0013")
        async with database.transaction() as session:
            row = (
                await session.execute(text("SELECT stopped_at, unreachable_at FROM chats"))
            ).one()
            assert tuple(row) == (None, None)
            await session.execute(text("UPDATE chats SET stopped_at = :now"), {"now": NOW})
        await migrate.downgrade(database, "0012")
        async with database.transaction() as session:
            assert await session.scalar(text("SELECT count(*) FROM chats")) == 1
    finally:
        await database.dispose()
