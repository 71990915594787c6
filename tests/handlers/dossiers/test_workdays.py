"""Working-day deadlines on real Vietnamese calendars (expected dates counted by hand)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from bot.clock import local_date
from bot.database import Database
from bot.models import CalendarDay
from handlers.dossiers.store import load_calendar
from handlers.dossiers.workdays import WorkCalendar
from tests.builders import ZONE

CAL = WorkCalendar()


def test_three_working_days_after_wednesday_before_tet_2027():
    # Tết 2027 runs Thu 4 - Wed 10 Feb; Thu 11, Fri 12 are working days, then a weekend.
    # Wed 3 Feb not counted: Thu 11 (1), Fri 12 (2), Mon 15 (3).
    assert CAL.add_working_days(date(2027, 2, 3), 3) == date(2027, 2, 15)


def test_tet_2026_and_its_weekend():
    # Tết 2026: Mon 16 - Fri 20 Feb off. 1 working day after Fri 13 Feb is Mon 23 Feb.
    assert CAL.add_working_days(date(2026, 2, 13), 1) == date(2026, 2, 23)


def test_swapped_saturday_and_substitute_day_2026():
    # Sat 22 Aug 2026 is worked in exchange for Mon 31 Aug (with 1-2 Sep National Day).
    assert CAL.is_working_day(date(2026, 8, 22))
    assert not CAL.is_working_day(date(2026, 8, 31))
    assert CAL.add_working_days(date(2026, 8, 21), 1) == date(2026, 8, 22)
    # From Fri 28 Aug: Mon 31, Tue 1, Wed 2 Sep are off -> Thu 3 Sep.
    assert CAL.add_working_days(date(2026, 8, 28), 1) == date(2026, 9, 3)


def test_hung_kings_day_on_a_sunday_is_substituted_on_monday_2026():
    # 10/3 lunar = Sun 26 Apr 2026, observed Mon 27; Thu 30 Apr and Fri 1 May are off too.
    assert CAL.add_working_days(date(2026, 4, 24), 1) == date(2026, 4, 28)
    assert CAL.add_working_days(date(2026, 4, 29), 1) == date(2026, 5, 4)


def test_culture_day_24_november_from_2026_only():
    assert not CAL.is_working_day(date(2026, 11, 24))
    assert CAL.is_working_day(date(2025, 11, 24))  # a Monday, before the new holiday
    assert CAL.add_working_days(date(2026, 11, 23), 1) == date(2026, 11, 25)


def test_receipt_not_counted_and_receipt_on_a_day_off_moves_to_monday():
    friday = datetime(2026, 3, 6, 9, 0, tzinfo=UTC)  # 16:00 in Vietnam, Friday
    assert CAL.deadline(local_date(friday, ZONE), 1) == date(2026, 3, 9)  # Monday
    saturday = datetime(2026, 3, 7, 2, 0, tzinfo=UTC)
    assert CAL.deadline(local_date(saturday, ZONE), 1) == date(
        2026, 3, 10
    )  # counts as received Monday


def test_the_day_is_the_vietnamese_one():
    # 18:30 UTC on 3 Feb is 01:30 on 4 Feb in Vietnam.
    assert local_date(datetime(2027, 2, 3, 18, 30, tzinfo=UTC), ZONE) == date(2027, 2, 4)


def test_supplement_pause_stops_the_clock():
    # Due Fri 13 Mar 2026; paused Tue 3 -> Thu 5 Mar: Wed 4 and Thu 5 were lost -> Tue 17.
    due = CAL.extend(date(2026, 3, 13), [(date(2026, 3, 3), date(2026, 3, 5))])
    assert due == date(2026, 3, 17)
    # A pause across a weekend only costs its working days: Fri 6 -> Mon 9 costs Mon.
    assert CAL.extend(date(2026, 3, 13), [(date(2026, 3, 6), date(2026, 3, 9))]) == date(
        2026, 3, 16
    )
    # A pause that began after the due date cannot stop a clock that had run out.
    assert CAL.extend(date(2026, 3, 13), [(date(2026, 3, 16), date(2026, 3, 20))]) == date(
        2026, 3, 13
    )
    # An open pause does not move the date (the dossier is simply not watched meanwhile).
    assert CAL.extend(date(2026, 3, 13), [(date(2026, 3, 3), None)]) == date(2026, 3, 13)


def test_pause_over_tet_costs_only_working_days():
    # Paused Mon 1 -> Fri 12 Feb 2027: Tue 2, Wed 3, Thu 11, Fri 12 = 4 working days.
    assert CAL.working_days_between(date(2027, 2, 1), date(2027, 2, 12)) == 4


def test_local_exceptions_win():
    local = WorkCalendar({date(2027, 2, 11): False, date(2027, 2, 13): True})
    # Thu 11 off locally, Sat 13 worked: after Wed 3 -> Fri 12 (1), Sat 13 (2), Mon 15 (3).
    assert local.add_working_days(date(2027, 2, 3), 3) == date(2027, 2, 15)
    assert local.add_working_days(date(2027, 2, 3), 2) == date(2027, 2, 13)
    assert local.add_working_days(date(2027, 2, 3), 1) == date(2027, 2, 12)


def test_negative_counts_are_refused():
    with pytest.raises(ValueError):
        CAL.add_working_days(date(2027, 2, 3), -1)


async def test_the_table_of_local_days_is_read(database: Database):
    async with database.transaction() as session:
        session.add(CalendarDay(day=date(2027, 2, 11), working=False, note="local festival"))
    async with database.transaction() as session:
        calendar = await load_calendar(session)
    assert not calendar.is_working_day(date(2027, 2, 11))
    assert calendar.add_working_days(date(2027, 2, 3), 1) == date(2027, 2, 12)
