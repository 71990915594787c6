"""The overview on both databases, on the hand-built province of `tests.dashboard_helpers`."""

from __future__ import annotations

from datetime import date

import pytest

from handlers import dashboard
from handlers.officials.access import PROVINCE_SCOPE, OutOfScope, Scope, scope_of
from handlers.reports import Period
from tests.dashboard_helpers import QUESTIONNAIRES, SETTINGS, Q, all_at, answer, province, seeded

JULY = Period.month(2025, 7)


async def overview(database, scope=PROVINCE_SCOPE, period=JULY, trend="month", lang="vi"):
    async with database.transaction() as session:
        return await dashboard.overview(
            session,
            scoring=SETTINGS,
            questionnaires=QUESTIONNAIRES,
            questionnaire_id=Q,
            scope=scope,
            period=period,
            lang=lang,
            trend=trend,
        )


def codes(units) -> list[str]:
    return [unit.code for unit in units]


async def test_blocks_ranks_top_bottom_and_high_count(database):
    await seeded(database)
    view = await overview(database)

    assert [block.level for block in view.blocks] == ["province", "commune", "ministry"]
    assert [block.name for block in view.blocks][:2] == ["Sở, ban, ngành", "Xã, phường"]
    departments, communes, ministries = view.blocks
    # ranked by SIPAS, ties (S4, S6 at 33,33) share a rank; then the unranked by code
    assert codes(departments.units) == ["S1", "S2", "S3", "S5", "S4", "S6", "S7", "S8"]
    assert [unit.rank for unit in departments.units] == [1, 2, 3, 4, 5, 5, None, None]
    assert departments.units[1].index == pytest.approx(90.0)
    s7 = departments.units[6]
    assert (s7.forms, s7.index, s7.small_sample, s7.ranked) == (2, 100.0, True, False)
    s8 = departments.units[7]
    assert (s8.forms, s8.index, s8.small_sample) == (0, None, True)
    assert codes(departments.top) == ["S1", "S2", "S3", "S5", "S4"]
    assert codes(departments.bottom) == ["S6"]  # never the ones already on top
    assert departments.at_or_above_high == 2  # S1, and S2 at exactly 90; not S7 (2 forms)

    # D1 was merged into X1: counted under it, not listed on its own
    assert codes(communes.units) == ["X2", "X1"]
    x1 = communes.units[1]
    assert (x1.forms, x1.members) == (3, ("D1", "X1"))
    assert x1.index == pytest.approx(200 / 3)
    assert "D1" not in {unit.code for block in view.blocks for unit in block.units}
    assert codes(ministries.units) == ["M1"]

    assert view.at_or_above_high == 4  # S1, S2, X2, M1
    assert view.units == 11 and view.ranked_units == 9
    # across blocks: ties by code
    assert codes(view.top) == ["M1", "S1", "X2", "S2", "S3"]
    assert codes(view.bottom) == ["S6", "S4", "X1", "S5"]


async def test_headline_figures_change_and_target(database):
    ids = await seeded(database)
    view = await overview(database)
    headline = view.headline
    forms = 3 + 10 + 4 + 3 + 3 + 3 + 2 + 3 + 4 + 3
    at_five = 3 + 9 + 3 + 1 + 2 + 1 + 2 + 2 + 4 + 3
    assert headline.forms == forms and headline.previous_forms == 0
    assert headline.sipas.index == pytest.approx(100 * at_five / forms)
    assert headline.sipas.to_target == pytest.approx(100 * at_five / forms - 80)
    assert headline.sipas.change is None  # no June
    assert headline.sipas.ci_low < headline.sipas.index < headline.sipas.ci_high
    assert [factor.code for factor in headline.factors] == ["F1", "F2", "F3", "F4", "F5"]
    assert headline.factors[0].index == pytest.approx(headline.sipas.index)
    f5 = headline.factors[4]
    assert (f5.index, f5.forms, f5.small_sample) == (None, 0, True)
    assert headline.factors[0].name.startswith("Tiếp cận")
    assert not headline.small_sample
    assert ids  # the catalogue was built


async def test_small_province_is_flagged_small(database):
    ids = await province(database)
    await answer(database, ids, "S1", date(2025, 7, 2), all_at(5))
    await answer(database, ids, "S1", date(2025, 6, 2), all_at(1))
    view = await overview(database)
    assert view.headline.forms == 1 and view.headline.small_sample
    assert view.headline.sipas.small_sample
    assert view.headline.sipas.change == pytest.approx(100.0)  # June 0, July 100
    assert view.top == () and view.at_or_above_high == 0


async def test_trend_by_month_and_quarter(database):
    ids = await province(database)
    for day, value in [
        (date(2024, 8, 31), 5),  # first month of a July 2025 monthly trend
        (date(2024, 7, 31), 5),  # outside it
        (date(2025, 5, 3), 5),
        (date(2025, 6, 3), 1),
        (date(2025, 7, 3), 5),
        (date(2025, 7, 25), 1),  # after the period's end below
    ]:
        await answer(database, ids, "S1", day, all_at(value))
    period = Period(date(2025, 7, 1), date(2025, 7, 20))
    monthly = (await overview(database, period=period)).trend
    assert monthly.kind == "month" and len(monthly.points) == 12
    assert monthly.points[0].label == "2024-08" and monthly.points[-1].label == "2025-07"
    assert monthly.points[-1].end == date(2025, 7, 20)
    by_label = {point.label: point for point in monthly.points}
    assert by_label["2024-08"].forms == 1 and by_label["2024-08"].index == 100.0
    assert by_label["2024-09"].forms == 0 and by_label["2024-09"].index is None
    assert by_label["2025-06"].index == 0.0
    assert (by_label["2025-07"].forms, by_label["2025-07"].index) == (1, 100.0)

    quarterly = (await overview(database, period=period, trend="quarter")).trend
    assert [p.label for p in quarterly.points] == [
        "2023-Q4", "2024-Q1", "2024-Q2", "2024-Q3", "2024-Q4", "2025-Q1", "2025-Q2", "2025-Q3",
    ]  # fmt: skip
    q = {point.label: point for point in quarterly.points}
    assert (q["2024-Q3"].forms, q["2024-Q3"].index) == (2, 100.0)  # July and August 2024
    assert (q["2025-Q2"].forms, q["2025-Q2"].index) == (2, 50.0)  # May 5, June 1
    assert (q["2025-Q3"].forms, q["2025-Q3"].end) == (1, date(2025, 7, 20))
    with pytest.raises(ValueError, match="trend"):
        await overview(database, trend="week")
    assert (await overview(database, period=period, trend=None)).trend is None
    async with database.transaction() as session:
        apart = await dashboard.trend_series(
            session,
            scoring=SETTINGS,
            questionnaires=QUESTIONNAIRES,
            questionnaire_id=Q,
            scope=PROVINCE_SCOPE,
            period=period,
            trend="quarter",
        )
    assert apart == quarterly


async def test_an_agency_scope_sees_only_its_units_unmerged(database):
    ids = await seeded(database)
    async with database.transaction() as session:
        scope = await scope_of(session, ids["X1"])
    assert scope.codes == ("D1", "X1")
    view = await overview(database, scope=scope)
    assert view.filters.agencies == ("D1", "X1") and not view.filters.merge_successors
    units = [unit for block in view.blocks for unit in block.units]
    assert sorted(codes(units)) == ["D1", "X1"]
    assert view.headline.forms == 3


async def test_an_agency_scope_without_agencies_is_refused(database):
    await seeded(database)
    with pytest.raises(OutOfScope) as raised:
        await overview(database, scope=Scope(frozenset(), (), None, None))
    assert raised.value.code is None
