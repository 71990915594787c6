"""QĐ 766's progress figure: how many dossiers were finished on time, per unit, ranked.

QĐ 766/QĐ-TTg counts a dossier as on time when it was finished on or before its
appointment date (shared/domain/officials.md, dossiers.md). Here, precisely:

- **finished in the period**: the local day (TIMEZONE setting) of `finished_at`, the
  instant of the first change to state 9 (done) or 10 (returned) (`deadlines.apply_state`,
  or the one-stop system's own `finished_at`), lies in the period. A dossier counts
  once, on that day, whatever happened after it (returned, purged).
- **on time**: that day is on or before `due_date`, the appointment date of the receipt
  as moved by the supplement pauses (working days the citizen spent supplementing do
  not count, so the promise moves with them), and by local days off that the calendar
  rescheduled before any apology (`reschedule`: the same number of working days).
  A *new* appointment date given in an apology does **not** count: the apology is the
  admission that the promise was missed (or would be: one announced in advance). It
  follows that a dossier finished by its new date but after its first one is late, as
  the national indicators count it; otherwise an agency could keep its share at 100% by
  apologising for every dossier. A dossier with no appointment date (none given, no
  processing days) cannot be judged: it is counted in `finished_undated`, not in
  `finished`, so it neither raises nor lowers the share.
- **on_time_share**: finished_on_time / finished, None when nothing dated finished.
- **overdue now** (at `now`): the result is still owed (open states 1, 2, 4, 5, 6), the
  due date has passed, and the clock is not stopped by a supplement pause that began by
  the due date; apologised and escalated dossiers stay overdue until they finish.
- **apologies sent / undelivered** (notices issued on the period's days): their outbox
  message was delivered by chat or ZNS (`sent`), or no channel could deliver it
  (`failed`) or it was left for the counter (`counter`), i.e. the office must hand it
  over. The same split as the officials' digest (`handlers.officials.late`).
- **apologies owed** (at `now`): due but not out yet: dossiers whose watch date passed
  that the next scan will apologise for, and notices still queued (pending, sending).
  Undelivered ones are not owed again: they are counted apart, for the counter.
- **escalations**: dossiers that missed the new date too, escalated on the period's days.

A unit is the dossier's own agency (as every dossier figure of the project reads them:
`/overdue`, the digests, `dossiers list`): a dossier received by an agency that was later
merged stays with it, and an official of the successor sees it through the scope's ids.
Ranking: share descending (units with nothing finished last), then finished descending,
then code. Units with no figure at all are left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import local_date
from bot.settings import DossierSettings, Settings
from handlers.dossiers import store
from handlers.reports import Period

_DEFAULT_ZONE = ZoneInfo(Settings.model_fields["timezone"].default)


@dataclass(frozen=True)
class UnitTimeliness:
    agency_code: str
    agency_name: str
    level: str
    finished: int = 0
    finished_on_time: int = 0
    finished_undated: int = 0
    overdue_now: int = 0
    apologies_sent: int = 0
    apologies_undelivered: int = 0
    apologies_owed: int = 0
    escalations: int = 0

    @property
    def on_time_share(self) -> float | None:
        return self.finished_on_time / self.finished if self.finished else None

    @property
    def empty(self) -> bool:
        return not any(value for value in asdict(self).values() if isinstance(value, int))

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "on_time_share": self.on_time_share}


@dataclass(frozen=True)
class Timeliness:
    period: Period
    units: tuple[UnitTimeliness, ...]
    total: UnitTimeliness
    today: date | None = None  # the local day `now` fell on: what "overdue now" is judged at

    def to_dict(self) -> dict[str, Any]:
        return {
            "period": {
                "label": self.period.label,
                "start": self.period.start.isoformat(),
                "end": self.period.end.isoformat(),
            },
            "as_of": self.today.isoformat() if self.today else None,
            "total": {
                name: value
                for name, value in self.total.to_dict().items()
                if name not in ("agency_code", "agency_name", "level")
            },
            "units": [unit.to_dict() for unit in self.units],
        }


class UnknownAgency(ValueError):
    """An agency code that is not in the catalogue (or not in the caller's scope)."""


async def agency_ids_for(session: AsyncSession, codes: Iterable[str]) -> frozenset[int]:
    """The ids of these agency codes; `UnknownAgency` names the first one not found."""
    wanted = list(dict.fromkeys(codes))
    found = await store.agency_ids_by_code(session, wanted)
    missing = [code for code in wanted if code not in found]
    if missing:
        raise UnknownAgency(missing[0])
    return frozenset(found.values())


def rank_key(unit: UnitTimeliness) -> tuple:
    share = unit.on_time_share
    return (share is None, -(share or 0.0), -unit.finished, unit.agency_code)


def _bounds(period: Period, zone: tzinfo) -> tuple[datetime, datetime]:
    start = datetime.combine(period.start, time(), zone)
    return start, datetime.combine(period.end + timedelta(days=1), time(), zone)


async def timeliness_report(
    session: AsyncSession,
    agency_ids: frozenset[int] | None,
    period: Period,
    now: datetime,
    settings: DossierSettings,
    *,
    zone: ZoneInfo | None = None,
) -> Timeliness:
    """The figures for the agencies given (None: the province), in the period, at `now`.

    `zone` is the TIMEZONE setting (`Settings.zone`); left out, its default.
    """
    del settings  # the figures read no dossier setting; kept for the agreed call
    zone = zone or _DEFAULT_ZONE
    today = local_date(now, zone)
    start, end = _bounds(period, zone)
    figures: dict[str, Mapping[int, tuple[int, ...]]] = {
        "finished": await store.finished_counts(session, agency_ids, start, end, zone),
        "overdue": await store.overdue_counts(session, agency_ids, today),
        "deliveries": await store.delivery_counts(session, agency_ids, period.start, period.end),
        "owed": await store.owed_counts(session, agency_ids, today),
        "escalations": await store.escalation_counts(session, agency_ids, start, end),
    }
    ids = set().union(*(counts.keys() for counts in figures.values()))
    units = []
    for agency_id, code, name, level in await store.agencies_named(session, ids):
        finished, on_time, undated = figures["finished"].get(agency_id, (0, 0, 0))
        sent, undelivered = figures["deliveries"].get(agency_id, (0, 0))
        unit = UnitTimeliness(
            agency_code=code,
            agency_name=name,
            level=level,
            finished=finished,
            finished_on_time=on_time,
            finished_undated=undated,
            overdue_now=figures["overdue"].get(agency_id, (0,))[0],
            apologies_sent=sent,
            apologies_undelivered=undelivered,
            apologies_owed=figures["owed"].get(agency_id, (0,))[0],
            escalations=figures["escalations"].get(agency_id, (0,))[0],
        )
        if not unit.empty:
            units.append(unit)
    units.sort(key=rank_key)
    return Timeliness(period, tuple(units), _total(units), today)


def _total(units: list[UnitTimeliness]) -> UnitTimeliness:
    counts = {
        name: sum(getattr(unit, name) for unit in units)
        for name in UnitTimeliness.__dataclass_fields__
        if name not in ("agency_code", "agency_name", "level")
    }
    return UnitTimeliness(agency_code="", agency_name="", level="", **counts)
