"""Dossier days follow the TIMEZONE setting, not a zone of their own."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from handlers.dossiers.store import upsert_dossiers
from tests.builders import ZONE, seed_catalog
from tests.dossier_helpers import CALENDAR, dossier, dossier_settings, record, vn_time


async def _received(database, zone, code: str, received_at: str) -> None:
    async with database.transaction() as session:
        outcomes = await upsert_dossiers(
            session,
            [(0, record(code, received_at=received_at, appointment_date=None, processing_days=1))],
            now=vn_time(2027, 3, 10),
            calendar=CALENDAR,
            zone=zone,
        )
    assert [outcome.status for outcome in outcomes] == ["created"], outcomes


async def test_deadlines_and_local_days_follow_the_configured_zone(database):
    await seed_catalog(database)
    elsewhere = dossier_settings(database).model_copy(update={"timezone": "America/Los_Angeles"})
    assert elsewhere.zone == ZoneInfo("America/Los_Angeles")
    # 20:00 UTC on Friday 5 March 2027: Saturday 03:00 in Vietnam, Friday noon in California.
    await _received(database, ZONE, "VN-1", "2027-03-05T20:00:00Z")
    await _received(database, elsewhere.zone, "LA-1", "2027-03-05T20:00:00Z")
    vn, la = await dossier(database, "VN-1"), await dossier(database, "LA-1")
    assert vn.received_on == date(2027, 3, 6)
    assert vn.appointment_date == date(2027, 3, 9)  # a Saturday receipt counts from Monday
    assert la.received_on == date(2027, 3, 5)
    assert la.appointment_date == date(2027, 3, 8)  # the next working day after Friday
    # A time written without a zone is read in the configured zone.
    await _received(database, elsewhere.zone, "LA-2", "2027-03-05 23:30")
    assert (await dossier(database, "LA-2")).received_on == date(2027, 3, 5)
    await _received(database, ZONE, "VN-2", "2027-03-05 23:30")
    assert (await dossier(database, "VN-2")).received_on == date(2027, 3, 5)
    assert (await dossier(database, "LA-2")).received_at != (
        await dossier(database, "VN-2")
    ).received_at
