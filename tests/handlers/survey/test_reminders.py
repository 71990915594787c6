"""One reminder for a survey left unfinished, through the real inbound path and outbox,
on both databases: once per session, never at night, never outside the free window,
never after /stop, /cancel, the citizen's return, or a blocked chat."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update

from bot.cli.compose import build_sender
from bot.database import Database
from bot.models import Chat, OutboxMessage, ZaloOAReplyWindow
from bot.outbox import OutboxSender
from bot.settings import OutboxSettings
from handlers.messages import Outbound
from handlers.survey import reminders
from tests.builders import (
    QUESTIONNAIRES,
    TRANSLATOR,
    ZONE,
    Citizen,
    FakeClock,
    make_code,
    make_processor,
    make_settings,
    seed_catalog,
)

FAST = OutboxSettings(platform_rates={"telegram": 1000.0, "zalo_oa": 1000.0})
Q2017 = QUESTIONNAIRES["sipas-2017"]


class Forbidden(Exception):
    """Named like PTB's: the citizen blocked the bot."""


class Chats:
    """A running channel that records what it was given to send, or refuses as scripted."""

    def __init__(self, name: str = "telegram", failures: list[Exception] | None = None):
        self.name = name
        self.failures = list(failures or [])
        self.sent: list[tuple[str, Outbound]] = []

    async def send(self, chat_key: str, replies: list[Outbound]) -> None:
        if self.failures:
            raise self.failures.pop(0)
        self.sent.extend((chat_key, reply) for reply in replies)


def local(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=ZONE)


def sender_for(database: Database, clock: FakeClock, channel: Chats) -> OutboxSender:
    return OutboxSender(
        database,
        FAST,
        {channel.name: channel},
        reminders.renderers(make_settings(database), TRANSLATOR, QUESTIONNAIRES, clock),
        clock=clock,
    )


async def stopped_half_way(
    database: Database, clock: FakeClock, chat_key: str = "1001", answers: int = 3, **kw
) -> Citizen:
    """A citizen who answers `answers` questions at the clock's time, then goes quiet."""
    catalog = kw.pop("catalog", None) or await seed_catalog(database)
    citizen = Citizen(make_processor(database, clock), chat_key, **kw)
    await citizen.say(f"/start {await make_code(database, catalog)}")
    for _ in range(answers):
        await citizen.tap(4)
    return citizen


async def rows(database: Database) -> list[OutboxMessage]:
    async with database.transaction() as session:
        return list((await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all())


async def run_at(database: Database, when: datetime, **survey) -> reminders.ReminderReport:
    return await reminders.run_due(database, make_settings(database, **survey), when)


async def test_exactly_one_reminder_across_runs_and_processes_with_the_question(database):
    clock = FakeClock(local(23, 14))
    await stopped_half_way(database, clock)
    other = Database(database.url)  # a second process on the same database
    try:
        assert (await run_at(database, local(24, 9, 50))).created == 0  # 19 h 50: not yet
        first = await run_at(database, local(24, 10, 5))
        second = await reminders.run_due(other, make_settings(other), local(24, 10, 5))
        third = await run_at(database, local(24, 10, 15))
    finally:
        await other.dispose()
    assert (first.created, second.created, third.created) == (1, 0, 0)
    [row] = await rows(database)
    assert (row.kind, row.status) == ("reminder", "pending")
    channel, clock.now = Chats(), local(24, 10, 5)
    report = await sender_for(database, clock, channel).drain()
    assert report.sent == 1
    [(chat_key, reply)] = channel.sent
    assert chat_key == "1001"
    assert reply.text.startswith(TRANSLATOR("vi", "reminder"))
    assert "Câu 4/29" in reply.text and Q2017.questions[3].text["vi"] in reply.text
    assert [c.payload.rsplit(".", 1)[1] for c in reply.choices] == ["1", "2", "3", "4", "5", "0"]
    assert (await sender_for(database, clock, channel).drain()).sent == 0
    assert len(channel.sent) == 1


async def test_the_reminder_buttons_answer_the_current_question(database):
    clock = FakeClock(local(23, 14))
    citizen = await stopped_half_way(database, clock)
    await run_at(database, local(24, 10, 5))
    channel, clock.now = Chats(), local(24, 10, 5)
    await sender_for(database, clock, channel).drain()
    [(_, reply)] = channel.sent
    await citizen.press(reply.choices[4].payload)
    assert "Câu 5/29" in citizen.last.text


async def test_at_night_it_waits_for_seven_in_the_morning(database):
    clock = FakeClock(local(23, 10))  # due at 06:00: night, the window is open until 10:00
    await stopped_half_way(database, clock)
    assert (await run_at(database, local(24, 6, 5))).created == 1
    [row] = await rows(database)
    assert row.next_attempt_at == local(24, 7)
    channel = Chats()
    clock.now = local(24, 6, 30)
    assert (await sender_for(database, clock, channel).drain()).sent == 0
    clock.now = local(24, 7, 0)
    assert (await sender_for(database, clock, channel).drain()).sent == 1
    assert len(channel.sent) == 1


async def test_a_row_claimed_at_night_is_postponed_not_sent(database):
    clock = FakeClock(local(23, 15))
    await stopped_half_way(database, clock)
    # After 4 h, at 19:00, the row is due at once; the sender, down, claims it at 22:00.
    assert (await run_at(database, local(23, 19), reminder_hours=4)).created == 1
    channel, clock.now = Chats(), local(23, 22)
    report = await sender_for(database, clock, channel).drain()
    assert (report.sent, report.postponed) == (0, 1) and channel.sent == []
    [row] = await rows(database)
    assert (row.status, row.next_attempt_at, row.attempts) == ("pending", local(24, 7), 0)
    clock.now = local(24, 7)
    assert (await sender_for(database, clock, channel).drain()).sent == 1


async def test_none_when_the_window_closes_before_the_morning(database):
    clock = FakeClock(local(23, 2))  # due 22:00; 07:00 is 29 h after the last message
    await stopped_half_way(database, clock)
    report = await run_at(database, local(23, 22, 5))
    assert (report.created, report.not_sent) == (0, 1)
    [row] = await rows(database)
    assert (row.status, row.last_error) == ("cancelled", reminders.NIGHT)
    assert (await run_at(database, local(25, 8))).not_sent == 0  # decided once
    channel, clock.now = Chats(), local(25, 8)
    assert (await sender_for(database, clock, channel).drain()).sent == 0
    assert channel.sent == []


async def test_none_outside_the_window_when_the_job_ran_late(database):
    clock = FakeClock(local(23, 14))
    await stopped_half_way(database, clock)
    report = await run_at(database, local(24, 15))  # 25 h: Telegram's 24 h are over
    assert (report.created, report.not_sent) == (0, 1)
    [row] = await rows(database)
    assert (row.status, row.last_error) == ("cancelled", reminders.OUTSIDE_WINDOW)


async def test_none_after_stop_typed_and_start_lifts_it(database):
    clock = FakeClock(local(23, 14))
    citizen = await stopped_half_way(database, clock)
    await citizen.say("  DỪNG ")
    assert citizen.last.text == TRANSLATOR("vi", "stopped")
    assert (await run_at(database, local(24, 14, 30))).created == 0
    assert await rows(database) == []
    await citizen.say("/start")  # lifted; the survey goes on where it was
    assert TRANSLATOR("vi", "stop_lifted") in citizen.text() and "Câu 4/29" in citizen.text()
    async with database.transaction() as session:
        assert await session.scalar(select(Chat.stopped_at)) is None


async def test_none_when_stop_comes_after_the_row_was_made(database):
    clock = FakeClock(local(23, 14))
    citizen = await stopped_half_way(database, clock)
    await run_at(database, local(24, 10, 5))
    clock.now = local(24, 10, 6)
    await citizen.say("/stop")
    channel = Chats()
    report = await sender_for(database, clock, channel).drain()
    assert (report.sent, report.cancelled, channel.sent) == (0, 1, [])
    [row] = await rows(database)
    assert row.status == "cancelled"


async def test_none_after_the_citizen_came_back(database):
    clock = FakeClock(local(23, 14))
    citizen = await stopped_half_way(database, clock)
    await run_at(database, local(24, 10, 5))
    clock.now = local(24, 10, 7)
    await citizen.tap(4)  # answered before the sender got to the row
    channel = Chats()
    report = await sender_for(database, clock, channel).drain()
    assert (report.sent, report.cancelled, channel.sent) == (0, 1, [])
    [row] = await rows(database)
    assert (row.status, row.last_error) == ("cancelled", "citizen came back")
    # and that session is never reminded again, even if the citizen stops once more
    assert (await run_at(database, local(25, 11))).created == 0


async def test_none_after_cancel_or_expiry(database):
    catalog = await seed_catalog(database)
    clock = FakeClock(local(23, 14))
    quitter = await stopped_half_way(database, clock, "1", catalog=catalog)
    await stopped_half_way(database, clock, "2", catalog=catalog)
    await quitter.say("/cancel")
    assert (await run_at(database, local(24, 10, 5))).created == 1  # only the second
    await make_processor(database, clock).expire_idle(local(27, 10))
    channel, clock.now = Chats(), local(27, 10)
    report = await sender_for(database, clock, channel).drain()
    assert (report.sent, report.cancelled, channel.sent) == (0, 1, [])


async def test_a_blocked_chat_becomes_unreachable_and_is_not_reminded(database):
    catalog = await seed_catalog(database)
    clock = FakeClock(local(23, 14))
    await stopped_half_way(database, clock, "1", catalog=catalog)
    await run_at(database, local(24, 10, 5))
    channel, clock.now = (
        Chats(failures=[Forbidden("bot was blocked by the user")]),
        local(24, 10, 5),
    )
    report = await sender_for(database, clock, channel).drain()
    assert (report.sent, report.failed) == (0, 1)
    async with database.transaction() as session:
        assert await session.scalar(select(Chat.unreachable_at)) == local(24, 10, 5)
    # Another survey of that chat, left unfinished while it stays unreachable:
    blocked = await stopped_half_way(database, clock, "1", catalog=catalog)
    async with database.transaction() as session:
        await session.execute(update(Chat).values(unreachable_at=clock.now))
    assert (await run_at(database, local(25, 9))).created == 0
    await blocked.tap(4)  # writing again shows the block was lifted
    async with database.transaction() as session:
        assert await session.scalar(select(Chat.unreachable_at)) is None


async def test_zalo_oa_needs_its_counted_reply_window(database):
    catalog = await seed_catalog(database)
    clock = FakeClock(local(23, 14))
    await stopped_half_way(database, clock, "oa-1", catalog=catalog, channel="zalo_oa")
    await stopped_half_way(database, clock, "oa-2", catalog=catalog, channel="zalo_oa")
    async with database.transaction() as session:  # as the OA webhook opens it
        session.add(ZaloOAReplyWindow(user_id="oa-1", opened_at=local(23, 14), sent=3))
    report = await run_at(database, local(24, 10, 5))
    assert (report.created, report.not_sent) == (1, 1)  # oa-2 has no open window
    channel, clock.now = Chats("zalo_oa"), local(24, 10, 5)
    assert (await sender_for(database, clock, channel).drain()).sent == 1
    assert [key for key, _ in channel.sent] == ["oa-1"]


async def test_the_running_bot_learns_to_send_reminders(database):
    settings = make_settings(database)
    sender = build_sender(database, settings, [], TRANSLATOR, questionnaires=QUESTIONNAIRES)
    assert "reminder" in sender.renderers


def test_night_and_window_arithmetic():
    closes = local(24, 10)
    assert reminders.allowed_at(local(24, 6), closes, ZONE) == (local(24, 7), None)
    assert reminders.allowed_at(local(23, 21), closes, ZONE) == (local(24, 7), None)
    assert reminders.allowed_at(local(23, 20, 59), closes, ZONE) == (local(23, 20, 59), None)
    assert reminders.allowed_at(local(24, 6), local(24, 7), ZONE) == (None, reminders.NIGHT)
    assert reminders.allowed_at(local(24, 10), closes, ZONE)[0] is None
    assert reminders.allowed_at(local(24, 9), None, ZONE)[0] is None
    assert timedelta(hours=24) == reminders.FREE_WINDOW
