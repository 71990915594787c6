"""PostgreSQL connections cut mid-run (pg_terminate_backend): nothing lost, nothing doubled.

Citizens answer the whole survey through the real webhooks (Telegram: PTB against the
fake Bot API, which redelivers until 2xx; Zalo Bot: the fake posts, the citizen's
platform retries on non-2xx) while an admin connection terminates every backend of
the bot's database, several times. A query in flight then fails in one of asyncpg's
guises (ConnectionDoesNotExistError, "cannot switch to state", AdminShutdown …);
`is_unavailable` must recognise each, so the webhook answers 503 and the update
comes again. Every POST must be answered 2xx or 503, and at the end each citizen's
stored answers must be exactly the ones they gave, each update key stored once.
"""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg
import pytest
from sqlalchemy import func, select

from bot.database import Database
from bot.models import ProcessedUpdate, Response
from tests.bot.channels import zalo_harness
from tests.bot.channels.telegram_harness import answer_all, plan, running_bot, stored_answers
from tests.builders import make_code, seed_catalog
from tests.fakes.telegram import FakeTelegram
from tests.fakes.zalo_bot import FakeZaloBot

CITIZENS = 6
pytestmark = [
    pytest.mark.parametrize("migrated_database", ["postgresql"], indirect=True),
    pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning"),
]


class Cutter:
    """Terminates every backend of one database from an admin connection, now and then,
    each time at a moment a transaction of the bot is open (so the cut lands inside it,
    not only on idle pooled connections)."""

    def __init__(self, database: Database, cuts: int, every: float):
        self.database = database
        self.name = database.engine.url.database
        # The cuts come from a connection to the bot's own database, which can lock its tables.
        self.dsn = database.engine.url.set(drivername="postgresql").render_as_string(
            hide_password=False
        )
        self.cuts, self.every = cuts, every
        self.terminated = 0
        self.in_flight = 0  # cuts that caught a transaction open
        self._task: asyncio.Task | None = None

    async def _run(self) -> None:
        admin = await asyncpg.connect(self.dsn)
        try:
            for _ in range(self.cuts):
                await asyncio.sleep(self.every)
                async with admin.transaction():
                    # Hold the chats table for a moment: the bot's transactions, which all
                    # lock their chat's row, wait on it, so the cut lands inside them.
                    await admin.execute("LOCK TABLE chats IN ACCESS EXCLUSIVE MODE")
                    await asyncio.sleep(0.05)
                    active = await admin.fetchval(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND "
                        "state IN ('active', 'idle in transaction') AND pid <> pg_backend_pid()",
                        self.name,
                    )
                    killed = await admin.fetchval(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE datname = $1 AND pid <> pg_backend_pid()",
                        self.name,
                    )
                self.terminated += killed
                self.in_flight += bool(active and killed)
        finally:
            await admin.close()

    async def __aenter__(self) -> Cutter:
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        if exc[0] is not None:
            self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        # The cuts broke this object's idle pooled connections too, and nothing pings
        # them at checkout: the test's own reads that follow get new ones.
        await self.database.engine.dispose()

    @property
    def done(self) -> bool:
        return self._task is not None and self._task.done()


async def update_keys(database: Database, prefix: str) -> int:
    async with database.transaction() as session:
        return await session.scalar(
            select(func.count())
            .select_from(ProcessedUpdate)
            .where(ProcessedUpdate.update_key.like(f"{prefix}%"))
        )


async def test_telegram_webhook_loses_and_doubles_nothing_when_connections_are_cut(
    database: Database,
):
    catalog = await seed_catalog(database)
    codes = [await make_code(database, catalog) for _ in range(CITIZENS)]
    plans = [plan(gate=1 + i % 2, seed=i) for i in range(CITIZENS)]
    async with FakeTelegram(webhook_retry_delay=0.05) as fake:
        async with running_bot(database, fake, "webhook"):
            users = [fake.user(7100 + i) for i in range(CITIZENS)]

            async def citizen(index: int) -> None:
                users[index].send(f"/start {codes[index]}")
                await answer_all(users[index], plans[index], within=30)

            async with Cutter(database, cuts=6, every=0.4) as cutter:
                await asyncio.gather(*(citizen(i) for i in range(CITIZENS)))
            assert cutter.done and cutter.terminated >= 6
        statuses = fake.webhook_statuses
        assert set(statuses) <= {200, 503}, sorted(set(statuses))
        assert cutter.in_flight >= 1 and 503 in statuses  # the cuts hit transactions in flight
        assert fake.pending == {}
        print(
            f"\ntelegram webhook under cuts: {len(statuses)} POSTs, {statuses.count(503)} x 503, "
            f"{cutter.in_flight} cuts in flight"
        )
        confirmed = len(set(fake.confirmed))
        assert confirmed == len(fake.confirmed)  # each update acknowledged once
    assert sorted(await stored_answers(database), key=str) == sorted(plans, key=str)
    assert await update_keys(database, "telegram:") == confirmed  # each stored once


async def test_zalo_bot_webhook_loses_and_doubles_nothing_when_connections_are_cut(
    database: Database,
):
    catalog = await seed_catalog(database)
    codes = [await make_code(database, catalog) for _ in range(CITIZENS)]
    plans = []
    for i in range(CITIZENS):
        answers = zalo_harness.plan(gate=1 + i % 2)
        answers["suggestion"] = f"Góp ý số {i}"
        plans.append(answers)
    statuses: list[int] = []
    posted: set[str] = set()
    async with FakeZaloBot() as fake:
        settings = zalo_harness.make_settings(
            database, bot=zalo_harness.bot_settings(fake, "webhook")
        )
        async with zalo_harness.running(database, settings):

            async def deliver(update: dict) -> None:
                """Zalo's side: post until the bot acknowledges with 2xx."""
                posted.add(update["message"]["message_id"])
                while True:
                    status = await fake.post_webhook(update)
                    statuses.append(status)
                    if 200 <= status < 300:
                        return
                    await asyncio.sleep(0.05)

            async def citizen(index: int) -> None:
                chat, cursor = f"zc{index}", 0

                async def say(text: str, expect: str) -> None:
                    nonlocal cursor
                    await deliver(fake.text_update(chat, text))
                    cursor = await fake.wait_for(chat, cursor, expect, seconds=30) + 1

                answers = plans[index]
                order = zalo_harness.asked(answers)
                await say(codes[index], zalo_harness.prompt(order[0], answers))
                for position, question_index in enumerate(order):
                    question = zalo_harness.Q2017.questions[question_index]
                    following = (
                        zalo_harness.prompt(order[position + 1], answers)
                        if position + 1 < len(order)
                        else zalo_harness.THANKS
                    )
                    await say(zalo_harness.typed(question, answers[question.id]), following)

            async with Cutter(database, cuts=6, every=0.4) as cutter:
                await asyncio.gather(*(citizen(i) for i in range(CITIZENS)))
            assert cutter.done and cutter.terminated >= 6
    assert set(statuses) <= {200, 503}, sorted(set(statuses))
    assert cutter.in_flight >= 1 and 503 in statuses  # the cuts hit transactions in flight
    print(
        f"\nzalo bot webhook under cuts: {len(statuses)} POSTs, {statuses.count(503)} x 503, "
        f"{cutter.in_flight} cuts in flight"
    )
    stored = sorted((r["answers"] for r in await zalo_harness.stored_responses(database)), key=str)
    assert stored == sorted(plans, key=str)
    assert await update_keys(database, "zalo_bot:") == len(posted)  # each stored once
    async with database.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(Response)) == CITIZENS
