"""Migration 0015 counts the responses stored before it into the daily rollups: every
report figure afterwards is what the answers give, as reports counted them before."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select, text

from bot import migrate
from bot.database import Database
from bot.models import DailyItem, DailyMoments, DailyResponses
from bot.questionnaire import load_questionnaires
from handlers.reports import Period
from handlers.reports.store import Selection, count_groups
from handlers.survey.store.rollups import (
    MONTHLY,
    Tally,
    criterion_factors,
    raw_dimensions,
    raw_item_counts,
    raw_moments,
    raw_response_counts,
    rebuild_rollups,
    rollup_rebuild_statements,
)

QUESTIONNAIRES = load_questionnaires()
Q = QUESTIONNAIRES["sipas-2017"]
CRITERIA = list(criterion_factors(Q))
# (agency, day, channel, value of every criterion; 0 = no opinion)
RESPONSES = [
    (1, date(2025, 6, 30), "telegram", 5),
    (1, date(2025, 7, 1), "paper", 2),
    (2, date(2025, 7, 1), "telegram", 4),
    (2, date(2025, 7, 15), "zalo", 0),
    (1, date(2025, 7, 31), "telegram", 3),
    (2, date(2025, 8, 1), "paper", 5),
    (1, date(2025, 8, 20), "zalo", 1),
]
PERIODS = [
    Period(date(2025, 6, 30), date(2025, 8, 1)),  # a month and a day on either side
    Period(date(2025, 7, 2), date(2025, 7, 30)),  # inside a month
    Period(date(2025, 6, 15), date(2025, 8, 20)),
    Period(date(2025, 7, 11), date(2025, 8, 20)),  # whole dekads only
    Period(date(2025, 7, 6), date(2025, 8, 5)),  # pentads and dekads
    Period.month(2025, 7),
]
GROUPINGS = [(), ("agency",), ("channel", "month")]


async def _store_before_0015(database: Database) -> None:
    """Responses as the write path before 0015 left them: answers and monthly rollups."""
    async with database.transaction() as session:
        for agency in (1, 2):
            await session.execute(
                text(
                    "INSERT INTO agencies (id, code, name, name_folded, level) "
                    "VALUES (:id, :code, :code, :code, 'commune')"
                ),
                {"id": agency, "code": f"A{agency}"},
            )
        for response_id, (agency, day, channel, value) in enumerate(RESPONSES, 1):
            await session.execute(
                text(
                    "INSERT INTO responses (id, questionnaire, agency_id, level, response_date,"
                    " channel_kind) VALUES (:id, :q, :agency, 'commune', :day, :channel)"
                ),
                {"id": response_id, "q": Q.id, "agency": agency, "day": day, "channel": channel},
            )
            await session.execute(
                text(
                    "INSERT INTO response_answers (response_id, item_id, value) "
                    "VALUES (:id, :item, :value)"
                ),
                [{"id": response_id, "item": item, "value": value} for item in CRITERIA],
            )
        for statement in rollup_rebuild_statements(QUESTIONNAIRES, [MONTHLY]):
            await session.execute(statement)


async def _from_answers(session, period: Period, grouping: tuple[str, ...]) -> Tally:
    """The period counted from the answers, grouped like `count_groups` keys its groups."""
    columns = raw_dimensions(MONTHLY)
    names = {"agency": "agency_id", "channel": "channel_kind", "month": "month"}
    dims = [columns[names[name]] for name in grouping]
    r = columns["questionnaire"].table.c
    where = [r.questionnaire == Q.id, r.response_date.between(period.start, period.end)]
    factors = criterion_factors(Q)
    tally, width = Tally(), len(grouping)
    for row in await session.execute(raw_response_counts(dims, where)):
        tally.add_count(tuple(row[:width]), row[width])
    for row in await session.execute(raw_item_counts(dims, factors, where)):
        tally.add_items(tuple(row[:width]), row[width], row[width + 1 :])
    for row in await session.execute(raw_moments(dims, factors, where)):
        if row[width + 1]:  # a scope nobody answered in: no row, as in the rollups
            tally.add_moments(tuple(row[:width]), row[width], row[width + 1 :])
    return tally


async def _daily_rows(database: Database) -> list[list[tuple]]:
    async with database.transaction() as session:
        return [
            sorted(tuple(row) for row in await session.execute(select(*model.__table__.c)))
            for model in (DailyResponses, DailyItem, DailyMoments)
        ]


async def test_0015_reports_equal_the_answers_for_responses_stored_before(
    empty_database_url, backend
):
    database = Database(await empty_database_url(backend))
    try:
        await migrate.upgrade(database, "0012")
        await _store_before_0015(database)
        await migrate.upgrade(database, "0015")
        async with database.transaction() as session:
            for period in PERIODS:
                for grouping in GROUPINGS:
                    got = await count_groups(session, Q, period, Selection(Q.id), grouping)
                    expected = await _from_answers(session, period, grouping)
                    assert got == expected, (period, grouping)
            whole = await count_groups(session, Q, PERIODS[0], Selection(Q.id), ())
        assert whole.responses == {(): 6}  # 30 June to 1 August
        n = len(CRITERIA)  # answered at 5, 2, 4, 3, 5 (and one all no opinion)
        assert whole.moments[(), "overall"][:3] == [5, 3 * n, 5 * n]
        daily = await _daily_rows(database)
        spans = [row[1] for row in daily[0]]  # each response alone in its cell's day and blocks
        assert [spans.count(span) for span in (1, 5, 10)] == [len(RESPONSES)] * 3
        await migrate.upgrade(database)  # today's rebuild also raises 0020's generation
        async with database.transaction() as session:
            await rebuild_rollups(session, QUESTIONNAIRES)
        assert await _daily_rows(database) == daily
    finally:
        await database.dispose()
