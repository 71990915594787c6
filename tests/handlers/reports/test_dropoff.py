"""Drop-off figures from `survey_funnel` counts, every expected figure worked out by hand."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import insert

from bot.database import Database
from bot.models import SurveyFunnel
from bot.questionnaire import load_questionnaires
from bot.settings import ScoringSettings
from handlers.officials.content import Words, dropoff_line
from handlers.reports import Period, ReportFilters, build_report, dropoff_of, render_table
from scoring import wilson_interval
from tests.builders import (
    TRANSLATOR,
    Citizen,
    FakeClock,
    make_code,
    make_processor,
    seed_catalog,
)
from tests.report_helpers import catalogue

QUESTIONNAIRES = load_questionnaires()
Q = "sipas-2017"
JULY = Period.month(2025, 7)
SETTINGS = ScoringSettings(target=80, min_sample=2)

# (phase, step, outcome, sessions): 25 sessions of one period.
ROWS = [
    ("questions", 28, "completed", 12),
    ("questions", 28, "refused", 1),  # finished, refused: an outcome, not a drop-off
    ("questions", 8, "expired", 3),
    ("questions", 8, "cancelled", 1),
    ("questions", 8, "restarted", 1),
    ("questions", 2, "expired", 2),
    ("questions", 5, "partial", 1),  # closed before the funnel existed: it had expired
    ("agency", 0, "expired", 2),
    ("service", 0, "cancelled", 1),
    ("questions", 40, "expired", 1),  # a step the questionnaire no longer has
]


def test_figures_worked_out_by_hand():
    dropoff = dropoff_of(ROWS, QUESTIONNAIRES[Q], min_sample=10)
    assert dropoff.started == 25
    assert dict(dropoff.outcomes) == {
        "completed": 12,
        "expired": 3 + 2 + 1 + 2 + 1,
        "cancelled": 1 + 1,
        "restarted": 1,
        "refused": 1,
        "other": 0,
    }
    assert dropoff.completion_rate == pytest.approx(48.0)  # 12 / 25
    low, high = wilson_interval(12 / 25, 25)
    assert (dropoff.ci_low, dropoff.ci_high) == pytest.approx((100 * low, 100 * high))
    assert dict(dropoff.before_questions) == {"agency": 2, "service": 1, "unknown": 1}

    steps = dropoff.steps
    assert [step.question_id for step in steps][:3] == ["F1.1", "F1.2", "F1.3"]
    assert len(steps) == 29 and steps[8].number == 9 and steps[8].question_id == "F2.5"
    # 21 sessions got to a question: 12 completed and 1 refused at the end, 5 left at
    # step 8, 2 at step 2, 1 at step 5.
    assert [steps[i].reached for i in (0, 2, 3, 5, 6, 8, 9, 28)] == [21, 21, 19, 19, 18, 18, 13, 13]
    assert dict(steps[8].left) == {"expired": 3, "cancelled": 1, "other": 1}
    assert steps[8].rate == pytest.approx(100 * 5 / 18)
    assert steps[2].left_total == 2 and steps[2].rate == pytest.approx(100 * 2 / 21)
    assert steps[5].left["expired"] == 1
    assert steps[28].left_total == 0 and steps[28].rate == 0.0
    left = sum(step.left_total for step in steps)
    assert left == 8
    # Every session is somewhere: completed, refused, left at a question, or before one.
    refused, before = dropoff.outcomes["refused"], sum(dropoff.before_questions.values())
    assert dropoff.completed + refused + left + before == dropoff.started
    assert dropoff.worst is steps[8]


def test_no_rate_below_the_minimum_sample():
    # 18 reached step 8: below 20 no rate there; 21 reached step 2 and 25 started.
    dropoff = dropoff_of(ROWS, QUESTIONNAIRES[Q], min_sample=20)
    assert dropoff.steps[8].rate is None and dropoff.steps[2].rate is not None
    assert dropoff.completion_rate is not None and dropoff.reliable
    small = dropoff_of(ROWS, QUESTIONNAIRES[Q], min_sample=30)
    assert (small.completion_rate, small.ci_low, small.ci_high) == (None, None, None)
    assert not small.reliable and all(step.rate is None for step in small.steps)
    assert small.to_dict()["steps"][8]["left"] == 5  # counts stay counts


def test_steps_follow_the_questionnaires_own_order():
    # Step 8 is the ninth question of each file: F2.5 in 2017, F3.1 in 2023 (26 questions,
    # so step 28 is one that questionnaire does not have).
    later = dropoff_of(ROWS, QUESTIONNAIRES["sipas-2023"], min_sample=10)
    assert [s.question_id for s in later.steps[7:10]] == ["F2.4", "F3.1", "F3.2"]
    assert later.worst.question_id == "F3.1" and later.worst.number == 9
    assert later.steps[-1].question_id == "suggestion" and len(later.steps) == 26
    assert later.before_questions["unknown"] == 1  # the expired one at step 40
    assert later.completed == 12


def test_nothing_ended():
    dropoff = dropoff_of([], QUESTIONNAIRES[Q], min_sample=2)
    assert (dropoff.started, dropoff.completion_rate, dropoff.worst) == (0, None, None)
    assert all(step.reached == 0 and step.rate is None for step in dropoff.steps)
    assert dropoff.to_dict()["most_left_at"] is None


def test_the_digest_line_writes_numbers_the_vietnamese_way():
    rows = [("questions", 28, "completed", 1000), ("questions", 8, "expired", 234)]
    dropoff = dropoff_of(rows, QUESTIONNAIRES[Q], min_sample=30)
    vi, en = Words(TRANSLATOR, "vi"), Words(TRANSLATOR, "en")
    assert dropoff_line(dropoff, vi) == (
        "Hoàn thành 1.000/1.234 phiếu khảo sát qua chat (81,0%); "
        "bỏ dở nhiều nhất ở câu 9 (F2.5, 234 phiếu)."
    )
    assert dropoff_line(dropoff, en) == (
        "Completed 1,000 of 1,234 chat surveys (81.0%); most left at question 9 (F2.5, 234)."
    )
    complete = dropoff_of([("questions", 28, "completed", 3)], QUESTIONNAIRES[Q], 30)
    assert dropoff_line(complete, vi) == (
        "Hoàn thành 3/3 phiếu khảo sát qua chat (mẫu nhỏ); không có phiếu bỏ dở giữa chừng."
    )
    assert (
        dropoff_line(dropoff_of([], QUESTIONNAIRES[Q], 30), vi)
        == "Kỳ này chưa có phiếu khảo sát qua chat nào kết thúc."
    )


# --------------------------------------------------------------------------- database


async def seed(database: Database) -> dict[str, int]:
    """The report catalogue (OLDER -> OLD -> NEW merged), and the funnel of July and
    around it."""
    ids = {**await catalogue(database), "": 0}
    async with database.transaction() as session:
        rows = [
            (date(2025, 7, 10), "PROV", "KS", Q, "telegram", "questions", 28, "completed", 3),
            (date(2025, 7, 10), "PROV", "KS", Q, "telegram", "questions", 8, "expired", 2),
            (date(2025, 7, 11), "PROV", "DD", Q, "zalo", "questions", 3, "cancelled", 1),
            (date(2025, 7, 12), "COMM", "KS", Q, "telegram", "questions", 28, "completed", 1),
            (date(2025, 7, 13), "OLD", "KS", Q, "telegram", "questions", 5, "expired", 1),
            (date(2025, 7, 31), "", "", Q, "telegram", "agency", 0, "expired", 4),
            # outside the selection: June, August, the other questionnaire
            (date(2025, 6, 30), "PROV", "KS", Q, "telegram", "questions", 28, "completed", 7),
            (date(2025, 8, 1), "PROV", "KS", Q, "telegram", "questions", 2, "expired", 9),
            (date(2025, 7, 10), "PROV", "KS", "sipas-2023", "telegram", "questions", 2,
             "expired", 5),
        ]  # fmt: skip
        columns = [c.name for c in SurveyFunnel.__table__.columns]
        await session.execute(
            insert(SurveyFunnel),
            [
                dict(zip(columns, (day, ids[a], ids[s], *rest), strict=True))
                for day, a, s, *rest in rows
            ],
        )
    return ids


async def report(database: Database, period: Period = JULY, **filters):
    async with database.transaction() as session:
        return await build_report(
            session, QUESTIONNAIRES, ReportFilters(Q, period, **filters), ("agency",), SETTINGS
        )


async def test_the_reports_filters_select_the_funnel(database):
    await seed(database)
    everything = (await report(database)).dropoff
    assert (everything.started, everything.completed) == (12, 4)
    assert everything.outcomes["expired"] == 2 + 1 + 4 and everything.outcomes["cancelled"] == 1
    assert everything.before_questions["agency"] == 4
    assert everything.completion_rate == pytest.approx(100 * 4 / 12)
    assert everything.worst.question_id == "F2.5"

    async def started(**filters) -> tuple[int, int]:
        dropoff = (await report(database, **filters)).dropoff
        return dropoff.started, dropoff.completed

    assert await started(agencies=("PROV",)) == (6, 3)
    assert await started(agencies=("PROV", "COMM")) == (7, 4)
    assert await started(services=("KS",)) == (7, 4)  # PROV 5, COMM 1, OLD 1
    assert await started(agencies=("PROV",), services=("DD",)) == (1, 0)
    assert await started(channel_kind="zalo") == (1, 0)
    assert await started(channel_kind="paper") == (0, 0)  # paper forms have no session
    assert await started(level="province") == (6, 3)
    assert await started(level="commune") == (1, 1)  # COMM (NEW had none)
    assert await started(level="district") == (1, 0)  # OLD
    assert await started(level="commune", agencies=("PROV",)) == (0, 0)
    # An agency stands for those merged into it only when asked to.
    assert await started(agencies=("NEW",)) == (0, 0)
    assert await started(agencies=("NEW",), merge_successors=True) == (1, 0)
    two_days = Period(date(2025, 7, 10), date(2025, 7, 11))
    assert await started(period=two_days) == (6, 3)
    assert await started(period=Period.month(2025, 8)) == (9, 0)


async def test_an_empty_period(database):
    await seed(database)
    result = await report(database, Period.year(2019))
    assert result.dropoff.started == 0 and result.dropoff.completion_rate is None
    table = render_table(result)
    assert "Bỏ dở: phiên khảo sát qua chat kết thúc trong kỳ: không có phiên nào" in table


async def test_the_text_table(database):
    await seed(database)
    result = await report(database)
    table = render_table(result).splitlines()
    start = table.index("Bỏ dở: phiên khảo sát qua chat kết thúc trong kỳ:")
    assert table[start + 1] == (
        "Bắt đầu 12; Hoàn thành 4; tỷ lệ hoàn thành 33,33% [KTC 95% "
        + "–".join(f"{100 * bound:.2f}".replace(".", ",") for bound in wilson_interval(4 / 12, 12))
        + "]"
    )
    assert table[start + 2] == "Hết hạn giữa chừng 7; Tự dừng 1"
    assert table[start + 3] == "Dừng trước câu hỏi đầu tiên: khi chọn cơ quan 4"
    header = table[start + 5]
    assert header.startswith("Câu hỏi ") and header.endswith("Tỷ lệ bỏ dở")
    row = next(line for line in table[start + 7 :] if line.startswith("9. F2.5 "))
    # reached 8 (4 completed, 2 left here, 1 left at step 5 and 1 at step 3 came before)
    assert row.split()[-6:] == ["6", "2", "2", "0", "0", "33,3%"]
    first = next(line for line in table[start + 7 :] if line.startswith("1. F1.1 "))
    assert first.split()[-6:] == ["8", "0", "0", "0", "0", "0,0%"]
    english = render_table(result, "en")
    assert "Started 12; Completed 4; completion rate 33.33% [95% CI" in english


async def test_what_the_conversation_counts_is_what_the_report_shows(database):
    """Real chats: one leaves at question 3 with /cancel, one is still answering (not
    counted until it ends), one starts choosing an agency by hand and cancels."""
    catalog = await seed_catalog(database)
    clock = FakeClock()  # 2026-11-23 10:00 in Vietnam
    processor = make_processor(database, clock)
    leaver = Citizen(processor, "2001")
    await leaver.say(f"/start {await make_code(database, catalog)}")
    for _ in range(2):
        await leaver.say("4")
    await leaver.say("/cancel")
    still = Citizen(processor, "2002")
    await still.say(f"/start {await make_code(database, catalog)}")
    await still.say("5")
    browser = Citizen(processor, "2003")
    await browser.say("/start")
    await browser.say("/cancel")

    async with database.transaction() as session:
        result = await build_report(
            session,
            QUESTIONNAIRES,
            ReportFilters(Q, Period.month(2026, 11)),
            (),
            SETTINGS,
        )
    dropoff = result.dropoff
    assert (dropoff.started, dropoff.completed, dropoff.outcomes["cancelled"]) == (2, 0, 2)
    assert dropoff.worst.number == 3 and dropoff.worst.question_id == "F1.3"
    assert dropoff.before_questions["agency"] == 1
    assert dropoff.completion_rate == 0.0
    only_the_agency = ReportFilters(Q, Period.month(2026, 11), agencies=(catalog.agency_code,))
    async with database.transaction() as session:
        scoped = await build_report(session, QUESTIONNAIRES, only_the_agency, (), SETTINGS)
    assert (scoped.dropoff.started, scoped.dropoff.before_questions["agency"]) == (1, 0)
