"""SIGKILL, of one process every few seconds and of both at once while replies wait.

(1) Two processes serve 100 citizens; every two seconds one of them, at random, is
SIGKILLed and started again on its port (five times). The fake Bot API posts what the
dead one did not acknowledge again (to either process); replies it committed but did
not send are swept and sent by a live process once the dead owner's lease ends. Every
citizen must finish with exactly the answers given, each counted the first time.

(2) While Telegram answers every send with 429, so that the replies of 100 committed
answers wait in the processes' queues, both processes are SIGKILLed at once and
started again together; then the flood ends. Every queued reply must arrive, and
each exactly once (one process sweeps each chat).
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass

import pytest

from tests.bot.channels.telegram_harness import Q2017, prompt
from tests.builders import make_code, seed_catalog
from tests.fakes.telegram import FakeTelegram
from tests.faults.conftest import pg_empty
from tests.faults.harness import RETRY, Crowd, Fleet, check_exact, environment_fast, outcome

CITIZENS = 100
QUESTIONS = 6
KILL_EVERY = 2.0
KILLS = 5  # then the citizens finish: a killed owner's replies wait out its lease (10 s)
BUDGET = 60.0  # seconds; a healthy run takes about 25

pytestmark = [
    pytest.mark.xdist_group("faults"),
    pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning"),
]


@dataclass
class Killed:
    fake: FakeTelegram
    crowd: Crowd
    kills: int
    finished: AssertionError | None  # every citizen done in time, every answer counted
    consistent: AssertionError | None  # nothing stored that was not given, nothing twice


@pytest.fixture(scope="module")
async def killed(pg_migrated, tmp_path_factory) -> Killed:
    database = await pg_empty(pg_migrated)
    code = await make_code(database, await seed_catalog(database), single_use=False)
    fake = FakeTelegram(both_rate=0.1, max_connections=200, sticky=True, webhook_retry_delay=RETRY)
    workdir = tmp_path_factory.mktemp("kills")
    async with fake, Fleet(fake, database, workdir, **environment_fast()) as fleet:
        crowd = Crowd(fake, [code] * CITIZENS, questions=QUESTIONS, double_tap_every=10)
        citizens = asyncio.create_task(crowd.run(pause=(1.0, 2.5), budget=BUDGET))
        rng = random.Random(3)
        for _ in range(KILLS):
            await asyncio.wait([citizens], timeout=KILL_EVERY)
            if citizens.done():
                break
            slot = rng.choice(fleet.slots)
            fleet.kill(slot)
            await fleet.restart(slot)
        finished = await outcome(citizens)
        consistent = await outcome(check_exact(database, fake, crowd, finished=False))
        if finished is None and crowd.rejected:
            finished = AssertionError(f"answers not counted: {dict(crowd.rejected)}")
        kills = sum(slot.kills for slot in fleet.slots)
    print(
        f"\nkilled {kills} times: {fake.webhook_statuses.count(0)} posts refused or cut, "
        f"{sum(crowd.rejected.values())} answers not counted, "
        f"{sum(crowd.doubled_prompts().values())} questions shown twice"
    )
    return Killed(fake, crowd, kills, finished, consistent)


async def test_kills_every_two_seconds_store_nothing_wrong_nor_twice(killed: Killed):
    if killed.consistent is not None:
        raise killed.consistent
    assert killed.kills >= 2 and killed.fake.webhook_statuses.count(0) >= 1  # hit in flight
    assert set(killed.fake.webhook_statuses) <= {0, 200, 503}


async def test_kills_every_two_seconds_lose_no_answer(killed: Killed):
    if killed.finished is not None:
        raise killed.finished


@dataclass
class BothKilled:
    crowd: Crowd
    fake: FakeTelegram
    queued: int  # replies committed and waiting when the processes died
    arrived: AssertionError | None


@pytest.fixture(scope="module")
async def both_killed(pg_migrated, tmp_path_factory) -> BothKilled:
    database = await pg_empty(pg_migrated)
    code = await make_code(database, await seed_catalog(database), single_use=False)
    async with FakeTelegram(max_connections=200, sticky=True, webhook_retry_delay=RETRY) as fake:
        workdir = tmp_path_factory.mktemp("both")
        async with Fleet(fake, database, workdir, **environment_fast()) as fleet:
            # Answers to the first two questions, then the third is on every screen.
            crowd = Crowd(fake, [code] * CITIZENS, questions=2, double_tap_every=CITIZENS + 1)
            await crowd.run(budget=BUDGET)
            await asyncio.sleep(3.0)  # every process knows what the other one sent
            fake.storm(3600)  # from now on nothing is accepted
            for user in crowd.users:
                user.press_value(3, user.question())
                crowd.given[user.chat_id][Q2017.questions[2].id] = 3
            await fake.wait_until(lambda: not fake.pending, within=30)  # all committed
            await asyncio.sleep(0.5)  # their replies are in the queues, refused with 429
            queued_calls = fake.storm_answers
            for slot in fleet.slots:
                fleet.kill(slot)
            await asyncio.gather(*(fleet.restart(slot) for slot in fleet.slots))
            await asyncio.sleep(1.5)  # both have queued what they found unsent
            fake.storm(0)
            deadline = time.monotonic() + 30
            arrived = None
            try:
                for user in crowd.users:
                    await user.expect(prompt(3), within=max(0.1, deadline - time.monotonic()))
                await asyncio.sleep(1.0)  # a second copy, if any, has time to arrive
                await check_exact(database, fake, crowd)
            except AssertionError as error:
                arrived = error
    return BothKilled(crowd, fake, queued_calls, arrived)


async def test_both_killed_while_replies_wait_every_reply_arrives(both_killed: BothKilled):
    assert both_killed.queued >= CITIZENS  # the replies were held back when they died
    if both_killed.arrived is not None:
        raise both_killed.arrived
    print(
        f"\nboth killed with {CITIZENS} replies queued: "
        f"{sum(both_killed.crowd.doubled_prompts().values())} questions shown twice"
    )


async def test_both_killed_while_replies_wait_no_reply_arrives_twice(both_killed: BothKilled):
    assert not both_killed.crowd.doubled_prompts()
