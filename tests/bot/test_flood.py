"""One chat's flood is dropped before any database work, still acknowledged and counted;
a citizen tapping through the questionnaire as fast as a person can is never dropped.
Time comes from an injected clock."""

from __future__ import annotations

from sqlalchemy import func, select

from bot import metrics
from bot.database import Database, is_unavailable
from bot.flood import FloodGuard
from bot.models import ProcessedUpdate, Response
from handlers.messages import Inbound, InboundKind
from tests.builders import (
    Citizen,
    FakeClock,
    make_code,
    make_processor,
    publish_held,
    seed_catalog,
)
from tests.handlers.survey.test_conversation import answer_all_by_buttons, plan

DROPPED = "inbound_flood_dropped_total"


def text(chat_key: str, body: str, key: str) -> Inbound:
    return Inbound("telegram", chat_key, InboundKind.TEXT, body, key)


async def count(database, model) -> int:
    async with database.transaction() as session:
        return await session.scalar(select(func.count()).select_from(model))


async def test_a_burst_beyond_the_bound_is_dropped_unrecorded_and_counted(database):
    await seed_catalog(database)
    clock = FakeClock()
    processor = make_processor(database, clock, flood_messages=20, flood_window_seconds=10)
    before = metrics.value(DROPPED)
    answered = [await processor.process(text("flood", "/help", f"flood:{n}")) for n in range(100)]
    assert all(answered[:20]) and not any(answered[20:])
    assert metrics.value(DROPPED) == before + 80
    # Dropped before the database: no update key was recorded for them, so nothing marks
    # them as applied, and the platform was still answered (an empty reply list).
    assert await count(database, ProcessedUpdate) == 20
    # Another chat at the same instant is not affected.
    assert await processor.process(text("calm", "/help", "calm:1"))
    # The bucket refills at 20 per 10 s: after 1 s, two more messages pass, then none.
    clock.advance(seconds=1)
    passed = [await processor.process(text("flood", "/help", f"later:{n}")) for n in range(5)]
    assert [bool(replies) for replies in passed] == [True, True, False, False, False]
    # A redelivered dropped update is applied once the chat has calmed down.
    clock.advance(seconds=10)
    assert await processor.process(text("flood", "/help", "flood:99"))


async def test_dropped_messages_never_touch_the_database():
    unreachable = Database("postgresql+asyncpg://postgres@127.0.0.1:9/none")
    try:
        clock = FakeClock()
        processor = make_processor(unreachable, clock, flood_messages=5)
        failures = 0
        for n in range(5):
            try:
                await processor.process(text("flood", "/help", f"u:{n}"))
            except Exception as error:  # noqa: BLE001 - whichever way the driver says it
                assert is_unavailable(error)
                failures += 1
        assert failures == 5  # these reached for the database (and found none)
        assert await processor.process(text("flood", "/help", "u:5")) == []
    finally:
        await unreachable.dispose()


async def test_fast_tapping_through_the_whole_survey_is_never_dropped(database):
    catalog = await seed_catalog(database)
    clock = FakeClock()
    processor = make_processor(database, clock)  # the default bound

    class Quick(Citizen):
        async def _send(self, kind, body, update_key=None):
            clock.advance(seconds=0.2)  # a tap every 0.2 s: faster than anyone reads
            return await super()._send(kind, body, update_key)

    before = metrics.value(DROPPED)
    citizen = Quick(processor, "quick")
    for _ in range(3):  # three surveys back to back from one chat: 90 messages in 18 s
        await citizen.say(f"/start {await make_code(database, catalog)}")
        await answer_all_by_buttons(citizen, plan(gate=1))
        assert citizen.last.text.startswith("Cảm ơn")
    assert metrics.value(DROPPED) == before
    assert await publish_held(database) == 3
    assert await count(database, Response) == 3


def test_memory_stays_bounded():
    guard = FloodGuard(burst=5, window_seconds=10, max_chats=100)
    for chat in range(1000):
        assert guard.allow(chat, now=0.0)
    assert guard.tracked == 100  # the cap: the least recently seen are forgotten
    # Chats idle for a whole window are full again and forgotten at the next message.
    assert guard.allow("late", now=10.0)
    assert guard.tracked == 1
    # Forgetting never drops a message: a forgotten chat starts with a full bucket.
    assert all(guard.allow(0, now=10.0) for _ in range(5))
    assert not guard.allow(0, now=10.0)
    # A clock stepping back does not refill (nor break) the bucket.
    assert not guard.allow(0, now=5.0)


def test_redeliveries_of_an_update_let_through_cost_nothing():
    """Telegram posting an update again is not the citizen writing again."""
    guard = FloodGuard(burst=3, window_seconds=10, max_chats=100)
    assert guard.allow("chat", now=0.0, update_key="u1")
    for _ in range(20):  # a storm of redeliveries of the same update
        assert guard.allow("chat", now=0.5, update_key="u1")
    # The citizen's next two messages still pass; the third within the burst is dropped.
    assert guard.allow("chat", now=1.0, update_key="u2")
    assert guard.allow("chat", now=1.0, update_key="u3")
    assert not guard.allow("chat", now=1.0, update_key="u4")
    # A dropped update is not remembered: its redelivery is counted like a new message.
    assert not guard.allow("chat", now=1.0, update_key="u4")
    # Another chat's update with the same key is no redelivery of this one.
    assert guard.allow("other", now=1.0, update_key="u1")
    # Keys are forgotten after the window (and stay bounded).
    assert guard.allow("chat", now=30.0, update_key="u5")
    assert ("chat", "u1") not in guard._let_through
