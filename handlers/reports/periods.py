"""Report periods: a month, a quarter, a year or any date range, and the one before it.

A period also says which of its days the monthly rollups can serve (the whole months
inside it) and which the daily rollups must (the days at its ends); `split_days` cuts
those further into whole dekads, pentads and single days.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from handlers.survey.store.rollups import BLOCKS, block_start

MONTH, QUARTER, YEAR, RANGE = "month", "quarter", "year", "range"

# ASCII digits only: `\d` would also take "٢٠٢٥", which a report should refuse, not read.
_MONTH = re.compile(r"^([0-9]{4})-([0-9]{1,2})$")
_QUARTER = re.compile(r"^([0-9]{4})-?[Qq]([1-4])$")
_YEAR = re.compile(r"^([0-9]{4})$")
_RANGE = re.compile(
    r"^([0-9]{4}-[0-9]{2}-[0-9]{2})\s*(?:\.\.|/|\s)\s*([0-9]{4}-[0-9]{2}-[0-9]{2})$"
)
# The years a period may name: the previous period of a range near year 1 would not exist.
FIRST_YEAR, LAST_YEAR = 2000, 2100


def _month_end(year: int, month: int) -> date:
    following = date(year + month // 12, month % 12 + 1, 1)
    return following - timedelta(days=1)


def _shift_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


@dataclass(frozen=True)
class Period:
    """Days `start`..`end`, both included; `kind` says how it was named (for `previous`)."""

    start: date
    end: date
    kind: str = RANGE

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"period ends ({self.end}) before it starts ({self.start})")

    @classmethod
    def month(cls, year: int, month: int) -> Period:
        return cls(date(year, month, 1), _month_end(year, month), MONTH)

    @classmethod
    def quarter(cls, year: int, quarter: int) -> Period:
        first = 3 * (quarter - 1) + 1
        return cls(date(year, first, 1), _month_end(year, first + 2), QUARTER)

    @classmethod
    def year(cls, year: int) -> Period:
        return cls(date(year, 1, 1), date(year, 12, 31), YEAR)

    @classmethod
    def parse_quarter(cls, text: str) -> Period:
        match = _QUARTER.match(text.strip())
        if not match:
            raise ValueError(f"{text!r} is not a quarter (e.g. 2025-Q3)")
        return cls.quarter(int(match[1]), int(match[2]))

    @classmethod
    def parse(cls, text: str) -> Period:
        """2025-07 (month), 2025-Q3 (quarter), 2025 (year), 2025-01-15..2025-03-20 (range)."""
        text = text.strip()
        years = [int(year) for year in re.findall(r"(?<![0-9])[0-9]{4}(?![0-9])", text)]
        if any(not FIRST_YEAR <= year <= LAST_YEAR for year in years):
            raise ValueError(f"{text!r}: periods lie between {FIRST_YEAR} and {LAST_YEAR}")
        return cls._parse(text)

    @classmethod
    def _parse(cls, text: str) -> Period:
        if match := _MONTH.match(text):
            if not 1 <= int(match[2]) <= 12:
                raise ValueError(f"{text!r}: no month {match[2]}")
            return cls.month(int(match[1]), int(match[2]))
        if _QUARTER.match(text):
            return cls.parse_quarter(text)
        if match := _YEAR.match(text):
            return cls.year(int(match[1]))
        if match := _RANGE.match(text):
            try:
                return cls(date.fromisoformat(match[1]), date.fromisoformat(match[2]))
            except ValueError as error:
                raise ValueError(f"{text!r}: {error}") from None
        raise ValueError(
            f"{text!r} is not a period (2025-07, 2025-Q3, 2025 or 2025-01-15..2025-03-20)"
        )

    @classmethod
    def containing(cls, day: date, kind: str) -> Period:
        if kind == MONTH:
            return cls.month(day.year, day.month)
        if kind == QUARTER:
            return cls.quarter(day.year, (day.month - 1) // 3 + 1)
        if kind == YEAR:
            return cls.year(day.year)
        raise ValueError(f"unknown period kind {kind!r}")

    @property
    def label(self) -> str:
        if self.kind == MONTH:
            return f"{self.start.year:04d}-{self.start.month:02d}"
        if self.kind == QUARTER:
            return f"{self.start.year:04d}-Q{(self.start.month - 1) // 3 + 1}"
        if self.kind == YEAR:
            return f"{self.start.year:04d}"
        return f"{self.start.isoformat()}..{self.end.isoformat()}"

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> Period:
        """The calendar month, quarter or year before; for a range, as many days before."""
        if self.kind in (MONTH, QUARTER, YEAR):
            months = {MONTH: 1, QUARTER: 3, YEAR: 12}[self.kind]
            return Period(
                _shift_months(self.start, -months), self.start - timedelta(days=1), self.kind
            )
        return Period(self.start - timedelta(days=self.days), self.start - timedelta(days=1))

    def split(self) -> tuple[list[str], list[tuple[date, date]]]:
        """(whole months inside as "YYYY-MM", the remaining day ranges at either end)."""
        first = self.start if self.start.day == 1 else _shift_months(self.start, 1)
        months: list[str] = []
        month = first
        while _month_end(month.year, month.month) <= self.end:
            months.append(f"{month.year:04d}-{month.month:02d}")
            month = _shift_months(month, 1)
        if not months:
            return [], [(self.start, self.end)]
        edges = []
        if self.start < first:
            edges.append((self.start, first - timedelta(days=1)))
        if month <= self.end:
            edges.append((month, self.end))
        return months, edges


def _block_end(first: date, span: int) -> date:
    """The last day of the block of `span` days that starts on `first`."""
    if span > 1 and first.day + 2 * span > 31:  # the month's last block
        return _month_end(first.year, first.month)
    return first + timedelta(days=span - 1)


def split_days(start: date, end: date) -> tuple[dict[int, list[date]], list[tuple[date, date]]]:
    """({span: first days of the whole blocks of that span}, the remaining day ranges).

    Each day goes into the largest block (of `BLOCKS`: dekads, then pentads) that starts
    on it and ends inside the range: at most four or five single days remain at either
    end, so a range of any length reads few blocks.
    """
    blocks: dict[int, list[date]] = {span: [] for span in BLOCKS}
    days: list[tuple[date, date]] = []
    day = start
    while day <= end:
        for span in BLOCKS:
            last = _block_end(day, span)
            if block_start(day, span) == day and last <= end:
                blocks[span].append(day)
                break
        else:
            last = day
            if days and days[-1][1] == day - timedelta(days=1):
                days[-1] = (days[-1][0], day)
            else:
                days.append((day, day))
        day = last + timedelta(days=1)
    return blocks, days
