"""The Zalo OA free reply window: credits shared through the database, and given back
only for replies that certainly never reached Zalo."""

from __future__ import annotations

from bot.database import Database
from bot.zalo.windows import ReplyWindows
from tests.builders import FakeClock


async def test_a_window_holds_its_messages_and_a_new_message_opens_a_new_one(database: Database):
    clock = FakeClock()
    windows = ReplyWindows(database, hours=48, messages=8, clock=clock)
    await windows.open("u1", clock.now)
    assert await windows.take("u1", 5)
    assert not await windows.take("u1", 4)  # nothing used: 3 left
    assert await windows.take("u1", 3)
    assert not await windows.take("u1", 1)
    clock.advance(hours=1)
    await windows.open("u1", clock.now)
    assert await windows.take("u1", 8)


async def test_credits_given_back_can_be_used_again_but_never_more_than_were_taken(
    database: Database,
):
    clock = FakeClock()
    windows = ReplyWindows(database, hours=48, messages=8, clock=clock)
    await windows.open("u1", clock.now)
    for _ in range(20):  # a reply retried twenty times without a token: nothing used up
        assert await windows.take("u1", 2)
        await windows.give_back("u1", 2)
    assert await windows.take("u1", 8)
    await windows.give_back("u1", 9)  # more than was taken: refused, nothing changes
    assert not await windows.take("u1", 1)


async def test_a_closed_window_takes_nothing(database: Database):
    clock = FakeClock()
    windows = ReplyWindows(database, hours=48, messages=8, clock=clock)
    await windows.open("u1", clock.now)
    clock.advance(hours=49)
    assert not await windows.take("u1", 1)


async def test_has_room_answers_like_take_and_uses_nothing(database: Database):
    clock = FakeClock()
    windows = ReplyWindows(database, hours=48, messages=8, clock=clock)
    assert not await windows.has_room("u1", 1)  # never wrote: no window
    await windows.open("u1", clock.now)
    assert await windows.take("u1", 6)
    for _ in range(5):  # asking again and again spends nothing
        assert await windows.has_room("u1", 2)
        assert not await windows.has_room("u1", 3)
    assert await windows.take("u1", 2)
    assert not await windows.has_room("u1", 1)
    await windows.open("u2", clock.now)
    clock.advance(hours=48, seconds=1)
    assert not await windows.has_room("u2", 1)  # closed with time, though unused
