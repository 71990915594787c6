"""The local calendar (`calendar_days`) and the date changes it causes (`dossier_events`)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import CalendarDay, Dossier, DossierEvent
from bot.states import OPEN_STATES
from handlers.dossiers.workdays import WorkCalendar


async def load_calendar(session: AsyncSession) -> WorkCalendar:
    """The national calendar with this installation's local exceptions."""
    rows = await session.execute(select(CalendarDay.day, CalendarDay.working))
    return WorkCalendar({day: working for day, working in rows})


async def local_days(session: AsyncSession) -> list[CalendarDay]:
    return list(await session.scalars(select(CalendarDay).order_by(CalendarDay.day)))


async def set_local_day(
    session: AsyncSession, day: date, working: bool, note: str | None
) -> bool | None:
    """Add or change a local exception; what the day was before (None: national)."""
    row = await session.get(CalendarDay, day)
    was = None if row is None else row.working
    if row is None:
        session.add(CalendarDay(day=day, working=working, note=note))
    else:
        row.working, row.note = working, note
    await session.flush()
    return was


async def remove_local_day(session: AsyncSession, day: date) -> bool | None:
    """Remove a local exception; what it was (None: there was none, nothing changed)."""
    row = await session.get(CalendarDay, day)
    if row is None:
        return None
    was = row.working
    await session.delete(row)
    await session.flush()
    return was


async def open_dossiers_around(session: AsyncSession, day: date) -> list[Dossier]:
    """Open dossiers received before `day` whose date owed is on or after it."""
    rows = await session.scalars(
        select(Dossier)
        .where(
            Dossier.state.in_(sorted(OPEN_STATES)),
            Dossier.purged_at.is_(None),
            Dossier.received_on < day,
            or_(
                Dossier.appointment_date >= day,
                Dossier.due_date >= day,
                Dossier.new_due_date >= day,
            ),
        )
        .order_by(Dossier.id)
    )
    return list(rows)


def add_event(session: AsyncSession, **fields) -> None:
    session.add(DossierEvent(**fields))


async def dossier_history(session: AsyncSession, dossier_id: int) -> list[DossierEvent]:
    """The changes to a dossier's dates, oldest first (for `dossiers show`)."""
    rows = await session.scalars(
        select(DossierEvent).where(DossierEvent.dossier_id == dossier_id).order_by(DossierEvent.id)
    )
    return list(rows)
