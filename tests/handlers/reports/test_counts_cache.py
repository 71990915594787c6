"""The per-process cache of report counts: equal to the rollups, and never stale, on both
databases: every writer of the rollups (storing, replacing a form, removing, rebuilding)
gives them a new generation, and a report after it counts again."""

from __future__ import annotations

from datetime import date

from sqlalchemy import delete

from bot.models import RollupGeneration
from handlers.reports import Period, ReportFilters, build_report
from handlers.reports.counts_cache import COUNTS, CountsCache
from handlers.reports.store import Selection, count_groups
from handlers.survey.store.responses import remove_responses
from handlers.survey.store.rollups import raise_generation, rebuild_rollups, rollup_generation
from tests.handlers.reports.test_build import (
    QUESTIONNAIRES,
    SETTINGS,
    Q,
    all_at,
    store,
    three_responses,
)
from tests.report_helpers import catalogue

JULY = Period.month(2025, 7)
DAY = date(2025, 7, 10)


async def _overall(database, period=JULY) -> tuple[int, float | None]:
    async with database.transaction() as session:
        report = await build_report(
            session, QUESTIONNAIRES, ReportFilters(Q, period), ("agency",), SETTINGS
        )
    return report.total.counts.respondents, report.total.indices.overall.index


async def test_a_repeated_report_is_taken_from_the_cache_and_equals_the_rollups(database):
    ids = await catalogue(database)
    await three_responses(database, ids, DAY)
    first = await _overall(database)
    hits = COUNTS.hits
    assert await _overall(database) == first
    assert COUNTS.hits == hits + 2  # the period and its previous one, no rollup read
    cache = CountsCache()
    async with database.transaction() as session:
        for grouping in ((), ("agency",), ("channel", "month")):
            cached = await cache.count_groups(
                session, QUESTIONNAIRES[Q], JULY, Selection(Q), grouping
            )
            again = await cache.count_groups(
                session, QUESTIONNAIRES[Q], JULY, Selection(Q), grouping
            )
            assert again is cached
            assert cached == await count_groups(
                session, QUESTIONNAIRES[Q], JULY, Selection(Q), grouping
            )
    assert (cache.hits, cache.misses) == (3, 3)


async def test_every_writer_of_the_rollups_makes_the_next_report_count_again(database):
    ids = await catalogue(database)
    await three_responses(database, ids, DAY)
    seen = [await _overall(database)]
    assert seen[0][0] == 3

    await store(database, ids, "PROV", DAY, all_at(1), form_id="P-1")  # a new response
    seen.append(await _overall(database))
    assert seen[-1][0] == 4

    replaced = await store(database, ids, "PROV", DAY, all_at(5), form_id="P-1")  # same form
    seen.append(await _overall(database))
    assert seen[-1][0] == 4 and seen[-1][1] > seen[-2][1]

    async with database.transaction() as session:  # deletion
        await remove_responses(session, [replaced], QUESTIONNAIRES)
    seen.append(await _overall(database))
    assert seen[-1] == seen[0]

    async with database.transaction() as session:
        before = await rollup_generation(session)
    async with database.transaction() as session:
        await rebuild_rollups(session, QUESTIONNAIRES)
    async with database.transaction() as session:
        assert await rollup_generation(session) != before
    assert await _overall(database) == seen[0]


async def test_generations_are_new_each_time_and_none_keeps_nothing(database):
    values = set()
    for _ in range(3):
        async with database.transaction() as session:
            await raise_generation(session)
        async with database.transaction() as session:
            values.add(await rollup_generation(session))
    assert len(values) == 3 and None not in values

    ids = await catalogue(database)
    await three_responses(database, ids, DAY)
    async with database.transaction() as session:
        await session.execute(delete(RollupGeneration))
    cache = CountsCache()
    async with database.transaction() as session:
        for _ in range(2):
            counted = await cache.count_groups(session, QUESTIONNAIRES[Q], JULY, Selection(Q), ())
            assert counted.responses == {(): 3}
    assert (cache.hits, cache.misses) == (0, 0)  # no generation: counted each time, not kept
