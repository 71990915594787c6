"""Scheduled digests with an injected clock, on both databases: when they fall due, that
each is created once, and that their numbers are `bot report`'s."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import update

from bot.database import Database
from bot.jobs.digests import run_due
from bot.models import Official
from bot.outbox import OutboxSender
from bot.settings import OutboxSettings
from handlers.dossiers.apologies import renderers
from handlers.officials import schedule
from handlers.officials.schedule import latest_occurrence
from handlers.reports import Period, ReportFilters, build_report
from handlers.reports.render import to_json
from tests.builders import (
    QUESTIONNAIRES,
    TRANSLATOR,
    ZONE,
    Citizen,
    FakeClock,
    make_processor,
    make_scheduler,
)
from tests.dossier_helpers import record, scan_at, upsert, vn_time
from tests.officials_helpers import (
    STP_SCOPE,
    all_at,
    digest_outbox,
    digests,
    funnel,
    invite,
    officials_settings,
    respond,
    seed_agencies,
    vn,
)

MONDAY_8 = 8 * 60


async def register(database, clock, *, agency="DNAI-STP", chat_key="8001", **settings) -> Citizen:
    code = await invite(database, agency=agency, now=clock.now, **settings)
    chat = Citizen(make_processor(database, clock), chat_key)
    assert (await chat.say(f"/register {code}"))[0].text.startswith("Đăng ký thành công")
    return chat


def due(database, clock_or_now, **settings):
    now = clock_or_now() if callable(clock_or_now) else clock_or_now
    return run_due(
        database, officials_settings(database, **settings), QUESTIONNAIRES, TRANSLATOR, now
    )


# --------------------------------------------------------------------------- schedule


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (vn(2026, 11, 23, 7, 59), vn(2026, 11, 16, 8)),  # Monday just before: last week's
        (vn(2026, 11, 23, 8, 0), vn(2026, 11, 23, 8)),  # on the minute
        (vn(2026, 11, 29, 23, 59), vn(2026, 11, 23, 8)),  # Sunday night
        (datetime(2026, 11, 23, 1, 0, tzinfo=UTC), vn(2026, 11, 23, 8)),  # 01:00 UTC = 08:00
    ],
)
def test_the_latest_weekly_occurrence_is_in_local_time(now, expected):
    assert latest_occurrence("weekly", 1, 1, MONDAY_8, now, ZONE) == expected


def test_monthly_occurrences_and_the_days_they_cover():
    on_the_first = latest_occurrence("monthly", 1, 1, MONDAY_8, vn(2027, 1, 1, 7), ZONE)
    assert on_the_first == vn(2026, 12, 1, 8)
    assert schedule.covered_period("monthly", date(2027, 1, 1)) == Period.month(2026, 12)
    week = schedule.covered_period("weekly", date(2026, 11, 23))
    assert (week.start, week.end) == (date(2026, 11, 16), date(2026, 11, 22))
    assert week.previous() == Period(date(2026, 11, 9), date(2026, 11, 15))
    assert latest_occurrence("off", 1, 1, MONDAY_8, vn(2027, 1, 1), ZONE) is None


async def test_a_weekly_digest_falls_due_once_at_the_local_time(database):
    await seed_agencies(database)
    clock = FakeClock(vn(2026, 11, 18, 15))  # registered on a Wednesday
    await register(database, clock)
    assert await due(database, vn(2026, 11, 23, 7, 59)) == 0
    assert await due(database, vn(2026, 11, 23, 8, 0)) == 1
    assert await due(database, vn(2026, 11, 23, 8, 1)) == 0
    assert await due(database, vn(2026, 11, 29, 20)) == 0
    assert await due(database, vn(2026, 11, 30, 8, 0)) == 1
    first, second = await digests(database)
    assert (first.period_start, first.period_end) == (date(2026, 11, 16), date(2026, 11, 22))
    assert (second.period_start, second.period_end) == (date(2026, 11, 23), date(2026, 11, 29))
    assert first.due_at == vn(2026, 11, 23, 8)
    assert [row.ref_id for row in await digest_outbox(database)] == [first.id, second.id]


async def test_the_local_monday_is_still_sunday_in_utc(database):
    """05:30 on Monday in Vietnam is 22:30 on Sunday in UTC; the digest covers the week
    before the local Monday."""
    await seed_agencies(database)
    clock = FakeClock(vn(2026, 11, 18, 15))
    chat = await register(database, clock)
    await chat.say("/subscribe weekly mon 05:30")
    assert await due(database, datetime(2026, 11, 22, 22, 29, tzinfo=UTC)) == 0
    assert await due(database, datetime(2026, 11, 22, 22, 30, tzinfo=UTC)) == 1
    (row,) = await digests(database)
    assert (row.period_start, row.period_end) == (date(2026, 11, 16), date(2026, 11, 22))
    assert row.due_at == datetime(2026, 11, 22, 22, 30, tzinfo=UTC)


async def test_a_restart_neither_repeats_nor_loses_a_digest(database, empty_database_url):
    await seed_agencies(database)
    clock = FakeClock(vn(2026, 11, 18, 15))
    await register(database, clock)
    assert await due(database, vn(2026, 11, 23, 8, 0)) == 1
    restarted = Database(database.url)  # a new process: nothing kept in memory
    try:
        assert await due(restarted, vn(2026, 11, 23, 8, 1)) == 0
        assert await due(restarted, vn(2026, 11, 30, 9)) == 1
    finally:
        await restarted.dispose()
    assert len(await digests(database)) == 2 and len(await digest_outbox(database)) == 2


async def test_digests_missed_while_down_are_sent_once(database):
    await seed_agencies(database)
    clock = FakeClock(vn(2026, 11, 18, 15))
    await register(database, clock)
    # Down from before the first Monday until three weeks later, on a Wednesday.
    assert await due(database, vn(2026, 12, 9, 10)) == 1
    assert await due(database, vn(2026, 12, 9, 10, 1)) == 0
    (row,) = await digests(database)
    assert (row.period_start, row.period_end) == (date(2026, 11, 30), date(2026, 12, 6))


async def test_a_schedule_changed_in_chat_needs_no_restart(database):
    await seed_agencies(database)
    clock = FakeClock(vn(2026, 11, 18, 15))
    chat = await register(database, clock)
    clock.advance(days=1)
    await chat.say("/subscribe monthly 1 07:00")
    assert await due(database, vn(2026, 11, 23, 8)) == 0  # the weekly one is gone
    assert await due(database, vn(2026, 12, 1, 7)) == 1
    await chat.say("/subscribe off")
    assert await due(database, vn(2027, 1, 1, 7)) == 0
    (row,) = await digests(database)
    assert row.period_key == "monthly:2026-11-01"
    assert (row.period_start, row.period_end) == (date(2026, 11, 1), date(2026, 11, 30))


async def test_revoked_and_unregistered_officials_get_no_digest(database):
    await seed_agencies(database)
    clock = FakeClock(vn(2026, 11, 18, 15))
    await invite(database, now=clock.now)  # never registered
    await register(database, clock)
    async with database.transaction() as session:
        await session.execute(update(Official).values(revoked_at=clock.now))
    assert await due(database, vn(2026, 11, 23, 8)) == 0


async def test_two_tickers_create_one_digest(database, backend):
    ids = await seed_agencies(database)
    await respond(database, ids, "DNAI-STP", date(2026, 11, 17), all_at(5))
    clock = FakeClock(vn(2026, 11, 18, 15))
    await register(database, clock)
    await register(database, clock, agency=None, chat_key="8002")
    other = Database(database.url)  # a second process
    try:
        at = vn(2026, 11, 23, 8)
        created = await asyncio.gather(due(database, at), due(other, at))
        assert sum(created) == 2  # one digest per official, whoever made it
        if backend == "postgresql":
            # Only the holder of the advisory lock ticks.
            settings = officials_settings(database)
            assert await other.leadership.check()
            ticks = make_scheduler(database, settings, FakeClock(vn(2026, 11, 30, 8)))
            assert await ticks.tick("officials-digest-tick") is None
            await other.leadership.release()
            assert await ticks.tick("officials-digest-tick") == 2
    finally:
        await other.dispose()
    rows = await digests(database)
    assert len(rows) == (4 if backend == "postgresql" else 2)
    assert len(await digest_outbox(database)) == len(rows)


# --------------------------------------------------------------------------- content


async def test_the_digest_says_what_bot_report_says(database, capsys):
    ids = await seed_agencies(database)
    week = (date(2026, 11, 16), date(2026, 11, 22))
    # This week: in scope 2 responses all 5, 1 all 2, 1 mixed; out of scope 3 all 1.
    for agency in ("DNAI-STP", "BPHUOC-PB"):
        await respond(database, ids, agency, date(2026, 11, 17), all_at(5))
    await respond(database, ids, "BPHUOC-STP", date(2026, 11, 22), all_at(2))
    mixed = {**all_at(4), "F1.1": 1, "F1.2": 0, "F2.5": 3}
    await respond(database, ids, "DNAI-STP-TTTG", date(2026, 11, 16), mixed)
    for _ in range(3):
        await respond(database, ids, "DNAI-SYT", date(2026, 11, 18), all_at(1))
    await respond(database, ids, "DNAI-STP", date(2026, 11, 23), all_at(1))  # next week
    await respond(database, ids, "DNAI-STP", date(2026, 11, 12), all_at(4))  # week before
    # Chat sessions that ended this week: in scope 4 completed and 3 left at question 9
    # (F2.5), 1 at question 2; out of scope 5 left at question 1.
    await funnel(
        database,
        [
            (date(2026, 11, 17), ids["DNAI-STP"], "questions", 28, "completed", 4),
            (date(2026, 11, 18), ids["BPHUOC-PB"], "questions", 8, "expired", 3),
            (date(2026, 11, 18), ids["DNAI-STP"], "questions", 1, "cancelled", 1),
            (date(2026, 11, 18), ids["DNAI-SYT"], "questions", 0, "expired", 5),
        ],
    )
    clock = FakeClock(vn(2026, 11, 18, 15))
    await register(database, clock)
    assert await due(database, vn(2026, 11, 23, 8)) == 1
    (row,) = await digests(database)

    # The command line, given the scope's codes by hand.
    from bot.cli import build_parser

    argv = ["report", "--from", "2026-11-16", "--to", "2026-11-22", "--group-by", "none"]
    argv += ["--format", "json", *(arg for code in STP_SCOPE for arg in ("--agency", code))]
    args = build_parser().parse_args(argv)
    capsys.readouterr()
    assert await args.func(args, officials_settings(database), database) == 0
    cli = json.loads(capsys.readouterr().out)
    cli_total = cli["total"]
    assert row.figures["total"] == cli_total
    assert row.figures["dropoff"] == cli["dropoff"]
    assert (cli["dropoff"]["started"], cli["dropoff"]["outcomes"]["completed"]) == (8, 4)
    assert cli_total["respondents"] == 4 and cli_total["previous_respondents"] == 1

    # And the text shows those numbers, the way Vietnamese writes them.
    overall = cli_total["overall"]
    text = row.text
    assert text.startswith("📊 Bản tin SIPAS hằng tuần: 16/11/2026 – 22/11/2026")
    assert "Sở Tư pháp tỉnh Đồng Nai (DNAI-STP) và 3 cơ quan" in text
    assert f"SIPAS: {overall['index']:.2f}%".replace(".", ",") in text
    assert f"{overall['change']:+.2f} điểm".replace(".", ",") in text
    assert f"mục tiêu 80%: {overall['to_target']:+.2f} điểm".replace(".", ",") in text
    assert "Số phiếu: 4 (kỳ trước: 1)." in text
    assert "⚠️ Mẫu nhỏ (dưới 30 phiếu)" in text
    assert (
        "Hoàn thành 4/8 phiếu khảo sát qua chat (mẫu nhỏ); "
        "bỏ dở nhiều nhất ở câu 9 (F2.5, 3 phiếu)."
    ) in text
    for factor in cli_total["factors"]:
        line = next(line for line in text.splitlines() if line.startswith(f"• {factor['factor']} "))
        if factor["index"] is None:  # F5: everyone said they gave no feedback
            assert line.endswith(TRANSLATOR("vi", "official_factor_missing_tail"))
        else:
            assert line.endswith(
                f"{factor['index']:.2f}% ({factor['change']:+.2f})".replace(".", ",")
            )
    # Hand arithmetic for F1.1: answers 5, 5, 2, 1 -> 2 of 4 satisfied = 50%.
    assert next(c for c in cli_total["criteria"] if c["item_id"] == "F1.1")["index"] == 50.0
    # The weakest three by hand: F1.1 (5, 5, 2, 1) and F2.5 (5, 5, 2, 3) at 2 of 4 = 50%,
    # tied and so in id order; then F1.2 (5, 5, 2, no opinion) at 2 of 3 = 66.67%; every
    # other criterion is at 3 of 4 = 75%.
    weakest = text.split("3 tiêu chí thấp nhất:\n")[1].splitlines()[:3]
    assert [line.split()[1] for line in weakest] == ["F1.1", "F2.5", "F1.2"]
    assert "50,00% (4 ý kiến)" in weakest[0] and "66,67% (3 ý kiến)" in weakest[2]
    assert row.chart[:8] == b"\x89PNG\r\n\x1a\n" and row.workbook[:2] == b"PK"

    # build_report with the same filters written by hand agrees too.
    async with database.transaction() as session:
        report = await build_report(
            session,
            QUESTIONNAIRES,
            ReportFilters("sipas-2017", Period(*week), agencies=STP_SCOPE),
            (),
            officials_settings(database).scoring,
        )
    assert to_json(report)["total"]["overall"] == overall


async def test_a_period_without_responses_says_so(database):
    ids = await seed_agencies(database)
    await respond(database, ids, "DNAI-STP", date(2026, 11, 10), all_at(5))  # the week before
    clock = FakeClock(vn(2026, 11, 18, 15))
    chat = await register(database, clock)
    await chat.say("/lang en")
    assert await due(database, vn(2026, 11, 23, 8)) == 1
    (row,) = await digests(database)
    assert row.language == "en"
    assert "No survey responses in this period (the previous period had 1)" in row.text
    assert "SIPAS:" not in row.text and "weakest" not in row.text
    assert row.chart is None and row.workbook is None


async def test_the_digest_counts_late_dossiers_escalations_and_apologies(database):
    await seed_agencies(database)
    await upsert(
        database,
        [record("LATE-1"), record("LATE-2", appointment_date="2027-02-04")],
        vn_time(2027, 2, 1),
    )
    await scan_at(database, vn_time(2027, 2, 5))  # two notices on Fri 5 Feb
    sender = OutboxSender(
        database,
        OutboxSettings(),
        {},
        renderers(TRANSLATOR),
        clock=FakeClock(vn_time(2027, 2, 5, 10)),
    )
    await sender.drain()  # no channel: both for the counter
    await upsert(database, [record("LATE-2", state=10)], vn_time(2027, 2, 8))  # returned
    await scan_at(database, vn_time(2027, 2, 18))  # LATE-1 missed its new date (17 Feb)
    clock = FakeClock(vn_time(2027, 2, 10))
    await register(database, clock, agency="DNAI-XTEST")
    await register(database, clock, agency="DNAI-STP", chat_key="8002")
    await register(database, clock, agency=None, chat_key="8003")
    # Monthly digests for February, on 1 March.
    async with database.transaction() as session:
        await session.execute(update(Official).values(digest_frequency="monthly"))
    assert await due(database, vn(2027, 3, 1, 8)) == 3
    commune, stp, province = await digests(database)
    assert commune.figures["dossiers"] == {
        "new_late": 2,
        "open_late": 1,
        "escalations_new": 1,
        "escalations_open": 1,
        "apologies_sent": 0,
        "apologies_undeliverable": 2,
    }
    assert province.figures["dossiers"] == commune.figures["dossiers"]
    assert set(stp.figures["dossiers"].values()) == {0}
    assert "Hồ sơ trễ hạn: 2 hồ sơ mới trễ trong kỳ; 1 hồ sơ đang trễ" in commune.text
    assert "Chuyển lãnh đạo (trễ cả ngày hẹn lại): 1 trong kỳ; 1 chưa giải quyết xong." in (
        commune.text
    )
    assert "0 đã gửi đến người dân; 2 không gửi được" in commune.text
    assert "Nguyễn" not in commune.text and "LATE-1" not in commune.text


def test_the_outbox_sender_learns_digests(database):
    from bot.cli.compose import build_sender

    sender = build_sender(database, officials_settings(database), [], TRANSLATOR, FakeClock())
    assert set(sender.renderers) == {"apology", "invitation", "digest"}
