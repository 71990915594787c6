"""Report periods: parsing, the previous period, and the split between whole months
(the monthly rollups), whole dekads and the remaining days (the daily rollups)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from handlers.reports import Period
from handlers.reports.periods import split_days


@pytest.mark.parametrize(
    ("text", "start", "end", "label"),
    [
        ("2025-07", date(2025, 7, 1), date(2025, 7, 31), "2025-07"),
        ("2024-02", date(2024, 2, 1), date(2024, 2, 29), "2024-02"),
        ("2025-Q3", date(2025, 7, 1), date(2025, 9, 30), "2025-Q3"),
        ("2025q4", date(2025, 10, 1), date(2025, 12, 31), "2025-Q4"),
        ("2025", date(2025, 1, 1), date(2025, 12, 31), "2025"),
        ("2025-01-15..2025-03-20", date(2025, 1, 15), date(2025, 3, 20), "2025-01-15..2025-03-20"),
    ],
)
def test_parse(text, start, end, label):
    period = Period.parse(text)
    assert (period.start, period.end, period.label) == (start, end, label)


@pytest.mark.parametrize("text", ["2025-13", "2025-Q5", "July", "2025-03-20..2025-01-15"])
def test_parse_refuses(text):
    with pytest.raises(ValueError):
        Period.parse(text)


@pytest.mark.parametrize(
    ("text", "previous"),
    [
        ("2025-01", Period(date(2024, 12, 1), date(2024, 12, 31), "month")),
        ("2025-03", Period(date(2025, 2, 1), date(2025, 2, 28), "month")),
        ("2025-Q1", Period(date(2024, 10, 1), date(2024, 12, 31), "quarter")),
        ("2025", Period(date(2024, 1, 1), date(2024, 12, 31), "year")),
        ("2025-03-01..2025-03-10", Period(date(2025, 2, 19), date(2025, 2, 28))),
    ],
)
def test_previous(text, previous):
    assert Period.parse(text).previous() == previous


@pytest.mark.parametrize(
    ("start", "end", "months", "days"),
    [
        (date(2025, 4, 1), date(2025, 6, 30), ["2025-04", "2025-05", "2025-06"], []),
        (
            date(2025, 1, 31),
            date(2025, 3, 1),
            ["2025-02"],
            [(date(2025, 1, 31), date(2025, 1, 31)), (date(2025, 3, 1), date(2025, 3, 1))],
        ),
        (date(2025, 1, 1), date(2025, 2, 15), ["2025-01"], [(date(2025, 2, 1), date(2025, 2, 15))]),
        (date(2025, 1, 2), date(2025, 1, 31), [], [(date(2025, 1, 2), date(2025, 1, 31))]),
        (date(2024, 12, 15), date(2025, 1, 14), [], [(date(2024, 12, 15), date(2025, 1, 14))]),
    ],
)
def test_split(start, end, months, days):
    assert Period(start, end).split() == (months, days)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("٢٠٢٥-07", "is not a period"),  # Arabic-Indic digits are not a year
        ("２０２５", "is not a period"),
        ("0001-01-01..0001-01-31", "periods lie between 2000 and 2100"),
        ("9999-12", "periods lie between 2000 and 2100"),
        ("1999-Q4", "periods lie between 2000 and 2100"),
    ],
)
def test_a_period_is_ascii_digits_within_the_years_reports_cover(text, message):
    with pytest.raises(ValueError, match=message):
        Period.parse(text)


@given(st.dates(date(2024, 1, 1), date(2025, 12, 31)), st.integers(0, 120))
def test_split_days_covers_a_range_with_whole_blocks_and_few_days(start, length):
    end = start + timedelta(days=length)
    blocks, days = split_days(start, end)
    covered = []
    for span, firsts in blocks.items():
        for first in firsts:
            assert first.day in range(1, 32 - span, span)  # 1, 11, 21 or 1, 6, …, 26
            month_end = Period.month(first.year, first.month).end
            last = month_end if first.day + 2 * span > 31 else first + timedelta(days=span - 1)
            covered += [first + timedelta(days=i) for i in range((last - first).days + 1)]
    for a, b in days:
        covered += [a + timedelta(days=i) for i in range((b - a).days + 1)]
    assert sorted(covered) == [start + timedelta(days=i) for i in range(length + 1)]
    assert sum((b - a).days + 1 for a, b in days) <= 10  # at most five at either end


def test_split_days_of_a_two_month_range():
    assert split_days(date(2025, 4, 16), date(2025, 4, 30)) == (
        {10: [date(2025, 4, 21)], 5: [date(2025, 4, 16)]},
        [],
    )
    assert split_days(date(2025, 2, 14), date(2025, 2, 28)) == (
        {10: [date(2025, 2, 21)], 5: [date(2025, 2, 16)]},
        [(date(2025, 2, 14), date(2025, 2, 15))],
    )
    assert split_days(date(2025, 5, 10), date(2025, 6, 23)) == (
        {
            10: [date(2025, 5, 11), date(2025, 5, 21), date(2025, 6, 1), date(2025, 6, 11)],
            5: [],
        },
        [(date(2025, 5, 10), date(2025, 5, 10)), (date(2025, 6, 21), date(2025, 6, 23))],
    )
