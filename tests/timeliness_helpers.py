"""The hand-computed February 2027 of the QĐ 766 tests (handler, CLI, API)."""

from __future__ import annotations

from sqlalchemy import update

from bot.database import Database
from bot.models import Dossier
from handlers.reports import Period
from tests.dossier_helpers import record, scan_at, upsert, vn_time
from tests.officials_helpers import seed_agencies

FEBRUARY = Period.month(2027, 2)  # Tết: Thu 4 .. Wed 10 February 2027


async def seed_february(database: Database) -> dict[str, int]:
    """The hand-computed set: DNAI-XTEST's dossiers, appointment Wed 3 Feb unless said."""
    ids = await seed_agencies(database)
    opened = [
        record("RESCHEDULED"),  # apologised on 4 Feb, finished by its new date
        record("OPEN-LATE"),  # still in progress: overdue now
        record("OPEN-PAUSED", state=5),  # clock stopped since the 1st: not overdue
    ]
    await upsert(database, opened, vn_time(2027, 2, 1, 9))
    await scan_at(database, vn_time(2027, 2, 4))  # RESCHEDULED and OPEN-LATE apologised
    finished = [
        record("BEFORE", state=10, finished_at="2027-02-02T10:00:00+07:00"),  # on time
        # 23:30 local on the day itself is 16:30 UTC: on time.
        record("ON-DAY", state=9, finished_at="2027-02-03T23:30:00+07:00"),
        # 00:30 local the day after is still the 3rd in UTC: late.
        record("DAY-AFTER", state=10, finished_at="2027-02-04T00:30:00+07:00"),
        # Paused Tue 2 .. Wed 3 Feb: one working day lost, and Thu 4 .. Wed 10 are Tết,
        # so its due date is Thu 11 Feb; finished then it is on time.
        record(
            "PAUSED",
            pauses="2027-02-02/2027-02-03",
            state=10,
            finished_at="2027-02-11T09:00:00+07:00",
        ),
        # Received Wed 3 Feb for 3 working days across Tết: due Mon 15 Feb; Tue 16 late.
        record(
            "TET",
            received_at="2027-02-03T08:00:00+07:00",
            appointment_date=None,
            processing_days=3,
            state=10,
            finished_at="2027-02-16T08:00:00+07:00",
        ),
        # Finished outside the period by local time, though inside it by UTC (and back).
        record(
            "JANUARY",
            received_at="2027-01-25T08:00:00+07:00",
            appointment_date="2027-01-29",
            state=10,
            finished_at="2027-01-31T23:30:00+07:00",
        ),
        record("MARCH", state=10, finished_at="2027-03-01T00:30:00+07:00"),
        record("UNDATED", state=10, finished_at="2027-02-05T09:00:00+07:00"),
        {"code": "RESCHEDULED", "state": 10, "finished_at": "2027-02-12T09:00:00+07:00"},
    ]
    outcomes = await upsert(database, finished, vn_time(2027, 3, 1, 8))
    assert [o.reasons for o in outcomes if o.status == "rejected"] == []
    async with database.transaction() as session:  # as rows from before dates were required
        await session.execute(
            update(Dossier)
            .where(Dossier.code == "UNDATED")
            .values(appointment_date=None, due_date=None)
        )
    return ids
