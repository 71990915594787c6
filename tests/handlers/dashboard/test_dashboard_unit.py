"""A unit's page on both databases: criteria, channels, drop-off, suggestions, scope."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest
from sqlalchemy import insert, select

from bot.models import Agency, SurveyFunnel
from handlers import dashboard
from handlers.officials.access import PROVINCE_SCOPE, OutOfScope, scope_of
from handlers.reports import Period
from handlers.survey.store.responses import NewResponse, store_responses
from tests.dashboard_helpers import (
    QUESTIONNAIRES,
    SETTINGS,
    Q,
    all_at,
    answer,
    province,
    seeded,
)

JULY = Period.month(2025, 7)


async def unit(database, code, scope=PROVINCE_SCOPE, period=JULY, lang="vi", trend="month"):
    async with database.transaction() as session:
        return await dashboard.unit(
            session,
            scoring=SETTINGS,
            questionnaires=QUESTIONNAIRES,
            questionnaire_id=Q,
            scope=scope,
            agency_code=code,
            period=period,
            lang=lang,
            trend=trend,
        )


async def test_criteria_weakest_first_and_channel_mix(database):
    ids = await province(database)
    # F1.1 and F2.2 weakest (2 of 5 satisfied), F3.3 next (3 of 5), the rest 5 of 5
    for channel, low in [("paper", ()), ("telegram", ("F1.1", "F2.2", "F3.3"))]:
        for _ in range(2):
            answers = all_at(5)
            answers.update(dict.fromkeys(low, 1))
            await answer(database, ids, "S1", date(2025, 7, 4), answers, channel=channel)
    await answer(database, ids, "S1", date(2025, 7, 5), all_at(5, **{"F1.1": 2, "F2.2": 2}))
    page = await unit(database, "S1")
    assert page.headline.forms == 5
    assert [c.code for c in page.criteria[:3]] == ["F1.1", "F2.2", "F3.3"]
    assert [c.weakest for c in page.criteria[:4]] == [True, True, True, False]
    assert page.criteria[0].index == pytest.approx(40.0)  # 2 of 5
    assert page.criteria[2].index == pytest.approx(60.0)
    assert sum(c.weakest for c in page.criteria) == 3
    f5 = [c for c in page.criteria if c.factor == "F5"]
    assert f5 and all(c.index is None for c in f5) and page.criteria[-1].factor == "F5"
    assert page.criteria[0].name == QUESTIONNAIRES[Q].question("F1.1").text["vi"]
    assert [(s.channel, s.forms) for s in page.channels] == [("paper", 3), ("telegram", 2)]
    assert page.channels[0].share == pytest.approx(60.0)
    # telegram: F1 3 of 4 criteria satisfied, F2 4 of 5, F3 5 of 6, F4 all
    assert page.channels[1].index == pytest.approx((75 + 80 + 500 / 6 + 100) / 4)


async def test_merged_units_show_under_their_successor(database):
    await seeded(database)
    x1 = await unit(database, "X1")
    assert (x1.members, x1.successor_code, x1.headline.forms) == (("D1", "X1"), None, 3)
    d1 = await unit(database, "D1")  # merged away: the successor's figures, said so
    assert (d1.successor_code, d1.members, d1.headline.forms) == ("X1", ("D1", "X1"), 3)
    async with database.transaction() as session:
        scope = await scope_of(session, (await _ids(database))["X1"])
    own = await unit(database, "D1", scope=scope)  # an agency's scope does not merge
    assert (own.successor_code, own.members, own.headline.forms) == (None, ("D1",), 1)


async def _ids(database) -> dict[str, int]:
    async with database.transaction() as session:
        return dict((await session.execute(select(Agency.code, Agency.id))).all())


async def test_dropoff_by_question_step(database):
    ids = await province(database)
    await answer(database, ids, "S1", date(2025, 7, 4), all_at(5))
    async with database.transaction() as session:
        await session.execute(
            insert(SurveyFunnel),
            [
                dict(day=date(2025, 7, 4), agency_key=ids["S1"], service_key=0, questionnaire=Q,
                     channel_kind="telegram", phase="questions", step=27, outcome="completed",
                     sessions=4),
                dict(day=date(2025, 7, 5), agency_key=ids["S1"], service_key=0, questionnaire=Q,
                     channel_kind="telegram", phase="questions", step=2, outcome="expired",
                     sessions=3),
                dict(day=date(2025, 7, 5), agency_key=ids["S2"], service_key=0, questionnaire=Q,
                     channel_kind="telegram", phase="questions", step=1, outcome="expired",
                     sessions=9),
            ],
        )  # fmt: skip
    page = await unit(database, "S1")
    assert page.dropoff.started == 7 and page.dropoff.completed == 4
    third = page.dropoff.steps[2]
    assert (third.reached, third.left_total) == (7, 3)
    assert page.dropoff.worst.question_id == third.question_id
    assert page.step_names[third.question_id].startswith(
        QUESTIONNAIRES[Q].question(third.question_id).text["vi"][:10]
    )
    assert page.dropoff.steps[1].left_total == 0  # S2's leavers are not S1's


async def test_suggestions_are_the_units_texts_by_day_then_text(database):
    ids = await province(database)
    for code, day, text in [
        ("S1", date(2025, 7, 9), "b: more seats"),
        ("S1", date(2025, 7, 2), "z: late result"),
        ("S1", date(2025, 7, 9), "a: clearer fees"),
        ("S1", date(2025, 6, 30), "june: outside the period"),
        ("S2", date(2025, 7, 3), "another unit"),
        ("S1", date(2025, 7, 3), "   "),
    ]:
        await answer(database, ids, code, day, all_at(4, suggestion=text))
    await answer(database, ids, "S1", date(2025, 7, 4), all_at(4))  # no suggestion
    page = await unit(database, "S1")
    assert [(s.day, s.text) for s in page.suggestions] == [
        (date(2025, 7, 2), "z: late result"),
        (date(2025, 7, 9), "a: clearer fees"),
        (date(2025, 7, 9), "b: more seats"),
    ]
    assert page.suggestions_total == 3
    assert [field.name for field in dataclasses.fields(dashboard.Suggestion)] == ["day", "text"]
    assert type(page.suggestions[0].day) is date  # a day, not a time


async def test_suggestions_are_capped_with_the_total(database):
    ids = await province(database)
    forms = [
        NewResponse(Q, ids["S1"], None, "province", date(2025, 7, 1 + i % 28), "web",
                    all_at(4, suggestion=f"idea {i:03d}"), None)
        for i in range(dashboard.SUGGESTIONS + 3)
    ]  # fmt: skip
    async with database.transaction() as session:
        await store_responses(session, forms, QUESTIONNAIRES)
    page = await unit(database, "S1")
    assert len(page.suggestions) == dashboard.SUGGESTIONS
    assert page.suggestions_total == dashboard.SUGGESTIONS + 3
    days = [s.day for s in page.suggestions]
    assert days == sorted(days) and days[0] == date(2025, 7, 1)


@pytest.mark.parametrize("code", ["X2", "NOPE", "", "x1", "S1'; --"])
async def test_outside_the_scope_or_unknown_is_the_same_refusal(database, code):
    ids = await province(database)
    async with database.transaction() as session:
        scope = await scope_of(session, ids["X1"])
    with pytest.raises(OutOfScope) as raised:
        await unit(database, code, scope=scope)
    assert raised.value.code == code and str(raised.value) == code
    assert type(raised.value) is OutOfScope


async def test_the_unit_page_trend(database):
    ids = await province(database)
    await answer(database, ids, "S1", date(2025, 3, 4), all_at(5))
    await answer(database, ids, "S2", date(2025, 3, 4), all_at(1))
    page = await unit(database, "S1", trend="quarter")
    assert len(page.trend.points) == 8
    q1 = {point.label: point for point in page.trend.points}["2025-Q1"]
    assert (q1.forms, q1.index) == (1, 100.0)


async def test_filters_for_an_export_never_leave_the_scope(database):
    ids = await province(database)
    async with database.transaction() as session:
        scope = await scope_of(session, ids["X1"])
    july = dashboard.overview_filters(scope, JULY, " D1 ", questionnaire_id=Q)
    assert (july.agencies, july.merge_successors) == (("D1",), False)
    for code in ("X2", "NOPE", "x1"):
        with pytest.raises(OutOfScope) as raised:
            dashboard.overview_filters(scope, JULY, code, questionnaire_id=Q)
        assert raised.value.code == code
    province_wide = dashboard.overview_filters(PROVINCE_SCOPE, JULY, "X2", questionnaire_id=Q)
    assert (province_wide.agencies, province_wide.merge_successors) == (("X2",), True)
