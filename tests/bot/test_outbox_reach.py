"""A notice its channel cannot reach now goes another way at once (ZNS, else the counter),
through the real Zalo OA channel and its fake server, on both databases."""

from __future__ import annotations

from datetime import date

from sqlalchemy import delete, select, update

from bot import metrics
from bot.cli.compose import zns_from_channels
from bot.database import Database
from bot.models import Chat, Dossier, OutboxMessage, ZaloOAReplyWindow
from bot.outbox import OutboxSender, enqueue
from bot.settings import OutboxSettings
from handlers.dossiers.apologies import renderers
from handlers.officials.store import notice_deliveries
from tests.bot.channels.zalo_harness import make_settings, oa_settings, running
from tests.builders import TRANSLATOR, FakeClock, seed_catalog
from tests.dossier_helpers import outbox, record, scan_at, upsert, vn_time
from tests.fakes.zalo_oa import FakeZaloOA

FAST = OutboxSettings(platform_rates={"zalo_oa": 1000.0, "zns": 1000.0})
ZNS = {"zns_template_id": "231456", "zns_params": '{"ma_ho_so": "dossier_code"}'}
INSIDE, OUTSIDE, OUTSIDE_NO_PHONE = "7700001", "7700002", "7700003"


async def late_dossiers_on_zalo_oa(database: Database, keys: list[str]) -> None:
    """Dossier D<key> late on Thu 4 Feb 2027 for each chat key, linked to that Zalo OA chat;
    the one of OUTSIDE_NO_PHONE has no phone on file."""
    await seed_catalog(database)
    records = [
        record(f"D{key}", **({"phone": None} if key == OUTSIDE_NO_PHONE else {})) for key in keys
    ]
    await upsert(database, records, vn_time(2027, 2, 1))
    async with database.transaction() as session:
        for key in keys:
            chat = Chat(channel="zalo_oa", chat_key=key, created_at=vn_time(2027, 2, 1))
            session.add(chat)
            await session.flush()
            await session.execute(
                update(Dossier).where(Dossier.code == f"D{key}").values(chat_id=chat.id)
            )
    assert (await scan_at(database, vn_time(2027, 2, 4))).notices == len(keys)


def sender(database: Database, channel, clock: FakeClock) -> OutboxSender:
    return OutboxSender(
        database,
        FAST,
        {channel.name: channel},
        renderers(TRANSLATOR),
        zns=zns_from_channels([channel]),
        clock=clock,
    )


async def windows_used(database: Database) -> dict[str, int]:
    async with database.transaction() as session:
        rows = await session.execute(select(ZaloOAReplyWindow.user_id, ZaloOAReplyWindow.sent))
        return dict(rows.all())


async def test_a_notice_outside_the_free_window_goes_by_zns_or_the_counter_at_once(database):
    keys = [INSIDE, OUTSIDE, OUTSIDE_NO_PHONE]
    await late_dossiers_on_zalo_oa(database, keys)
    clock = FakeClock(vn_time(2027, 2, 4, 9))
    async with FakeZaloOA(clock) as fake:
        settings = make_settings(database, oa=oa_settings(fake, **ZNS))
        async with running(database, settings, clock) as bot:
            for key in (OUTSIDE, OUTSIDE_NO_PHONE):  # wrote three days ago: window closed
                await bot.oa.windows.open(key, vn_time(2027, 2, 1))
            await bot.oa.windows.open(INSIDE, vn_time(2027, 2, 4, 8))
            refused = metrics.value("zalo_oa_outside_window_total")
            report = await sender(database, bot.oa, clock).drain()
    assert (report.sent, report.counter, report.failed, report.retried) == (2, 1, 0, 0)
    assert [m["text"] for m in fake.messages[INSIDE]] and not fake.messages[OUTSIDE]
    [zns] = fake.zns
    assert zns["phone"] == "84912345678" and zns["template_data"] == {"ma_ho_so": f"D{OUTSIDE}"}
    rows = {(m.route, m.status, m.attempts) for m in await outbox(database)}
    assert rows == {("chat", "sent", 1), ("zns", "sent", 1), ("counter", "counter", 1)}
    # Asked, not attempted: the closed windows spent nothing and nothing was refused.
    assert await windows_used(database) == {INSIDE: 1, OUTSIDE: 0, OUTSIDE_NO_PHONE: 0}
    assert metrics.value("zalo_oa_outside_window_total") == refused
    # The officials' digest counts them as it counts a blocked Telegram chat's notices.
    async with database.transaction() as session:
        figures = await notice_deliveries(session, None, date(2027, 2, 1), date(2027, 2, 28))
    assert figures == (2, 1)


async def test_the_same_notice_goes_by_chat_once_the_citizen_writes_again(database):
    """The route is chosen at each send: a closed window is no mark on the chat."""
    await late_dossiers_on_zalo_oa(database, [OUTSIDE])
    clock = FakeClock(vn_time(2027, 2, 4, 9))
    async with FakeZaloOA(clock) as fake:
        settings = make_settings(database, oa=oa_settings(fake))  # no ZNS: the counter
        async with running(database, settings, clock) as bot:
            await bot.oa.windows.open(OUTSIDE, vn_time(2027, 2, 1))
            assert (await sender(database, bot.oa, clock).drain()).counter == 1
            async with database.transaction() as session:
                chat = await session.scalar(select(Chat))
                assert chat.unreachable_at is None and chat.stopped_at is None
                await session.execute(update(OutboxMessage).values(status="pending"))
            await bot.oa.windows.open(OUTSIDE, clock.now)
            assert (await sender(database, bot.oa, clock).drain()).sent == 1
    assert len(fake.messages[OUTSIDE]) == 1


async def test_an_invitation_outside_the_window_is_cancelled_not_retried(database):
    await late_dossiers_on_zalo_oa(database, [OUTSIDE])
    async with database.transaction() as session:
        dossier_id = await session.scalar(select(Dossier.id))
        await session.execute(delete(OutboxMessage))
        await enqueue(
            session, "invitation", dossier_id, dossier_id=dossier_id, now=vn_time(2027, 2, 4)
        )
    clock = FakeClock(vn_time(2027, 2, 4, 9))
    async with FakeZaloOA(clock) as fake:
        settings = make_settings(database, oa=oa_settings(fake, **ZNS))
        async with running(database, settings, clock) as bot:
            await bot.oa.windows.open(OUTSIDE, vn_time(2027, 2, 1))
            report = await sender(database, bot.oa, clock).drain()
    assert (report.sent, report.failed, report.cancelled, report.retried) == (0, 0, 1, 0)
    assert not fake.messages[OUTSIDE] and not fake.zns  # an invitation has no ZNS form
    [row] = await outbox(database)
    assert (row.status, row.last_error, row.lease_until) == (
        "cancelled",
        "chat out of reach now",
        None,
    )


async def test_a_notice_filling_the_rest_of_the_window_goes_by_chat(database):
    """The question counts the notice's messages: one fits in the last free reply."""
    await late_dossiers_on_zalo_oa(database, [INSIDE])
    clock = FakeClock(vn_time(2027, 2, 4, 9))
    async with FakeZaloOA(clock) as fake:
        settings = make_settings(database, oa=oa_settings(fake, **ZNS, reply_window_messages=3))
        async with running(database, settings, clock) as bot:
            await bot.oa.windows.open(INSIDE, vn_time(2027, 2, 4, 8))
            assert await bot.oa.windows.take(INSIDE, 2)
            report = await sender(database, bot.oa, clock).drain()
    assert report.sent == 1 and len(fake.messages[INSIDE]) == 1 and not fake.zns
    assert await windows_used(database) == {INSIDE: 3}
