"""When officials' digests fall due, and which days each one covers.

Each official has a frequency (weekly, monthly, off), a weekday or a day of the month
and a local time, in the database. The latest occurrence at or before `now` is due
unless the official changed the schedule (or registered) after it, or its digest
already exists. A weekly digest covers the 7 days before its day (Monday 08:00 covers
Monday..Sunday of the week before), a monthly one the calendar month before. Only the
latest occurrence can be due, so a bot that was down for three weeks sends one digest
on start, not three, and ticks in between find nothing. Pure functions of the clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.clock import local_date
from bot.models import Official
from bot.states import DigestFrequency
from handlers.reports import Period

WEEKLY, MONTHLY, OFF = DigestFrequency.WEEKLY, DigestFrequency.MONTHLY, DigestFrequency.OFF


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
