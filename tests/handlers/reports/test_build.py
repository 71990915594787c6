"""Reports on both databases, with every expected figure worked out by hand."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select, text

from bot import migrate
from bot.database import Database
from bot.models import RollupItem
from bot.questionnaire import load_questionnaires
from bot.settings import ScoringSettings, load_settings
from handlers.reports import Period, ReportError, ReportFilters, build_report
from handlers.survey.store.responses import NewResponse, store_response, store_responses
from tests.report_helpers import catalogue

QUESTIONNAIRES = load_questionnaires()
Q = "sipas-2017"
F1_TO_F4 = [
    *(f"F1.{i}" for i in range(1, 5)),
    *(f"F2.{i}" for i in range(1, 6)),
    *(f"F3.{i}" for i in range(1, 7)),
    *(f"F4.{i}" for i in range(1, 4)),
]
F5 = [f"F5.{i}" for i in range(1, 5)]
SETTINGS = ScoringSettings(target=80, min_sample=2)


def all_at(value: int, feedback: int | None = None) -> dict[str, int]:
    """Every F1-F4 criterion at `value`; F5 only behind a "yes" gate."""
    answers = dict.fromkeys(F1_TO_F4, value)
    answers["feedback_given"] = 2
    if feedback is not None:
        answers["feedback_given"] = 1
        answers.update(dict.fromkeys(F5, feedback))
    return answers


async def store(database, ids, agency, day, answers, service=None, channel="telegram", **kw):
    levels = {"PROV": "province", "COMM": "commune", "NEW": "commune"}
    async with database.transaction() as session:
        return await store_response(
            session,
            QUESTIONNAIRES,
            questionnaire=Q,
            agency_id=ids[agency],
            service_id=ids[service] if service else None,
            level=levels.get(agency, "district"),
            day=day,
            channel_kind=channel,
            answers=answers,
            **kw,
        )


async def report(database, period, grouping=(), **filters):
    async with database.transaction() as session:
        return await build_report(
            session, QUESTIONNAIRES, ReportFilters(Q, period, **filters), grouping, SETTINGS
        )


async def three_responses(database, ids, day: date) -> None:
    """R1 all 5; R2 all 2 and F5 all 4; R3 no opinion on F1.1, the rest 4."""
    await store(database, ids, "PROV", day, all_at(5))
    await store(database, ids, "PROV", day, all_at(2, feedback=4))
    await store(database, ids, "PROV", day, {**all_at(4), "F1.1": 0})


@pytest.mark.parametrize(
    "period",
    [
        Period.month(2025, 7),  # whole month: read from the rollups
        Period(date(2025, 7, 2), date(2025, 7, 30)),  # inside a month: the daily rollups
    ],
)
async def test_indices_worked_out_by_hand(database, period):
    ids = await catalogue(database)
    await three_responses(database, ids, date(2025, 7, 15))
    result = await report(database, period)
    total = result.total

    assert total.counts.respondents == 3
    f11 = total.indices.criterion("F1.1")
    # F1.1: answers 5 and 2 valid, one no opinion -> 1 of 2 satisfied
    assert (f11.valid_n, f11.satisfied, f11.no_opinion) == (2, 1, 1)
    assert f11.index == pytest.approx(50.0)
    # every other F1-F4 criterion: 5, 2, 4 -> 2 of 3
    assert total.indices.criterion("F3.6").index == pytest.approx(200 / 3)
    assert total.indices.criterion("F5.1").index == pytest.approx(100.0)  # only R2: 4
    # mean of criteria: F1 = (50 + 3 * 66.67) / 4 = 62.5; F5 = 100
    assert total.indices.factor("F1").index == pytest.approx(62.5)
    assert total.indices.factor("F2").index == pytest.approx(200 / 3)
    assert total.indices.factor("F5").index == pytest.approx(100.0)
    # SIPAS = (62.5 + 3 * 66.67 + 100) / 5 = 72.5
    assert total.indices.overall.index == pytest.approx(72.5)
    assert result.rule.value == "mean_of_factors"

    # respondent moments (y = answers at 4-5, m = valid answers per respondent)
    f1 = total.counts.moments["F1"]  # R1 (4, 4), R2 (0, 4), R3 (3, 3)
    assert (f1.respondents, f1.sum_y, f1.sum_m, f1.sum_yy, f1.sum_mm, f1.sum_ym) == (
        3,
        7,
        11,
        25,
        41,
        25,
    )
    f5 = total.counts.moments["F5"]  # only R2 answered F5: (4, 4)
    assert (f5.respondents, f5.sum_y, f5.sum_m, f5.sum_yy, f5.sum_mm, f5.sum_ym) == (
        1,
        4,
        4,
        16,
        16,
        16,
    )
    overall = total.counts.moments["overall"]  # R1 (18, 18), R2 (4, 22), R3 (17, 17)
    assert (overall.respondents, overall.sum_y, overall.sum_m) == (3, 39, 57)
    assert (overall.sum_yy, overall.sum_mm, overall.sum_ym) == (629, 1097, 701)


async def test_gate_no_for_everyone_reports_f5_missing(database):
    ids = await catalogue(database)
    await store(database, ids, "PROV", date(2025, 7, 1), all_at(5))
    await store(database, ids, "PROV", date(2025, 7, 2), all_at(1))
    total = (await report(database, Period.month(2025, 7))).total.indices
    assert total.overall.factors_missing == ("F5",)
    assert total.factor("F5").index is None
    assert total.overall.index == pytest.approx(50.0)  # F1-F4 each 1 of 2


async def test_previous_period_and_target(database):
    ids = await catalogue(database)
    await store(database, ids, "PROV", date(2025, 6, 30), all_at(1))  # June: 0 %
    await store(database, ids, "PROV", date(2025, 7, 1), all_at(5))  # July: 100 %
    result = await report(database, Period.month(2025, 7))
    overall = result.total.indices.overall
    assert result.previous_period == Period.month(2025, 6)
    assert result.total.previous.respondents == 1
    assert overall.comparison.change == pytest.approx(100.0)
    assert overall.comparison.to_target == pytest.approx(20.0)
    assert overall.comparison.met_target is True


async def test_filters_and_grouping(database):
    ids = await catalogue(database)
    july = date(2025, 7, 10)
    await store(database, ids, "PROV", july, all_at(5), service="KS", channel="paper")
    await store(database, ids, "PROV", july, all_at(1), service="DD", channel="telegram")
    await store(database, ids, "COMM", july, all_at(5), service="KS", channel="telegram")
    await store(database, ids, "COMM", date(2025, 8, 3), all_at(5), channel="zalo")
    quarter = Period.quarter(2025, 3)

    by_agency = await report(database, quarter, ("agency",))
    assert {g.key["agency"]: g.counts.respondents for g in by_agency.groups} == {
        "PROV": 2,
        "COMM": 2,
    }
    prov = next(g for g in by_agency.groups if g.key["agency"] == "PROV")
    assert prov.indices.overall.index == pytest.approx(50.0)
    assert prov.names["agency"] == "Cơ quan PROV" and prov.label == "PROV Cơ quan PROV"

    by_service = await report(database, quarter, ("service",))
    assert {g.key["service"]: g.counts.respondents for g in by_service.groups} == {
        "KS": 2,
        "DD": 1,
        "": 1,  # no service
    }
    by_month = await report(database, quarter, ("month", "channel"))
    assert {(g.key["month"], g.key["channel"]): g.counts.respondents for g in by_month.groups} == {
        ("2025-07", "paper"): 1,
        ("2025-07", "telegram"): 2,
        ("2025-08", "zalo"): 1,
    }
    by_level = await report(database, quarter, ("level",))
    assert {g.key["level"]: g.counts.respondents for g in by_level.groups} == {
        "province": 2,
        "commune": 2,
    }

    assert (await report(database, quarter, fields=("ho tich",))).total.counts.respondents == 2
    assert (await report(database, quarter, services=("DD",))).total.counts.respondents == 1
    assert (await report(database, quarter, level="xã")).total.counts.respondents == 2
    assert (await report(database, quarter, channel_kind="telegram")).total.counts.respondents == 2
    only = await report(database, quarter, agencies=("PROV",), channel_kind="telegram")
    assert only.total.counts.respondents == 1
    assert only.total.indices.overall.index == pytest.approx(0.0)
    assert (await report(database, Period.month(2025, 8))).total.counts.respondents == 1


async def test_merged_agencies_map_to_their_successor(database):
    ids = await catalogue(database)
    await store(database, ids, "OLDER", date(2025, 5, 2), all_at(5))
    await store(database, ids, "OLD", date(2025, 6, 2), all_at(5))
    await store(database, ids, "NEW", date(2025, 7, 2), all_at(1))
    year = Period.year(2025)

    alone = await report(database, year, ("agency",), agencies=("NEW",))
    assert [g.key["agency"] for g in alone.groups] == ["NEW"]
    assert alone.total.counts.respondents == 1

    merged = await report(database, year, ("agency",), agencies=("NEW",), merge_successors=True)
    assert [(g.key["agency"], g.counts.respondents) for g in merged.groups] == [("NEW", 3)]
    assert merged.total.indices.overall.index == pytest.approx(200 / 3)

    # asking for a merged code with merging on means its successor's whole family
    family = await report(database, year, agencies=("OLDER",), merge_successors=True)
    assert family.total.counts.respondents == 3

    unmerged = await report(database, year, ("agency",))
    assert sorted(g.key["agency"] for g in unmerged.groups) == ["NEW", "OLD", "OLDER"]


async def test_unknown_names_are_refused(database):
    await catalogue(database)
    with pytest.raises(ReportError, match="unknown agency code NOPE"):
        await report(database, Period.year(2025), agencies=("NOPE",))
    with pytest.raises(ReportError, match="no service in the field"):
        await report(database, Period.year(2025), fields=("Thuế",))
    with pytest.raises(ReportError, match="cannot group by"):
        await report(database, Period.year(2025), ("weekday",))


async def test_restoring_a_form_replaces_it(database):
    ids = await catalogue(database)
    await store(database, ids, "PROV", date(2025, 7, 1), all_at(1), form_id="P-1")
    await store(database, ids, "PROV", date(2025, 8, 1), all_at(5), form_id="P-1")
    quarter = await report(database, Period.quarter(2025, 3))
    assert quarter.total.counts.respondents == 1
    assert quarter.total.indices.overall.index == pytest.approx(100.0)
    assert (await report(database, Period.month(2025, 7))).total.counts.respondents == 0


async def test_bulk_store_equals_one_by_one(database):
    ids = await catalogue(database)
    day = date(2025, 7, 1)
    async with database.transaction() as session:
        stored = await store_responses(
            session,
            [
                NewResponse(Q, ids["COMM"], None, "commune", day, "web", all_at(v))
                for v in (5, 4, 1)
            ],
            QUESTIONNAIRES,
        )
    assert len(set(stored)) == 3
    total = (await report(database, Period.month(2025, 7))).total
    assert total.counts.respondents == 3
    assert total.indices.overall.index == pytest.approx(200 / 3)


async def test_migration_counts_responses_stored_before_the_rollups(empty_database_url, backend):
    database = Database(await empty_database_url(backend))
    try:
        await migrate.upgrade(database, "0001")
        async with database.transaction() as session:
            await session.execute(
                text(
                    "INSERT INTO agencies (id, code, name, name_folded, level) "
                    "VALUES (1, 'A', 'A', 'a', 'commune')"
                )
            )
            for response_id, value in ((1, 5), (2, 2)):
                await session.execute(
                    text(
                        "INSERT INTO responses (id, questionnaire, agency_id, level, "
                        "response_date, channel_kind) VALUES (:id, 'sipas-2017', 1, 'commune', "
                        ":day, 'telegram')"
                    ),
                    {"id": response_id, "day": date(2025, 7, 3)},
                )
                for item in F1_TO_F4:
                    await session.execute(
                        text(
                            "INSERT INTO response_answers (response_id, item_id, value) "
                            "VALUES (:id, :item, :value)"
                        ),
                        {"id": response_id, "item": item, "value": value},
                    )
        await migrate.upgrade(database)
        async with database.transaction() as session:
            assert await session.scalar(select(func.count()).select_from(RollupItem)) == 18
        total = (await report(database, Period.month(2025, 7))).total
        assert total.counts.respondents == 2
        assert total.indices.overall.index == pytest.approx(50.0)
    finally:
        await database.dispose()


def test_scoring_settings_from_the_environment(monkeypatch):
    monkeypatch.setenv("SCORING_TARGET", "85.5")
    monkeypatch.setenv("SCORING_MIN_SAMPLE", "50")
    settings = load_settings()
    assert (settings.scoring.target, settings.scoring.min_sample) == (85.5, 50)
    monkeypatch.setenv("SCORING_TARGET", "120")
    with pytest.raises(Exception, match="SCORING_TARGET"):
        load_settings()


async def test_days_next_to_whole_months_are_counted_once(database):
    ids = await catalogue(database)
    for day in (date(2025, 5, 31), date(2025, 6, 1), date(2025, 6, 30), date(2025, 7, 1)):
        await store(database, ids, "PROV", day, all_at(5))
    await store(database, ids, "PROV", date(2025, 7, 2), all_at(1))

    def n(result):
        return result.total.counts.respondents

    # June whole from the monthly rollups, 31 May and 1-2 July from the daily ones
    wide = await report(database, Period(date(2025, 5, 31), date(2025, 7, 2)))
    assert n(wide) == 5
    assert wide.total.indices.overall.index == pytest.approx(80.0)
    assert n(await report(database, Period(date(2025, 6, 1), date(2025, 7, 1)))) == 3
    assert n(await report(database, Period(date(2025, 5, 31), date(2025, 6, 30)))) == 3
    assert n(await report(database, Period(date(2025, 6, 2), date(2025, 6, 30)))) == 1


async def test_a_failed_bulk_store_leaves_nothing(database):
    """Answers, rollups and responses go in one transaction, also when PostgreSQL takes
    the answers by COPY (from 1000 rows on)."""
    from bot.models import Response, ResponseAnswer, RollupResponses

    ids = await catalogue(database)
    rows = [
        NewResponse(Q, ids["COMM"], None, "commune", date(2025, 7, 1), "web", all_at(4))
        for _ in range(60)  # 60 * 19 answers
    ]
    with pytest.raises(RuntimeError):
        async with database.transaction() as session:
            await store_responses(session, rows, QUESTIONNAIRES)
            raise RuntimeError("the import stops here")
    async with database.transaction() as session:
        for model in (Response, ResponseAnswer, RollupResponses, RollupItem):
            assert await session.scalar(select(func.count()).select_from(model)) == 0
        await store_responses(session, rows, QUESTIONNAIRES)
    total = (await report(database, Period.month(2025, 7))).total
    assert total.counts.respondents == 60
    assert total.indices.criterion("F4.3").valid_n == 60


async def test_a_series_without_previous_period_or_funnel_keeps_the_indices(database):
    from sqlalchemy import insert

    from bot.models import SurveyFunnel

    ids = await catalogue(database)
    await store(database, ids, "PROV", date(2025, 6, 3), all_at(1))
    await three_responses(database, ids, date(2025, 7, 15))
    async with database.transaction() as session:
        await session.execute(
            insert(SurveyFunnel).values(
                day=date(2025, 7, 15), agency_key=ids["PROV"], service_key=0, questionnaire=Q,
                channel_kind="telegram", phase="questions", step=3, outcome="expired", sessions=2,
            )
        )  # fmt: skip
    july = Period.month(2025, 7)
    full = await report(database, july, ("agency",))
    async with database.transaction() as session:
        bare = await build_report(
            session, QUESTIONNAIRES, ReportFilters(Q, july), ("agency",), SETTINGS,
            compare=False, funnel=False,
        )  # fmt: skip
    assert full.total.previous.respondents == 1 and bare.total.previous is None
    assert full.total.indices.overall.comparison.change is not None
    assert bare.total.indices.overall.comparison.change is None
    assert bare.total.indices.overall.index == full.total.indices.overall.index
    assert [g.indices.overall.index for g in bare.groups] == [
        g.indices.overall.index for g in full.groups
    ]
    assert (full.dropoff.started, bare.dropoff.started) == (2, 0)
