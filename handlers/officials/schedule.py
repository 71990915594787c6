"""When officials' digests fall due, and which days each one covers.

Each official has a frequency (weekly, monthly, off), a weekday or a day of the month
and a local time, in the database. The latest occurrence at or before `now` is due
unless the official changed the schedule (or registered) after it, or its digest
already exists. A weekly digest covers the 7 days before its day (Monday 08:00 covers
Monday..Sunday of the week before), a monthly one the calendar month before. Only the
latest occurrence can be due, so a bot that was down for three weeks sends one digest
on start, not three, and ticks in between find nothing. Pure functions of the clock,
and `parse_schedule`, which reads the schedule an official types to `/subscribe`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.boundary import ascii_int
from bot.clock import WEEKDAYS as _WEEKDAYS
from bot.clock import local_date
from bot.models import Official
from bot.states import DigestFrequency
from handlers.reports import Period

WEEKLY, MONTHLY, OFF = DigestFrequency.WEEKLY, DigestFrequency.MONTHLY, DigestFrequency.OFF
_TIME = re.compile(r"^([0-9]{1,2})[:h]([0-9]{2})?$")  # ASCII digits only: not "²" nor "٣"


def _at(day: date, minute: int, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(minute // 60, minute % 60), zone)


def _month_day(year: int, month: int, day: int) -> date:
    return date(year + (month - 1) // 12, (month - 1) % 12 + 1, day)


def latest_occurrence(
    frequency: str, weekday: int, month_day: int, minute: int, now: datetime, zone: ZoneInfo
) -> datetime | None:
    """The last scheduled instant at or before `now` (UTC), None when off."""
    local = now.astimezone(zone)
    today = local.date()
    if frequency == WEEKLY:
        day = today - timedelta(days=(local.isoweekday() - weekday) % 7)
        at = _at(day, minute, zone)
        if at > local:
            at = _at(day - timedelta(days=7), minute, zone)
    elif frequency == MONTHLY:
        at = _at(today.replace(day=month_day), minute, zone)
        if at > local:
            at = _at(_month_day(today.year, today.month - 1, month_day), minute, zone)
    else:
        return None
    return at.astimezone(UTC)


def next_occurrence(
    frequency: str, weekday: int, month_day: int, minute: int, now: datetime, zone: ZoneInfo
) -> datetime:
    """The first scheduled instant after `now` (weekly when off, for a preview)."""
    frequency = frequency if frequency in (WEEKLY, MONTHLY) else WEEKLY
    latest = latest_occurrence(frequency, weekday, month_day, minute, now, zone)
    assert latest is not None
    local = latest.astimezone(zone)
    if frequency == WEEKLY:
        following = _at(local.date() + timedelta(days=7), minute, zone)
    else:
        following = _at(_month_day(local.year, local.month + 1, month_day), minute, zone)
    return following.astimezone(UTC)


def covered_period(frequency: str, day: date) -> Period:
    """The days a digest sent on `day` reports: the 7 days before, or the month before."""
    if frequency == MONTHLY:
        previous = day.replace(day=1) - timedelta(days=1)
        return Period.month(previous.year, previous.month)
    return Period(day - timedelta(days=7), day - timedelta(days=1))


def period_key(frequency: str, period: Period) -> str:
    return f"{frequency}:{period.start.isoformat()}"


@dataclass(frozen=True)
class Due:
    official_id: int
    frequency: str
    at: datetime
    period: Period
    key: str


def due_digest(official: Official, now: datetime, zone: ZoneInfo) -> Due | None:
    """The digest this official should have by `now`, if any (existing or not)."""
    if official.revoked_at is not None or official.registered_at is None:
        return None
    at = latest_occurrence(
        official.digest_frequency,
        official.digest_weekday,
        official.digest_month_day,
        official.digest_minute,
        now,
        zone,
    )
    if at is None or (official.schedule_from is not None and at < official.schedule_from):
        return None
    period = covered_period(official.digest_frequency, local_date(at, zone))
    return Due(
        official.id,
        official.digest_frequency,
        at,
        period,
        period_key(official.digest_frequency, period),
    )


def upcoming_period(official: Official, now: datetime, zone: ZoneInfo) -> tuple[str, Period]:
    """The frequency and days of the official's next digest (what `/digest` previews)."""
    frequency = official.digest_frequency if official.digest_frequency != OFF else WEEKLY
    at = next_occurrence(
        frequency,
        official.digest_weekday,
        official.digest_month_day,
        official.digest_minute,
        now,
        zone,
    )
    return frequency, covered_period(frequency, local_date(at, zone))


def parse_schedule(argument: str, official: Official) -> tuple[str, int, int, int] | None:
    """(frequency, weekday, month day, minute) from `/subscribe`'s 'weekly [day] [HH:MM]',
    'monthly [day] [HH:MM]' or 'off'; what is not given stays as it is. None if unusable."""
    tokens = argument.lower().split()
    if not tokens or tokens[0] not in (WEEKLY, MONTHLY, OFF) or len(tokens) > 3:
        return None
    frequency = tokens[0]
    weekday, month_day, minute = (
        official.digest_weekday,
        official.digest_month_day,
        official.digest_minute,
    )
    for token in tokens[1:]:
        if frequency == OFF:
            return None
        if match := _TIME.match(token):
            hours, minutes = int(match[1]), int(match[2] or 0)
            if hours > 23 or minutes > 59:
                return None
            minute = hours * 60 + minutes
        elif frequency == WEEKLY and (token in _WEEKDAYS or token[:3] in _WEEKDAYS):
            weekday = _WEEKDAYS.get(token) or _WEEKDAYS[token[:3]]
        elif frequency == MONTHLY and 1 <= (day := ascii_int(token, 2) or 0) <= 28:
            month_day = day
        else:
            return None
    return frequency, weekday, month_day, minute
