"""Working days in Vietnam, for deadlines counted the way the one-stop rules count them.

National days off come from the `holidays` package (lunar Tết, Hùng Kings' day,
substitute days, Saturdays swapped into working days, 24 November from 2026);
an agency's local exceptions (an extra day off, an extra working day) come from
the `calendar_days` table (`store.load_calendar`) and win over the national calendar.

Rules (see shared/domain/dossiers.md): the day of receipt is not counted, so
"n working days after receipt" is the n-th working day after it; a receipt on a
day off counts as received on the next working day (the office could not have
taken it earlier); time paused for a supplement does not count.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, timedelta

import holidays

_ONE_DAY = timedelta(days=1)
# A deadline further than this is a data error, not a reason to loop for ever.
_MAX_DAYS = 3660

Pause = tuple[date, date | None]


class WorkCalendar:
    """Is a day a working day, and which day is n working days after another."""

    def __init__(self, local: Mapping[date, bool] | None = None):
        self._national = holidays.country_holidays("VN")
        self._local = dict(local or {})
        self._cache: dict[date, bool] = {}

    def is_working_day(self, day: date) -> bool:
        cached = self._cache.get(day)
        if cached is None:
            if day in self._local:
                cached = self._local[day]
            else:
                _ = day in self._national  # fills that year, swapped Saturdays included
                cached = self._national.is_working_day(day)
            self._cache[day] = cached
        return cached

    def holiday_name(self, day: date) -> str | None:
        return self._national.get(day)

    def next_working_day(self, day: date) -> date:
        """The day itself if it is a working day, else the first working day after it."""
        for _ in range(_MAX_DAYS):
            if self.is_working_day(day):
                return day
            day += _ONE_DAY
        raise ValueError("no working day within ten years")

    def add_working_days(self, day: date, n: int) -> date:
        """The n-th working day after `day` (`day` itself not counted); n=0 gives `day`."""
        if n < 0:
            raise ValueError("n must not be negative")
        for _ in range(n):
            day = self.next_working_day(day + _ONE_DAY)
        return day

    def working_days_between(self, start: date, end: date) -> int:
        """Working days d with start < d <= end: the days a pause from start to end stopped."""
        if end <= start:
            return 0
        if (end - start).days > _MAX_DAYS:
            raise ValueError("a span longer than ten years")
        count, day = 0, start + _ONE_DAY
        while day <= end:
            count += self.is_working_day(day)
            day += _ONE_DAY
        return count

    def deadline(self, received_on: date, working_days: int, pauses: Iterable[Pause] = ()) -> date:
        """The result date of a procedure taking `working_days`, received on the local day
        `received_on` (in the TIMEZONE setting: `bot.clock.local_date`)."""
        received = self.next_working_day(received_on)
        return self.extend(self.add_working_days(received, working_days), pauses)

    def extend(self, due: date, pauses: Iterable[Pause], *, since: date | None = None) -> date:
        """`due` moved back by the working days of each closed pause that began by then.

        A pause that begins after the (already extended) due date cannot stop a clock
        that had already run out. `since` ignores pauses that began before it (the
        pauses already counted in an earlier date).
        """
        for start, end in sorted(pauses, key=lambda pause: pause[0]):
            if end is None or start > due or (since is not None and start < since):
                continue
            due = self.add_working_days(due, self.working_days_between(start, end))
        return due
