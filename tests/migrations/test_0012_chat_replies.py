"""Migration 0012 moves the re-send marker to the chat: a survey still owed its question
(`reply_pending`) keeps that debt as a chat one reply ahead of its delivery."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text

from bot import migrate
from bot.database import Database

NOW = datetime(2026, 11, 2, tzinfo=UTC)


async def test_0012_keeps_the_surveys_owed_a_question_pending(empty_database_url, backend):
    database = Database(await empty_database_url(backend))
    try:
        await migrate.upgrade(database, "0011")
        async with database.transaction() as session:
            for chat_id, pending in ((1, True), (2, False)):
                await session.execute(
                    text(
                        "INSERT INTO chats (id, channel, chat_key, created_at) "
                        "VALUES (:id, 'telegram', :key, :now)"
                    ),
                    {"id": chat_id, "key": str(chat_id), "now": NOW},
                )
                await session.execute(
                    text(
                        "INSERT INTO survey_sessions (chat_id, status, phase, questionnaire, "
                        "step, nonce, reply_pending, started_at, updated_at) VALUES (:id, "
                        "'active', 'questions', 'sipas-2017', 0, 'abc', :pending, :now, :now)"
                    ),
                    {"id": chat_id, "pending": pending, "now": NOW},
                )
        await migrate.upgrade(database, "0012")
        async with database.transaction() as session:
            rows = await session.execute(
                text("SELECT id, reply_seq, delivered_seq, last_replies FROM chats ORDER BY id")
            )
            assert [tuple(row) for row in rows] == [(1, 1, 0, None), (2, 0, 0, None)]
    finally:
        await database.dispose()
