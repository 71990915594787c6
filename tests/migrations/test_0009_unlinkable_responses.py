"""Migration 0009 on a database that already holds chats, closed sessions, used codes and
responses in completion order: the links go, the counts and the answers stay."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select, text

from bot import migrate
from bot.database import Database
from bot.models import (
    Agency,
    ResponseAnswer,
    Service,
    StartCode,
    SurveyFunnel,
    SurveySession,
)
from bot.models import Response as ResponseRow
from tests.builders import ZONE

DAY_ONE, DAY_TWO = date(2026, 11, 23), date(2026, 11, 24)
PER_DAY = 30


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZONE).astimezone(UTC)


async def _seed_before_0009(database: Database) -> None:
    async with database.transaction() as session:
        session.add(Agency(id=1, code="A", name="A", name_folded="a", level="commune"))
        session.add(Service(id=1, code="S", name="S", name_folded="s", level="commune"))
        await session.execute(  # the 0008 schema: the model has columns added since
            text(
                "INSERT INTO chats (id, channel, chat_key, created_at) "
                "VALUES (1, 'telegram', '42', :at)"
            ),
            {"at": at(DAY_ONE, 8)},
        )
        await session.flush()
        session.add_all(
            [
                StartCode(
                    code=f"CODE{index:06d}",
                    agency_id=1,
                    service_id=1,
                    single_use=True,
                    created_at=at(DAY_ONE, 1),
                    used_at=at(DAY_ONE, 9, index) if index % 2 == 0 else None,
                )
                for index in range(4)
            ]
        )
        await session.flush()
        common = {"chat_id": 1, "questionnaire": "sipas-2017", "agency_id": 1, "nonce": "abcdef"}
        session.add_all(
            [
                SurveySession(
                    **common, status="completed", phase="questions", step=28,
                    service_id=1, start_code="CODE000000", started_at=at(DAY_ONE, 8),
                    updated_at=at(DAY_ONE, 8, 30), closed_at=at(DAY_ONE, 9),
                ),
                SurveySession(
                    **common, status="partial", phase="questions", step=3, service_id=1,
                    started_at=at(DAY_ONE, 10), updated_at=at(DAY_ONE, 23, 30),
                    closed_at=at(DAY_TWO + timedelta(days=3), 1),
                ),
                SurveySession(
                    **common, status="cancelled", phase="questions", step=3, service_id=1,
                    started_at=at(DAY_TWO, 10), updated_at=at(DAY_TWO, 10, 5),
                    closed_at=at(DAY_TWO, 10, 6),
                ),
                SurveySession(
                    **common, status="active", phase="questions", step=5, service_id=1,
                    started_at=at(DAY_TWO, 11), updated_at=at(DAY_TWO, 11, 5), answers={"F1.1": 4},
                ),
            ]
        )  # fmt: skip
        rid = 0
        for day in (DAY_ONE, DAY_TWO):
            for index in range(PER_DAY):
                rid += 1
                session.add(
                    ResponseRow(
                        id=rid, questionnaire="sipas-2017", agency_id=1, service_id=1,
                        level="commune", response_date=day, channel_kind="telegram",
                    )
                )  # fmt: skip
                await session.flush()
                session.add_all(
                    [
                        ResponseAnswer(response_id=rid, item_id="F1.1", value=index % 5 + 1),
                        ResponseAnswer(response_id=rid, item_id="suggestion", text=f"n{rid}"),
                    ]
                )
        await session.flush()


async def test_0009_purges_links_counts_sessions_and_shuffles_each_day(empty_database_url, backend):
    database = Database(await empty_database_url(backend))
    try:
        await migrate.upgrade(database, "0008")
        await _seed_before_0009(database)
        await migrate.upgrade(database, "0009")
        async with database.transaction() as session:
            remaining = (await session.scalars(select(SurveySession))).all()
            assert [row.status for row in remaining] == ["active"]
            funnel = (
                await session.execute(
                    select(SurveyFunnel.day, SurveyFunnel.outcome, SurveyFunnel.step)
                    .where(SurveyFunnel.sessions == 1)
                    .order_by(SurveyFunnel.day, SurveyFunnel.outcome)
                )
            ).all()
            # Partial: the day of the last answer, not of the expiry three days later.
            assert [tuple(row) for row in funnel] == [
                (DAY_ONE, "completed", 28),
                (DAY_ONE, "partial", 3),
                (DAY_TWO, "cancelled", 3),
            ]
            used = dict((await session.execute(select(StartCode.code, StartCode.used_at))).all())
            midnight = datetime(2026, 11, 23, tzinfo=ZONE)
            assert used == {
                "CODE000000": midnight,
                "CODE000001": None,
                "CODE000002": midnight,
                "CODE000003": None,
            }
            rows = (
                await session.execute(
                    select(ResponseRow.id, ResponseRow.response_date, ResponseAnswer.text)
                    .join(ResponseAnswer, ResponseAnswer.response_id == ResponseRow.id)
                    .where(ResponseAnswer.item_id == "suggestion")
                    .order_by(ResponseRow.id)
                )
            ).all()
            assert sorted(row.id for row in rows) == list(range(1, 2 * PER_DAY + 1))
            # Ids still ascend by day; each response kept its day and its answers.
            assert [row.response_date for row in rows] == [DAY_ONE] * PER_DAY + [DAY_TWO] * PER_DAY
            original = {int(row.text[1:]) for row in rows[:PER_DAY]}
            assert original == set(range(1, PER_DAY + 1))
            assert await session.scalar(select(func.count()).select_from(ResponseAnswer)) == 120
            # Within a day, ids no longer follow the order of completion (30! orders).
            assert [int(row.text[1:]) for row in rows[:PER_DAY]] != list(range(1, PER_DAY + 1))
            for row in (
                await session.execute(
                    select(ResponseRow.id, ResponseAnswer.value, ResponseAnswer.text).join(
                        ResponseAnswer, ResponseAnswer.response_id == ResponseRow.id
                    )
                )
            ).all():
                if row.text is None:  # the answer moved with its response
                    (text,) = [r.text for r in rows if r.id == row.id]
                    assert row.value == (int(text[1:]) - 1) % PER_DAY % 5 + 1
    finally:
        await database.dispose()
