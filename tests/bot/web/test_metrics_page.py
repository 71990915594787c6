"""GET /metrics over loopback: a valid page with the leader flag and the outbox backlog,
read from the database at most every few seconds, and served even when it is down."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import aiohttp
import pytest
from sqlalchemy import update

from bot import metrics
from bot.clock import utc_now
from bot.database import Database
from bot.models import OutboxMessage
from bot.outbox import enqueue
from bot.outbox_backlog import CACHE_SECONDS, BacklogGauges
from bot.rate_budget import Limit, budget_of
from bot.web import build_app, start_server
from tests.bot.web.test_app import free_port
from tests.prometheus_text import parse


async def scrape(database: Database) -> dict:
    port = free_port()
    runner = await start_server(build_app(database), "127.0.0.1", port)
    try:
        url = f"http://127.0.0.1:{port}/metrics"
        async with aiohttp.ClientSession() as client, client.get(url) as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            return parse(await response.text())
    finally:
        await runner.cleanup()


async def outbox_rows(database: Database, now) -> None:
    """Pending: due 120 s and 60 s ago, and due in an hour; one sending; one sent."""
    due = [now - timedelta(seconds=120), now - timedelta(seconds=60), now + timedelta(hours=1)]
    async with database.transaction() as session:
        for ref_id, at in enumerate([*due, now, now], start=1):
            await enqueue(session, "digest", ref_id, dossier_id=None, now=at)
        await session.execute(
            update(OutboxMessage).where(OutboxMessage.ref_id == 4).values(status="sending")
        )
        await session.execute(
            update(OutboxMessage).where(OutboxMessage.ref_id == 5).values(status="sent")
        )


async def test_the_page_carries_the_backlog_and_the_leader_flag(database: Database):
    await outbox_rows(database, utc_now())
    families = await scrape(database)
    backlog = families[metrics.OUTBOX_BACKLOG]
    assert backlog.type == "gauge"
    assert (backlog.value(status="pending"), backlog.value(status="sending")) == (3, 1)
    assert 120 <= families[metrics.OUTBOX_OLDEST_DUE].value() < 180
    assert families[metrics.LEADER].value() == (1 if database.is_sqlite else 0)
    assert await database.leadership.check()
    assert (await scrape(database))[metrics.LEADER].value() == 1


async def test_an_empty_outbox_has_no_age(database: Database):
    families = await scrape(database)
    assert families[metrics.OUTBOX_BACKLOG].value(status="pending") == 0
    assert families[metrics.OUTBOX_OLDEST_DUE].value() == 0


async def test_scrapes_within_the_cache_share_one_query(database: Database):
    now = utc_now()
    await outbox_rows(database, now)
    seconds = [1000.0]
    gauges = BacklogGauges(database, clock=lambda: now, monotonic=lambda: seconds[0])
    await asyncio.gather(*(gauges.refresh() for _ in range(5)))  # concurrent: one query
    await gauges.refresh()
    assert gauges.queries == 1
    async with database.transaction() as session:
        await session.execute(update(OutboxMessage).values(status="sent"))
    seconds[0] += CACHE_SECONDS - 0.1
    await gauges.refresh()
    assert gauges.queries == 1  # still the cached answer
    assert parse(metrics.render())[metrics.OUTBOX_BACKLOG].value(status="pending") == 3
    seconds[0] += 0.2
    await gauges.refresh()
    assert gauges.queries == 2
    assert parse(metrics.render())[metrics.OUTBOX_BACKLOG].value(status="pending") == 0


async def test_a_database_down_still_gets_a_page_without_backlog(database: Database):
    await scrape(database)  # the backlog gauges exist…
    unreachable = Database(f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/nothing")
    before = metrics.value("sipas_metrics_query_failures_total")
    try:
        families = await scrape(unreachable)
    finally:
        await unreachable.dispose()
    assert metrics.OUTBOX_BACKLOG not in families  # …and go rather than lie
    assert metrics.OUTBOX_OLDEST_DUE not in families
    assert families[metrics.LEADER].value() == 0
    assert metrics.value("sipas_metrics_query_failures_total") == before + 1


async def test_the_page_carries_each_shared_budget_s_use(database: Database):
    """Tokens this process took from a shared limit, as a share of the whole limit."""
    budget = budget_of(database)
    limit = Limit("telegram:bench-test", rate=50.0, burst=5.0, name="telegram_scrape_test")
    for _ in range(11):
        await budget.take(limit)
    gauge = (await scrape(database))[metrics.RATE_BUDGET_USE]
    assert gauge.type == "gauge"
    # 11 tokens of 50/s over a minute plus the burst: 11 / 3005.
    assert gauge.value(lane="telegram_scrape_test") == pytest.approx(11 / 3005)
