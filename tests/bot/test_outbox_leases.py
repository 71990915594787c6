"""Leases renewed while a sender holds its rows, and senders woken by new rows: two
senders on two Database engines (two processes' pools), on both databases."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import select, text

from bot.clock import utc_now
from bot.database import Database
from bot.models import OutboxMessage
from bot.outbox import OutboxSender, enqueue
from bot.settings import OutboxSettings
from handlers.messages import Outbound, Rendered


class RetryAfter(Exception):
    """Like PTB's: the platform asks us to wait."""

    def __init__(self, seconds: float):
        super().__init__("Flood control exceeded")
        self.retry_after = seconds


class Recorder:
    """A channel that records each send; its first send is answered with a 429."""

    name = "test"

    def __init__(self, flood_wait: float = 0.0):
        self.flood_wait = flood_wait
        self.sent: list[str] = []
        self.at: dict[str, float] = {}

    async def send(self, chat_key: str, replies: list[Outbound]) -> None:
        if self.flood_wait:
            wait, self.flood_wait = self.flood_wait, 0.0
            raise RetryAfter(wait)
        self.sent.append(chat_key)
        self.at.setdefault(chat_key, time.monotonic())


async def to_chat(session, row, dossier, language) -> Rendered:
    return Rendered([Outbound("hello")], chat=("test", str(row.ref_id)))


def sender(database: Database, channel: Recorder, **settings: float) -> OutboxSender:
    outbox = OutboxSettings(platform_rates={"test": 1000.0}, **settings)
    return OutboxSender(database, outbox, {"test": channel}, {"flood": to_chat}, clock=utc_now)


async def test_a_sender_held_up_by_flood_control_beyond_its_lease_is_not_doubled(database):
    async with database.transaction() as session:
        for ref in (1, 2, 3):
            await enqueue(session, "flood", ref, dossier_id=None, now=utc_now())
    other = Database(database.url)
    held_up, second = Recorder(flood_wait=8.0), Recorder()
    first_sender = sender(database, held_up, lease_seconds=5, workers=1)
    second_sender = sender(other, second, lease_seconds=5)
    try:
        first = asyncio.create_task(first_sender.drain())
        while not first.done():  # the other process looks for expired leases all along
            await second_sender.drain()
            await asyncio.sleep(0.25)
        report = await first
    finally:
        await other.dispose()
    assert report.rate_limited == 1  # it did wait 8 s, well beyond the 5 s lease
    assert sorted(held_up.sent) == ["1", "2", "3"] and second.sent == []
    assert first_sender.leases.renewals >= 2
    async with database.transaction() as session:
        rows = (await session.scalars(select(OutboxMessage))).all()
    assert {(row.status, row.uncertain) for row in rows} == {("sent", 0)}


async def test_a_dead_senders_rows_are_still_taken_over_after_the_lease(database):
    async with database.transaction() as session:
        await enqueue(session, "flood", 7, dossier_id=None, now=utc_now())
    dead = sender(database, Recorder(), lease_seconds=5)
    assert len(await dead.claim()) == 1  # claimed, then never renewed: it "died"
    taker = sender(database, Recorder(), lease_seconds=5)
    assert (await taker.drain()).sent == 0  # the lease still runs
    await asyncio.sleep(5.2)
    report = await taker.drain()
    assert (report.sent, report.uncertain) == (1, 1)


async def wait_for(condition, within: float) -> float:
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < within, "not woken in time"
        await asyncio.sleep(0.02)
    return time.monotonic() - started


async def test_a_row_inserted_by_another_process_wakes_the_sender(database, backend):
    channel = Recorder()
    stop = asyncio.Event()
    running = asyncio.create_task(sender(database, channel, poll_seconds=30).run(stop))
    other = Database(database.url)
    try:
        await asyncio.sleep(0.5)  # listening
        async with other.transaction() as session:
            await enqueue(session, "flood", 1, dossier_id=None, now=utc_now())
        assert await wait_for(lambda: "1" in channel.sent, within=2.0) < 2.0  # not the 30 s poll
        async with other.transaction() as session:  # an object added, flushed at commit
            session.add(OutboxMessage(**OutboxMessage.new_row("flood", 2, None, utc_now())))
        await wait_for(lambda: "2" in channel.sent, within=2.0)
        if backend == "postgresql":
            # The listening connection is cut: the sender listens again and looks at once.
            async with other.engine.connect() as connection:
                killed = await connection.scalar(
                    text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                        " WHERE query LIKE 'LISTEN %' AND datname = current_database()"
                    )
                )
                await connection.commit()
            assert killed == 1
            await asyncio.sleep(0.1)
            async with other.transaction() as session:
                await enqueue(session, "flood", 3, dossier_id=None, now=utc_now())
            await wait_for(lambda: "3" in channel.sent, within=5.0)
    finally:
        stop.set()
        await asyncio.wait_for(running, 5)
        await other.dispose()
    assert channel.sent == ["1", "2", "3"] if backend == "postgresql" else ["1", "2"]
