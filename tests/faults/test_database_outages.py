"""PostgreSQL connections cut (pg_terminate_backend) and PostgreSQL unreachable for a while.

Two processes reach PostgreSQL through `tests.fakes.pg_outage.PostgresOutage`, a proxy
this test owns: an outage there breaks every connection and refuses new ones, which is
what a restart or a fail-over looks like to the bot (see that module). While 100
citizens answer, an admin connection terminates every backend of the bot's database
a few times, then the proxy stages a 3-second outage. The webhooks must answer 503
(never 200) while they cannot commit, /healthz must say so, the fake Bot API posts
again, and in the end every answer is stored exactly once, as given.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import pytest
from aiohttp import ClientSession

from tests.bot.channels.test_connection_cuts import Cutter
from tests.builders import make_code, seed_catalog
from tests.fakes.pg_outage import PostgresOutage
from tests.fakes.telegram import FakeTelegram
from tests.faults.conftest import pg_empty
from tests.faults.harness import RETRY, Crowd, Fleet, check_exact, environment_fast, outcome

CITIZENS = 100
QUESTIONS = 5
OUTAGE = 3.0
BUDGET = 45.0  # seconds; a healthy run takes about 15 (more beside the rest of the suite)

pytestmark = [
    pytest.mark.xdist_group("faults"),
    pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning"),
]


async def healthz(base: str) -> int:
    async with ClientSession() as client, client.get(f"{base}/healthz") as response:
        return response.status


@dataclass
class Outage:
    fake: FakeTelegram
    cutter: Cutter
    proxy: PostgresOutage
    began: float
    health: tuple[int, int]  # /healthz during and after the outage
    finished: AssertionError | None
    consistent: AssertionError | None


@pytest.fixture(scope="module")
async def outage(pg_migrated, tmp_path_factory) -> Outage:
    database = await pg_empty(pg_migrated)
    code = await make_code(database, await seed_catalog(database), single_use=False)
    proxy = PostgresOutage()
    fake = FakeTelegram(max_connections=200, sticky=True, webhook_retry_delay=RETRY)
    workdir = tmp_path_factory.mktemp("outage")
    async with proxy, fake:
        fleet = Fleet(
            fake, database, workdir, database_url=proxy.url(database.url), **environment_fast()
        )
        async with fleet:
            crowd = Crowd(fake, [code] * CITIZENS, questions=QUESTIONS, double_tap_every=10)
            citizens = asyncio.create_task(crowd.run(pause=(1.0, 2.5), budget=BUDGET))
            async with Cutter(database, cuts=3, every=1.5) as cutter:
                pass
            await asyncio.sleep(2.0)  # the pools connect again, through the proxy
            began = time.monotonic()
            proxy.outage(OUTAGE)
            await asyncio.sleep(OUTAGE / 2)
            during = await healthz(fleet.slots[0].base)
            await asyncio.sleep(OUTAGE / 2 + 0.5)
            after = await healthz(fleet.slots[0].base)
            finished = await outcome(citizens)
            consistent = await outcome(check_exact(database, fake, crowd, finished=False))
            if finished is None and crowd.rejected:
                finished = AssertionError(f"answers not counted: {dict(crowd.rejected)}")
    print(
        f"\ncuts: {cutter.terminated} backends terminated ({cutter.in_flight} cuts in a "
        f"transaction); outage: {proxy.cut} connections cut, {proxy.refused} refused; "
        f"{sum(crowd.rejected.values())} answers not counted"
    )
    return Outage(fake, cutter, proxy, began, (during, after), finished, consistent)


async def test_webhooks_answer_503_while_they_cannot_commit(outage: Outage):
    grace = 0.3  # a request the outage began under may have committed just before
    inside = [
        status
        for posted, answered, status in outage.fake.webhook_answers
        if posted >= outage.began + grace and answered <= outage.began + OUTAGE
    ]
    assert outage.cutter.terminated >= 3 and outage.proxy.refused >= 1  # both faults hit
    assert set(outage.fake.webhook_statuses) <= {200, 503}, set(outage.fake.webhook_statuses)
    assert inside and set(inside) == {503}, inside  # nothing acknowledged without effect
    assert outage.health == (503, 200)


async def test_cuts_and_an_outage_store_nothing_wrong_nor_twice(outage: Outage):
    if outage.consistent is not None:
        raise outage.consistent


async def test_cuts_and_an_outage_lose_no_answer(outage: Outage):
    if outage.finished is not None:
        raise outage.finished
