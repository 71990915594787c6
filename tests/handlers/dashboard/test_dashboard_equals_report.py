"""The dashboard's numbers equal `python -m bot report --format json` for the filters
`dashboard.overview_filters` gives, on both databases (the command runs in-process on
the test's database, in a thread: it has its own event loop)."""

from __future__ import annotations

import asyncio
import json
from datetime import date

from handlers import dashboard
from handlers.officials.access import PROVINCE_SCOPE, scope_of
from handlers.reports import Period, ReportFilters
from tests.cli_helpers import run_cli
from tests.dashboard_helpers import QUESTIONNAIRES, SETTINGS, Q, all_at, answer, seeded

JULY = Period.month(2025, 7)


def cli_arguments(filters: ReportFilters, group_by: str) -> list[str]:
    arguments = ["report", "--format", "json", "--questionnaire", filters.questionnaire]
    # the label, not --from/--to: a month's previous period is the month before, a range's
    # as many days before
    arguments += ["--period", filters.period.label]
    for code in filters.agencies:
        arguments += ["--agency", code]
    if filters.merge_successors:
        arguments.append("--merge-successors")
    return [*arguments, "--group-by", group_by]


async def bot_report(database, tmp_path, filters: ReportFilters, group_by: str) -> dict:
    env = {
        "DATABASE_URL": database.url,
        "SCORING_TARGET": str(SETTINGS.target),
        "SCORING_MIN_SAMPLE": str(SETTINGS.min_sample),
    }
    result = await asyncio.to_thread(run_cli, tmp_path, *cli_arguments(filters, group_by), env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def rounded(value):
    return None if value is None else round(value, 2)


def assert_headline(headline: dashboard.Headline, total: dict) -> None:
    assert headline.forms == total["respondents"]
    assert headline.reliable == total["reliable"]
    overall = total["overall"]
    assert rounded(headline.sipas.index) == overall["index"]
    assert rounded(headline.sipas.ci_low) == overall["ci_low"]
    assert rounded(headline.sipas.ci_high) == overall["ci_high"]
    assert rounded(headline.sipas.change) == overall["change"]
    assert rounded(headline.sipas.to_target) == overall["to_target"]
    for figure, factor in zip(headline.factors, total["factors"], strict=True):
        assert figure.code == factor["factor"]
        assert rounded(figure.index) == factor["index"]
        assert (rounded(figure.ci_low), rounded(figure.ci_high)) == (
            factor["ci_low"],
            factor["ci_high"],
        )
        assert figure.forms == (factor["respondents"] or 0)
        assert figure.reliable == factor["reliable"]


async def with_june(database):
    ids = await seeded(database)
    for code, value in [("S1", 1), ("S3", 5), ("D1", 5), ("X2", 1)]:  # changes to compare
        await answer(database, ids, code, date(2025, 6, 12), all_at(value))
    # 31 May: in the 31 days before July, not in June (the month before July)
    await answer(database, ids, "S2", date(2025, 5, 31), all_at(1))
    return ids


async def test_the_province_overview_equals_bot_report(database, tmp_path):
    await with_june(database)
    async with database.transaction() as session:
        view = await dashboard.overview(
            session,
            scoring=SETTINGS,
            questionnaires=QUESTIONNAIRES,
            questionnaire_id=Q,
            scope=PROVINCE_SCOPE,
            period=JULY,
            lang="vi",
        )
    filters = dashboard.overview_filters(PROVINCE_SCOPE, JULY, questionnaire_id=Q)
    assert filters == view.filters
    data = await bot_report(database, tmp_path, filters, "agency")
    assert_headline(view.headline, data["total"])
    groups = {group["key"]["agency"]: group for group in data["groups"]}
    listed = [unit for block in view.blocks for unit in block.units if unit.forms]
    assert {unit.code for unit in listed} == set(groups)
    for unit in listed:
        group = groups[unit.code]
        assert unit.forms == group["respondents"]
        assert rounded(unit.index) == group["overall"]["index"]
        assert rounded(unit.change) == group["overall"]["change"]
        assert unit.reliable == group["reliable"]
        assert [rounded(index) for _, index in unit.factors] == [
            factor["index"] for factor in group["factors"]
        ]
    trend = await bot_report(database, tmp_path, view.trend.filters, "month")
    months = {group["key"]["month"]: group for group in trend["groups"]}
    for point in view.trend.points:
        expected = months.get(point.label)
        assert point.forms == (expected["respondents"] if expected else 0)
        assert rounded(point.index) == (expected["overall"]["index"] if expected else None)


async def test_an_agency_scope_and_a_unit_equal_bot_report(database, tmp_path):
    ids = await with_june(database)
    async with database.transaction() as session:
        scope = await scope_of(session, ids["X1"])
        view = await dashboard.overview(
            session,
            scoring=SETTINGS,
            questionnaires=QUESTIONNAIRES,
            questionnaire_id=Q,
            scope=scope,
            period=JULY,
            lang="en",
        )
        page = await dashboard.unit(
            session,
            scoring=SETTINGS,
            questionnaires=QUESTIONNAIRES,
            questionnaire_id=Q,
            scope=PROVINCE_SCOPE,
            agency_code="X1",
            period=JULY,
            lang="en",
            trend="quarter",
        )
    data = await bot_report(database, tmp_path, view.filters, "agency")
    assert view.filters == dashboard.overview_filters(scope, JULY, questionnaire_id=Q)
    assert_headline(view.headline, data["total"])
    assert {g["key"]["agency"]: g["respondents"] for g in data["groups"]} == {"D1": 1, "X1": 2}

    assert page.filters == dashboard.overview_filters(
        PROVINCE_SCOPE, JULY, "X1", questionnaire_id=Q
    )
    data = await bot_report(database, tmp_path, page.filters, "channel")
    assert_headline(page.headline, data["total"])
    criteria = {c["item_id"]: c for c in data["total"]["criteria"]}
    for row in page.criteria:
        assert rounded(row.index) == criteria[row.code]["index"]
        assert row.valid_n == criteria[row.code]["valid_n"]
    assert {s.channel: s.forms for s in page.channels} == {
        g["key"]["channel"]: g["respondents"] for g in data["groups"]
    }
    assert data["dropoff"]["started"] == page.dropoff.started
    # the last quarter of the trend is the period's quarter so far: July, as `bot report`
    quarter = page.trend.points[-1]
    assert (quarter.label, quarter.start, quarter.end) == ("2025-Q3", JULY.start, JULY.end)
    assert (quarter.forms, rounded(quarter.index)) == (
        data["total"]["respondents"],
        data["total"]["overall"]["index"],
    )


async def test_a_quarter_of_the_trend_equals_bot_report_for_that_quarter(database, tmp_path):
    ids = await seeded(database)
    for day, code, value in [
        (date(2025, 4, 2), "S1", 5),
        (date(2025, 5, 20), "S2", 1),
        (date(2025, 6, 30), "X1", 5),
        (date(2025, 6, 30), "D1", 4),
        (date(2025, 6, 1), "S3", 2),
    ]:
        await answer(database, ids, code, day, all_at(value, feedback_given=1, **{"F5.1": value}))
    async with database.transaction() as session:
        view = await dashboard.overview(
            session,
            scoring=SETTINGS,
            questionnaires=QUESTIONNAIRES,
            questionnaire_id=Q,
            scope=PROVINCE_SCOPE,
            period=JULY,
            lang="vi",
            trend="quarter",
        )
    q2 = {point.label: point for point in view.trend.points}["2025-Q2"]
    filters = dashboard.overview_filters(
        PROVINCE_SCOPE, Period.quarter(2025, 2), questionnaire_id=Q
    )
    total = (await bot_report(database, tmp_path, filters, "none"))["total"]
    assert q2.forms == total["respondents"] == 5
    assert rounded(q2.index) == total["overall"]["index"]
    assert (rounded(q2.ci_low), rounded(q2.ci_high)) == (
        total["overall"]["ci_low"],
        total["overall"]["ci_high"],
    )
