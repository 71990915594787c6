"""The dialect helpers of bot.database behave alike on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Date, literal, select

from bot.database import (
    Database,
    LockKey,
    month_of,
    record_update_and_lock_chat,
    transaction_lock,
    upsert,
)
from bot.models import Chat, Response, ZaloOAReplyWindow


async def test_upsert_inserts_then_increments_replaces_and_assigns(database):
    table = ZaloOAReplyWindow.__table__
    moment = datetime(2026, 1, 2, 3, tzinfo=UTC)

    async def put(sent: int, at: datetime = moment, **how) -> tuple[datetime, int]:
        async with database.transaction() as session:
            values = {"user_id": "u1", "opened_at": at, "sent": sent}
            await session.execute(upsert(session, table, ["user_id"], values, **how))
            rows = (await session.execute(select(table.c.opened_at, table.c.sent))).all()
        assert len(rows) == 1
        return rows[0].opened_at, rows[0].sent

    assert await put(3, increment=["sent"]) == (moment, 3)
    assert await put(4, increment=["sent"]) == (moment, 7)
    later = moment + timedelta(hours=1)
    assert await put(2, later, replace=["opened_at", "sent"]) == (later, 2)
    # A `where` that the stored row does not meet leaves it alone.
    newer = lambda new: table.c.opened_at < new.opened_at  # noqa: E731
    assert await put(9, moment, assign={"sent": 0}, replace=["opened_at"], where=newer) == (
        later,
        2,
    )
    assert await put(9, later + timedelta(hours=1), assign={"sent": 0}, where=newer) == (later, 0)


async def test_month_of_compiles_for_either_database(database, backend):
    async with database.transaction() as session:
        month = await session.scalar(
            select(month_of(Response.__table__.c.response_date))
            .select_from(Response.__table__)
            .limit(1)
        )
        assert month is None  # no rows; the expression compiled and ran
        literal_month = await session.scalar(select(month_of(literal(date(2026, 3, 9), Date))))
    assert literal_month == "2026-03"


async def test_transaction_lock_is_taken_on_either_database(database):
    async with database.transaction() as session:
        await transaction_lock(session, LockKey.DOSSIER_WRITES)
        assert session.in_transaction()


async def test_a_second_process_leads_only_once_the_first_released(database, backend):
    other = Database(database.url)
    try:
        assert await database.leadership.check()
        assert await database.leadership.check()  # re-checked, still held
        if backend == "postgresql":
            assert not await other.leadership.check()
            await database.leadership.release()
            assert await other.leadership.check()
            assert not await database.leadership.check()
            await other.dispose()  # disposing gives the lock up too
            assert await database.leadership.check()
        else:
            assert await other.leadership.check()  # one writing process: always leader
    finally:
        await other.dispose()
        await database.leadership.release()


async def test_recording_an_update_locks_its_chat_with_every_column_in_place(database):
    now = datetime(2026, 12, 1, 8, 30, tzinfo=UTC)
    values = {"channel": "telegram", "chat_key": "77", "language": "en", "created_at": now}
    values |= {"reply_seq": 3, "delivered_seq": 2, "last_replies": "[]", "reply_owner": "p1"}
    values |= {"reply_lease_until": now, "stopped_at": now, "unreachable_at": now}
    values |= {"privacy_noticed_at": now}
    async with database.transaction() as session:
        session.add(Chat(**values))
    async with database.transaction() as session:
        fresh, chat = await record_update_and_lock_chat(session, "u1", now, "telegram", "77")
        assert fresh and chat is not None
        assert {name: getattr(chat, name) for name in values} == values
    async with database.transaction() as session:
        assert await record_update_and_lock_chat(session, "u1", now, "telegram", "77") == (
            False,
            None,
        )
        # A chat with no row yet: the key is recorded, the caller creates the row.
        assert await record_update_and_lock_chat(session, "u2", now, "telegram", "78") == (
            True,
            None,
        )


async def test_an_update_delivered_to_two_processes_at_once_is_new_to_one(database):
    """Two engines (two processes' pools): the second waits for the first's commit on
    the key and the chat's row, then finds the key taken."""
    now = datetime(2026, 12, 1, 8, 30, tzinfo=UTC)
    async with database.transaction() as session:
        session.add(Chat(channel="telegram", chat_key="9", created_at=now))
    other = Database(database.url)
    first_holds = asyncio.Event()

    async def take(db: Database, hold: bool) -> bool:
        async with db.write_turn, db.transaction() as session:
            fresh, _ = await record_update_and_lock_chat(session, "same", now, "telegram", "9")
            if hold:
                first_holds.set()
                await asyncio.sleep(0.2)
            return fresh

    try:
        first = asyncio.create_task(take(database, True))
        await first_holds.wait()
        second = await take(other, False)
        assert (await first, second) == (True, False)
    finally:
        await other.dispose()
