"""Every message handed to a platform is counted in sipas_sends_total by platform and
outcome, at the platform clients, against the fake servers."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from bot import metrics
from bot.channels import telegram as telegram_channel
from bot.database import Database
from bot.models import Chat, Dossier
from bot.outbox import OutboxSender
from bot.settings import OutboxSettings, Settings, SurveySettings, TelegramSettings
from bot.web import build_app
from bot.zalo.bot_api import ZaloBotError
from bot.zalo.oa_api import ZaloOAError
from bot.zalo.zns import ZnsClient
from handlers.dossiers.apologies import renderers
from handlers.messages import Outbound
from tests.bot.channels.zalo_harness import bot_settings, make_settings, oa_settings, running
from tests.builders import TRANSLATOR, FakeClock, make_processor, seed_catalog
from tests.dossier_helpers import record, scan_at, upsert, vn_time
from tests.fakes.telegram import TOKEN, FakeTelegram
from tests.fakes.zalo_bot import FakeZaloBot
from tests.fakes.zalo_oa import FakeZaloOA

OUTCOMES = ("sent", "429", "failed", "uncertain")


def counts(platform: str) -> dict[str, int]:
    return {o: metrics.value(metrics.SENDS, platform=platform, outcome=o) for o in OUTCOMES}


def delta(platform: str, before: dict[str, int]) -> dict[str, int]:
    return {o: n - before[o] for o, n in counts(platform).items() if n != before[o]}


async def telegram_linked_notices(database: Database, count: int) -> None:
    await seed_catalog(database)
    await upsert(database, [record(f"D{i}") for i in range(count)], vn_time(2027, 2, 1))
    async with database.transaction() as session:
        for i in range(count):
            chat = Chat(channel="telegram", chat_key=str(5000 + i), created_at=vn_time(2027, 2, 1))
            session.add(chat)
            await session.flush()
            await session.execute(
                update(Dossier).where(Dossier.code == f"D{i}").values(chat_id=chat.id)
            )
    assert (await scan_at(database, vn_time(2027, 2, 4))).notices == count


async def test_telegram_counts_sent_and_429_not_other_calls(database: Database):
    await telegram_linked_notices(database, 5)
    async with FakeTelegram(flood_rate=0.3, retry_after=1, seed=3) as fake:
        settings = Settings(
            database_url=database.url,
            telegram=TelegramSettings(
                bot_token=TOKEN,
                api_base_url=fake.base_url,
                chat_rate=1000,
                chat_burst=1000,
                global_rate=10_000,
                bulk_rate=10_000,
            ),
            survey=SurveySettings(),
        )
        processor = make_processor(database, FakeClock(), settings)
        channel = telegram_channel.build(settings, processor, build_app(database))
        before = counts("telegram")
        await channel.bot.initialize()  # getMe: not a message
        try:
            sender = OutboxSender(
                database,
                OutboxSettings(platform_rates={"telegram": 1000.0}),
                {"telegram": channel},
                renderers(TRANSLATOR),
                clock=FakeClock(vn_time(2027, 2, 4)),
            )
            assert (await sender.drain()).sent == 5
        finally:
            await channel.bot.shutdown()
    assert fake.floods, "the fake injected no 429: the test proves nothing"
    assert delta("telegram", before) == {"sent": 5, "429": len(fake.floods)}


async def test_zalo_oa_and_zns_count_sent_and_failed(database: Database):
    clock = FakeClock()
    async with FakeZaloOA(clock) as fake:
        config = oa_settings(fake, zns_template_id="231456", zns_params='{"ten": "agency"}')
        async with running(database, make_settings(database, oa=config), clock) as bot:
            oa, zns = counts("zalo_oa"), counts("zns")
            await bot.oa.windows.open("8800101", clock.now)
            await bot.oa.send("8800101", [Outbound("một")])
            fake.fail_sends = 1  # a 500 with no JSON: failed for sure
            with pytest.raises(ZaloOAError):
                await bot.oa.api.send_cs("8800101", "hai")
            assert await bot.oa.zns.send("0912345678", {"agency": "UBND"}, "t-1")
            refused = ZnsClient(bot.oa.api, config.model_copy(update={"zns_template_id": "0"}))
            with pytest.raises(ZaloOAError):  # the fake's "quota exceeded"
                await refused.send("0912345678", {"agency": "UBND"}, "t-2")
    assert delta("zalo_oa", oa) == {"sent": 1, "failed": 1}
    assert delta("zns", zns) == {"sent": 1, "failed": 1}


async def test_zalo_bot_counts_its_messages(database: Database):
    async with FakeZaloBot() as fake:
        settings = make_settings(database, bot=bot_settings(fake))
        async with running(database, settings) as bot:
            before = counts("zalo_bot")
            await bot.bot.api.send_message("4242", "xin chào")
            fake.fail_sends, fake.fail_status = 2, 429
            for _ in range(2):
                with pytest.raises(ZaloBotError):
                    await bot.bot.api.send_message("4242", "chậm lại")
            fake.fail_sends, fake.fail_status = 1, 400
            with pytest.raises(ZaloBotError):
                await bot.bot.api.send_message("4242", "sai")
    assert delta("zalo_bot", before) == {"sent": 1, "429": 2, "failed": 1}
