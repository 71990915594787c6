"""Rate budgets shared by processes: two Database engines (two processes' pools) draw
from one bucket, on both databases; through the real Telegram channel and the outbox to
the fake Bot API, the combined rate stays within TELEGRAM_GLOBAL_RATE and replies keep
their share under a notice flood.

Tolerances: a GCRA bucket lets at most `burst + rate * W` tokens go in any span of W
seconds; the sends then cross the HTTP client, so a 10 % margin (two to four messages
here) absorbs the scatter of the requests' arrival at the fake server.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from bot.channels import telegram as telegram_channel
from bot.channels._telegram_flood import FloodControl
from bot.database import Database
from bot.models import OutboxMessage, RateBucket
from bot.outbox import OutboxSender, enqueue
from bot.rate_budget import Limit, RateBudget
from bot.settings import OutboxSettings, Settings, SurveySettings, TelegramSettings
from bot.web import build_app
from handlers.messages import Outbound, Rendered
from tests.builders import FakeClock, make_processor
from tests.fakes.telegram import TOKEN, FakeTelegram


def most_in_a_window(times: list[float], window: float = 1.0) -> int:
    """The most events in any span of `window` seconds."""
    times, most, first = sorted(times), 0, 0
    for last, moment in enumerate(times):
        while moment - times[first] >= window:
            first += 1
        most = max(most, last - first + 1)
    return most


async def test_two_processes_draw_from_one_bucket(database):
    other = Database(database.url)
    try:
        budgets = [RateBudget(database), RateBudget(other)]
        limit = Limit("test:shared", rate=100, burst=5, name="test")
        taken: list[float] = []

        async def take(budget: RateBudget) -> None:
            await budget.take(limit)
            taken.append(time.monotonic())

        started = time.monotonic()
        await asyncio.gather(*(take(budget) for budget in budgets for _ in range(75)))
        elapsed = time.monotonic() - started
    finally:
        await other.dispose()
    assert elapsed >= (150 - 5) / 100 * 0.95  # one bucket: 150 tokens at 100/s after 5
    assert most_in_a_window(taken) <= 100 + 5 + 1
    # Callers waiting together share a reservation: far fewer round trips than tokens.
    assert sum(budget.round_trips for budget in budgets) <= 150 / 3
    uses = budgets[0].use()
    assert [(use.name, use.taken) for use in uses] == [("test", 75)]
    assert uses[0].capacity == 100 * 60 + 5


async def test_two_processes_pace_one_chat_together(database):
    other = Database(database.url)
    try:
        floods = [
            FloodControl(10, 2, 1000, 1000, budget=RateBudget(db), scope="telegram:1")
            for db in (database, other)
        ]
        taken: list[float] = []

        async def send(flood: FloodControl) -> None:
            await flood.message("4242")
            taken.append(time.monotonic())

        started = time.monotonic()
        await asyncio.gather(*(send(flood) for flood in floods for _ in range(10)))
        elapsed = time.monotonic() - started
        # Another chat is not held back by this one's bucket.
        started_other = time.monotonic()
        await floods[1].message("4343")
        assert time.monotonic() - started_other < 0.2
    finally:
        await other.dispose()
    assert elapsed >= (20 - 2) / 10 * 0.95
    assert most_in_a_window(taken) <= 10 + 2 + 1


async def test_one_statement_reserves_several_buckets_each_on_its_own(database):
    from bot.database import reserve_tokens

    first = await reserve_tokens(database, {"test:a": (3, 1.0), "test:b": (1, 2.0)})
    again = await reserve_tokens(database, {"test:b": (1, 2.0), "test:a": (1, 1.0)})
    assert first["test:a"] == pytest.approx(3.0, abs=0.3)
    assert first["test:b"] == pytest.approx(0.5, abs=0.3)
    assert again["test:a"] == pytest.approx(4.0, abs=0.3)  # spent up to 3 s, one more
    assert again["test:b"] == pytest.approx(1.0, abs=0.3)


async def test_chats_waiting_together_share_a_round_trip(database):
    budget = RateBudget(database)
    flood = FloodControl(1, 1, 1000, 1000, budget=budget, scope="telegram:1")
    started = time.monotonic()
    await asyncio.gather(*(flood.message(str(chat)) for chat in range(50)))
    # 50 chat buckets and 50 tokens of the bot's bucket: a few statements, not 100,
    # and no chat waited (each has its own full bucket).
    assert budget.round_trips <= 10
    assert time.monotonic() - started < 1.0


async def test_idle_buckets_are_forgotten_and_chats_are_not_stored_in_clear(database, backend):
    budget = RateBudget(database)
    flood = FloodControl(10, 2, 1000, 1000, budget=budget, scope="telegram:1")
    await flood.message("987654321")
    if backend == "postgresql":
        async with database.transaction() as session:
            keys = set(await session.scalars(select(RateBucket.key)))
        assert len(keys) == 2 and "telegram:1" in keys
        assert not any("987654321" in key for key in keys)
        from bot.database import forget_idle_tokens

        assert await forget_idle_tokens(database, age=-10) == 2  # both full again
        async with database.transaction() as session:
            assert await session.scalar(select(func.count()).select_from(RateBucket)) == 0


class _Chats:
    """Renders each outbox row as a notice to a chat of its own."""

    def __init__(self) -> None:
        self.rendered = 0

    async def __call__(self, session, row, dossier, language) -> Rendered:
        self.rendered += 1
        return Rendered([Outbound(f"notice {row.ref_id}")], chat=("telegram", str(row.ref_id)))


async def test_replies_keep_their_share_under_a_notice_flood_from_two_processes(database):
    """40/s for the token; the outbox may take half. Two processes each flood notices
    and send replies: together they stay within 40/s, notices within 20/s, and the
    replies get the other half while the flood lasts."""
    now = datetime(2027, 2, 4, 2, tzinfo=UTC)
    async with database.transaction() as session:
        for ref in range(1, 81):
            await enqueue(session, "flood", 100_000 + ref, dossier_id=None, now=now)
    outbox = OutboxSettings(
        platform_rates={"telegram": 40.0}, rate_share=0.5, workers=16, batch_size=20
    )
    other = Database(database.url)
    async with FakeTelegram() as fake:
        settings = Settings(
            database_url=database.url,
            telegram=TelegramSettings(
                bot_token=TOKEN,
                api_base_url=fake.base_url,
                chat_rate=1,
                chat_burst=4,
                global_rate=40,
                bulk_rate=40,
            ),
            survey=SurveySettings(),
        )
        processes = []
        for db in (database, other):
            channel = telegram_channel.build(
                settings, make_processor(db, FakeClock(), settings), build_app(db)
            )
            await channel.bot.initialize()
            sender = OutboxSender(
                db, outbox, {"telegram": channel}, {"flood": _Chats()}, clock=lambda: now
            )
            processes.append((channel, sender))
        try:
            started = time.monotonic()

            async def replies(channel, first: int) -> None:
                """25 a second from each process: more than the 20/s left to them."""
                sending = []
                for chat in range(first, first + 50):
                    reply = [Outbound(f"reply {chat}")]
                    sending.append(asyncio.create_task(channel.deliver(str(chat), reply, False)))
                    await asyncio.sleep(0.04)
                await asyncio.gather(*sending)

            await asyncio.gather(
                *(sender.drain() for _, sender in processes),
                *(replies(channel, 1 + 1000 * i) for i, (channel, _) in enumerate(processes)),
            )
        finally:
            for channel, _ in processes:
                await channel.bot.shutdown()
            await other.dispose()
        sends = [call for call in fake.calls if call.method == "sendMessage"]
    notices = [c.at - started for c in sends if str(c.params.get("text")).startswith("notice")]
    replied = [c.at - started for c in sends if str(c.params.get("text")).startswith("reply")]
    assert (len(notices), len(replied)) == (80, 100)
    assert all(sender.totals.sent > 10 for _, sender in processes)  # both processes sent
    assert most_in_a_window(notices + replied) <= 40 + 4 + 4
    # 20/s, its burst of 1 and one notice per process queued for the overall bucket.
    assert most_in_a_window(notices) <= 20 + 1 + 2 + 2
    # While both streams flowed, replies had about half of the 40/s.
    overlap = min(max(notices), max(replied))
    during = [moment for moment in replied if moment <= overlap]
    print(
        f"\nmost in 1 s: {most_in_a_window(notices + replied)} (40/s), notices "
        f"{most_in_a_window(notices)} (20/s); replies in the flood {len(during) / overlap:.1f}/s"
    )
    assert len(during) / overlap >= 20 * 0.8
    async with database.transaction() as session:
        statuses = set(await session.scalars(select(OutboxMessage.status)))
    assert statuses == {"sent"}
