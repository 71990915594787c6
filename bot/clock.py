"""The one clock and the one "today": instants in UTC, local days in the TIMEZONE setting.

Every "what day is it" goes through `local_today`/`local_date` with the configured
zone, so a changed TIMEZONE moves surveys, digests, dossier deadlines and counters
alike; no module keeps a zone of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, tzinfo
from typing import Protocol

Clock = Callable[[], datetime]


class _Zoned(Protocol):
    @property
    def zone(self) -> tzinfo: ...


WEEKDAYS: dict[str, int] = {
    **{name: number for number, name in enumerate(("mon", "tue", "wed", "thu", "fri"), 1)},
    "sat": 6,
    "sun": 7,
    **{f"t{number}": number - 1 for number in range(2, 8)},  # thứ 2 (Monday) .. thứ 7
    "cn": 7,  # chủ nhật
}
"""Weekday names as typed or configured (English "mon"…, Vietnamese "t2"…"cn") -> ISO 1-7."""


def utc_now() -> datetime:
    """Now, aware, in UTC: what is stored and compared."""
    return datetime.now(UTC)


def local_date(moment: datetime, zone: tzinfo) -> date:
    """The calendar day of an instant in `zone`; a naive time is refused (its zone is unknown)."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime")
    return moment.astimezone(zone).date()


def local_today(now: datetime, settings_or_zone: _Zoned | tzinfo) -> date:
    """Today in the installation's zone (`settings.zone`, from TIMEZONE) at instant `now`."""
    zone = settings_or_zone if isinstance(settings_or_zone, tzinfo) else settings_or_zone.zone
    return local_date(now, zone)
