"""Scored reports kept per process: equal to the rollups, and never stale, on both
databases: every writer of the rollups (storing, replacing a form, removing, rebuilding)
gives them a new generation, a catalogue change is in the key, and a report after either
is counted again."""

from __future__ import annotations

from datetime import date

from sqlalchemy import delete, update

from bot.models import Agency, RollupGeneration
from handlers.reports import Period, ReportFilters, build_report
from handlers.reports.cache import REPORTS
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


async def _report(database, period=JULY, grouping=("agency",)):
    async with database.transaction() as session:
        return await build_report(
            session, QUESTIONNAIRES, ReportFilters(Q, period), grouping, SETTINGS
        )


async def _overall(database) -> tuple[int, float | None]:
    report = await _report(database)
    return report.total.counts.respondents, report.total.indices.overall.index


async def test_a_repeated_report_is_kept_and_equals_a_fresh_count(database):
    ids = await catalogue(database)
    await three_responses(database, ids, DAY)
    for grouping in ((), ("agency",), ("channel", "month")):
        first = await _report(database, grouping=grouping)
        hits = REPORTS.hits
        again = await _report(database, grouping=grouping)
        assert REPORTS.hits == hits + 1
        assert again.groups is first.groups and again.total is first.total
        REPORTS.clear()
        fresh = await _report(database, grouping=grouping)
        assert fresh.groups == first.groups and fresh.total == first.total


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


async def test_a_renamed_agency_is_named_anew(database):
    ids = await catalogue(database)
    await three_responses(database, ids, DAY)
    assert [group.names["agency"] for group in (await _report(database)).groups] == ["Cơ quan PROV"]
    async with database.transaction() as session:
        await session.execute(update(Agency).where(Agency.code == "PROV").values(name="Sở mới"))
    assert [group.names["agency"] for group in (await _report(database)).groups] == ["Sở mới"]


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
    hits = REPORTS.hits
    first, second = await _report(database), await _report(database)
    assert first.total.counts.respondents == second.total.counts.respondents == 3
    assert second.total is not first.total and REPORTS.hits == hits  # counted each time
