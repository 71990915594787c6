"""The outbox sender: routes, retries, 429s, time-outs and crashes, on both databases."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import delete, select, update

from bot.channels import telegram as telegram_channel
from bot.models import Chat, Dossier, OutboxMessage
from bot.outbox import OutboxSender, enqueue
from bot.settings import OutboxSettings, Settings, SurveySettings, TelegramSettings
from bot.web import build_app
from handlers.dossiers.apologies import renderers
from handlers.messages import Outbound, Rendered
from tests.builders import TRANSLATOR, FakeClock, make_processor, seed_catalog
from tests.dossier_helpers import outbox, record, scan_at, upsert, vn_time
from tests.fakes.telegram import TOKEN, FakeTelegram

FAST = OutboxSettings(platform_rates={"telegram": 1000.0, "zns": 1000.0, "test": 1000.0})


class RetryAfter(Exception):
    """Like PTB's: the platform asks us to wait."""

    def __init__(self, seconds: float):
        super().__init__("Flood control exceeded")
        self.retry_after = seconds


class ScriptedChannel:
    """A channel whose next sends fail as scripted; records what it delivered."""

    def __init__(self, name: str = "test", failures: list[BaseException] | None = None):
        self.name = name
        self.failures = list(failures or [])
        self.delivered: list[tuple[str, str]] = []
        self.calls = 0

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send(self, chat_key: str, replies: list[Outbound]) -> None:
        self.calls += 1
        failure = self.failures.pop(0) if self.failures else None
        if isinstance(failure, TimeoutError):
            self.delivered.extend(
                (chat_key, reply.text) for reply in replies
            )  # accepted, then lost
        if failure is not None:
            raise failure
        self.delivered.extend((chat_key, reply.text) for reply in replies)


class FakeZns:
    def __init__(self):
        self.sent: list[tuple[str, dict[str, str], str]] = []

    async def send_template(self, phone, fields, tracking_id) -> None:
        self.sent.append((phone, dict(fields), tracking_id))


def sender(database, channels, clock, *, zns=None, settings=FAST) -> OutboxSender:
    return OutboxSender(
        database,
        settings,
        {channel.name: channel for channel in channels},
        renderers(TRANSLATOR),
        zns=zns,
        clock=clock,
    )


async def late_dossiers(database, count: int, *, link_channel: str | None = "test") -> None:
    """`count` dossiers late on Thu 4 Feb 2027, each linked to a chat of `link_channel`."""
    await seed_catalog(database)
    await upsert(database, [record(f"D{i}") for i in range(count)], vn_time(2027, 2, 1))
    if link_channel is not None:
        async with database.transaction() as session:
            for i in range(count):
                chat = Chat(
                    channel=link_channel, chat_key=str(5000 + i), created_at=vn_time(2027, 2, 1)
                )
                session.add(chat)
                await session.flush()
                await session.execute(
                    update(Dossier).where(Dossier.code == f"D{i}").values(chat_id=chat.id)
                )
    assert (await scan_at(database, vn_time(2027, 2, 4))).notices == count


async def test_routes_chat_then_zns_then_counter(database):
    await seed_catalog(database)
    await upsert(
        database,
        [record("CHAT"), record("ZNS"), record("COUNTER", phone=None)],
        vn_time(2027, 2, 1),
    )
    async with database.transaction() as session:
        chat = Chat(channel="test", chat_key="42", language="en", created_at=vn_time(2027, 2, 1))
        session.add(chat)
        await session.flush()
        await session.execute(update(Dossier).where(Dossier.code == "CHAT").values(chat_id=chat.id))
    await scan_at(database, vn_time(2027, 2, 4))
    channel, zns, clock = ScriptedChannel(), FakeZns(), FakeClock(vn_time(2027, 2, 4, 9))
    report = await sender(database, [channel], clock, zns=zns).drain()
    assert (report.sent, report.counter, report.failed) == (2, 1, 0)
    [(chat_key, text)] = channel.delivered
    assert chat_key == "42"
    assert "Letter of apology" in text and "D" not in chat_key  # English: the chat chose it
    assert "17 February 2027" in text and "3 February 2027" in text
    [(phone, fields, tracking)] = zns.sent
    assert phone == "84912345678" and fields["dossier_code"] == "ZNS"
    assert fields["new_date"] == "17/02/2027" and tracking.startswith("outbox-")
    rows = {(m.route, m.status) for m in await outbox(database)}
    assert rows == {("chat", "sent"), ("zns", "sent"), ("counter", "counter")}


async def test_without_zns_an_unlinked_notice_is_for_the_counter(database):
    await late_dossiers(database, 2, link_channel=None)
    report = await sender(database, [ScriptedChannel()], FakeClock(vn_time(2027, 2, 4))).drain()
    assert (report.sent, report.counter) == (0, 2)


async def test_429s_are_retried_and_every_notice_arrives(database):
    await late_dossiers(database, 6)
    channel = ScriptedChannel(failures=[RetryAfter(0.01), RetryAfter(0.02), RetryAfter(0.01)])
    report = await sender(database, [channel], FakeClock(vn_time(2027, 2, 4))).drain()
    assert report.sent == 6 and report.rate_limited == 3 and report.failed == 0
    assert sorted(key for key, _ in channel.delivered) == [str(5000 + i) for i in range(6)]
    assert channel.calls == 9
    assert all(m.status == "sent" for m in await outbox(database))


async def test_a_crash_between_insert_and_send_is_sent_after_restart(database):
    await late_dossiers(database, 3)
    # The process died after the scan committed: nothing was claimed yet.
    clock = FakeClock(vn_time(2027, 2, 4, 9))
    channel = ScriptedChannel()
    assert (await sender(database, [channel], clock).drain()).sent == 3
    assert len(channel.delivered) == 3


async def test_a_crash_after_claiming_resends_when_the_lease_runs_out(database, caplog):
    await late_dossiers(database, 2)
    clock = FakeClock(vn_time(2027, 2, 4, 9))
    dead = sender(database, [ScriptedChannel()], clock)
    assert len(await dead.claim()) == 2  # ... and the process died before recording
    restarted_channel = ScriptedChannel()
    restarted = sender(database, [restarted_channel], clock)
    assert (await restarted.drain()).sent == 0  # the lease still holds
    clock.advance(seconds=FAST.lease_seconds + 1)
    with caplog.at_level(logging.WARNING, logger="bot.outbox"):
        report = await restarted.drain()
    assert report.sent == 2 and report.uncertain == 2
    assert "possible duplicate" in caplog.text
    assert [m.uncertain for m in await outbox(database)] == [1, 1]


async def test_a_timed_out_send_is_retried_counted_and_logged(database, caplog):
    await late_dossiers(database, 1)
    clock = FakeClock(vn_time(2027, 2, 4, 9))
    channel = ScriptedChannel(failures=[TimeoutError()])
    outbox_sender = sender(database, [channel], clock)
    with caplog.at_level(logging.WARNING, logger="bot.outbox"):
        first = await outbox_sender.drain()
    assert (first.sent, first.retried, first.uncertain) == (0, 1, 1)
    assert "timed out" in caplog.text
    clock.advance(seconds=FAST.backoff_seconds)
    assert (await outbox_sender.drain()).sent == 1
    # The platform had accepted the first try: the citizen got it twice, and we know it.
    assert len(channel.delivered) == 2
    [message] = await outbox(database)
    assert (message.status, message.uncertain, message.attempts) == ("sent", 1, 2)


async def test_failures_back_off_then_give_up_with_the_reason(database):
    await late_dossiers(database, 1)
    settings = FAST.model_copy(update={"max_attempts": 3})
    clock = FakeClock(vn_time(2027, 2, 4, 9))
    channel = ScriptedChannel(failures=[ConnectionError("chat 84912345678 unreachable")] * 5)
    outbox_sender = sender(database, [channel], clock, settings=settings)
    await outbox_sender.drain()
    [message] = await outbox(database)
    assert message.next_attempt_at == clock.now + timedelta(seconds=30)
    clock.advance(seconds=29)
    assert (await outbox_sender.drain()).sent == 0 and channel.calls == 1  # not yet due
    clock.advance(seconds=1)
    await outbox_sender.drain()
    clock.advance(seconds=60)  # second back-off doubles
    report = await outbox_sender.drain()
    assert report.failed == 1 and channel.calls == 3
    [message] = await outbox(database)
    assert message.status == "failed"
    assert message.last_error.startswith("ConnectionError")
    assert "84912345678" not in message.last_error  # no phone number in the reason


async def test_a_blocked_chat_fails_at_once(database):
    class Forbidden(Exception):
        pass

    await late_dossiers(database, 1)
    channel = ScriptedChannel(failures=[Forbidden("bot was blocked by the user")])
    report = await sender(database, [channel], FakeClock(vn_time(2027, 2, 4))).drain()
    assert report.failed == 1 and channel.calls == 1


@pytest.fixture
async def fake_telegram():
    async with FakeTelegram(flood_rate=0.3, retry_after=1, seed=3) as fake:
        yield fake


async def test_through_the_real_telegram_channel_to_the_fake_server(database, fake_telegram):
    await late_dossiers(database, 5, link_channel="telegram")
    settings = Settings(
        database_url=database.url,
        telegram=TelegramSettings(
            bot_token=TOKEN,
            api_base_url=fake_telegram.base_url,
            chat_rate=1000,
            chat_burst=1000,
            global_rate=10_000,
            bulk_rate=10_000,
        ),
        survey=SurveySettings(),
    )
    processor = make_processor(database, FakeClock(), settings)
    channel = telegram_channel.build(settings, processor, build_app(database))
    await channel.bot.initialize()
    try:
        report = await sender(database, [channel], FakeClock(vn_time(2027, 2, 4))).drain()
    finally:
        await channel.bot.shutdown()
    assert report.sent == 5
    assert fake_telegram.floods, "the fake injected no 429: the test proves nothing"
    received = sorted(message.chat_id for message in fake_telegram.sent)
    assert received == [5000 + i for i in range(5)]
    assert all("XIN LỖI" in message.text for message in fake_telegram.sent)
    async with database.transaction() as session:
        statuses = set(await session.scalars(select(OutboxMessage.status)))
    assert statuses == {"sent"}


class Forbidden(Exception):
    """Named like PTB's `telegram.error.Forbidden`: the citizen blocked the bot."""


async def test_a_stopped_chat_gets_its_apology_by_zns_or_at_the_counter(database):
    await late_dossiers(database, 2)
    async with database.transaction() as session:
        await session.execute(
            update(Chat).where(Chat.chat_key == "5000").values(stopped_at=vn_time(2027, 2, 3))
        )
        await session.execute(update(Dossier).where(Dossier.code == "D1").values(phone=None))
        await session.execute(
            update(Chat).where(Chat.chat_key == "5001").values(stopped_at=vn_time(2027, 2, 3))
        )
    channel, zns = ScriptedChannel(), FakeZns()
    report = await sender(database, [channel], FakeClock(vn_time(2027, 2, 4, 9)), zns=zns).drain()
    assert channel.delivered == []  # /stop: nothing by chat
    assert (report.sent, report.counter) == (1, 1)
    [(phone, fields, _)] = zns.sent
    assert phone == "84912345678" and fields["dossier_code"] == "D0"
    assert {(m.route, m.status) for m in await outbox(database)} == {
        ("zns", "sent"),
        ("counter", "counter"),
    }


async def test_a_403_marks_the_chat_unreachable_and_its_next_notice_goes_by_zns(database):
    await late_dossiers(database, 1)
    clock = FakeClock(vn_time(2027, 2, 4, 9))
    channel, zns = ScriptedChannel(failures=[Forbidden("bot was blocked by the user")]), FakeZns()
    report = await sender(database, [channel], clock, zns=zns).drain()
    assert (report.sent, report.failed) == (0, 1)
    async with database.transaction() as session:
        chat = await session.scalar(select(Chat).where(Chat.chat_key == "5000"))
        assert chat.unreachable_at == clock.now
        await session.execute(update(OutboxMessage).values(status="pending", attempts=0))
    report = await sender(database, [channel], clock, zns=zns).drain()
    assert report.sent == 1 and len(zns.sent) == 1 and channel.delivered == []


async def test_an_invitation_to_a_stopped_chat_is_cancelled_not_failed(database):
    await late_dossiers(database, 1)
    async with database.transaction() as session:
        await session.execute(update(Chat).values(stopped_at=vn_time(2027, 2, 3)))
        dossier_id = await session.scalar(select(Dossier.id))
        await enqueue(
            session, "invitation", dossier_id, dossier_id=dossier_id, now=vn_time(2027, 2, 4)
        )
        await session.execute(delete(OutboxMessage).where(OutboxMessage.kind == "apology"))
    channel = ScriptedChannel()
    report = await sender(database, [channel], FakeClock(vn_time(2027, 2, 4, 9))).drain()
    assert (report.sent, report.failed, report.cancelled, channel.delivered) == (0, 0, 1, [])
    [row] = await outbox(database)
    assert (row.status, row.last_error) == ("cancelled", "chat stopped")


async def test_a_message_addressed_to_a_stopped_chat_is_cancelled(database):
    async with database.transaction() as session:
        session.add(
            Chat(
                channel="test",
                chat_key="42",
                created_at=vn_time(2027, 2, 1),
                stopped_at=vn_time(2027, 2, 2),
            )
        )
        await enqueue(session, "digest", 1, dossier_id=None, now=vn_time(2027, 2, 4))

    async def addressed(session, message, dossier, language):
        return Rendered([Outbound("digest")], chat=("test", "42"))

    channel = ScriptedChannel()
    report = await OutboxSender(
        database,
        FAST,
        {"test": channel},
        {"digest": addressed},
        clock=FakeClock(vn_time(2027, 2, 4)),
    ).drain()
    assert (report.sent, report.cancelled, channel.delivered) == (0, 1, [])
