"""`bot.database.local_day_of`: a stored UTC instant's local day, alike on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from bot.database import local_day_of
from bot.models import Dossier
from tests.builders import seed_catalog
from tests.dossier_helpers import record, upsert, vn_time


@pytest.mark.parametrize("zone", ["Asia/Ho_Chi_Minh", "Europe/Berlin", "America/St_Johns"])
async def test_the_local_day_of_stored_instants_is_pythons(database, zone):
    await seed_catalog(database)
    await upsert(database, [record("D")], vn_time(2027, 2, 1))
    zone = ZoneInfo(zone)
    # Around local midnights, and across a change of summer time (Berlin, St John's).
    instants = [
        datetime(2027, 2, 3, 16, 59, 59, tzinfo=UTC),
        datetime(2027, 2, 3, 17, 0, 0, tzinfo=UTC),
        datetime(2027, 3, 27, 23, 30, tzinfo=UTC),
        datetime(2027, 3, 28, 0, 30, tzinfo=UTC),
        datetime(2027, 10, 30, 22, 15, tzinfo=UTC),
        datetime(2027, 10, 31, 2, 45, 30, 123456, tzinfo=UTC),
    ]
    instants += [moment + timedelta(hours=h) for moment in instants[:2] for h in (-3, 3)]
    for moment in instants:
        async with database.transaction() as session:
            await session.execute(update(Dossier).values(finished_at=moment))
            day = await session.scalar(select(local_day_of(Dossier.finished_at, zone)))
        assert day == moment.astimezone(zone).date(), moment


@pytest.mark.parametrize("zone", ["Asia/Ho_Chi_Minh", "Europe/Berlin", "America/St_Johns"])
async def test_within_a_span_the_day_is_the_same(database, zone):
    """`within` lets SQLite shift by one offset where the zone keeps it over the span; the
    day must stay Python's, a microsecond before midnight too, and across summer time (where
    no single offset holds and the exact function is used)."""
    await seed_catalog(database)
    await upsert(database, [record("D")], vn_time(2027, 2, 1))
    zone = ZoneInfo(zone)
    spans = [
        (datetime(2027, 2, 1, tzinfo=UTC), datetime(2027, 3, 1, tzinfo=UTC)),  # no change
        (datetime(2027, 3, 1, tzinfo=UTC), datetime(2027, 4, 1, tzinfo=UTC)),  # summer time
    ]
    for start, end in spans:
        local_midnight = datetime(start.year, start.month, 10, tzinfo=zone).astimezone(UTC)
        moments = [
            local_midnight - timedelta(microseconds=1),
            local_midnight,
            start + timedelta(days=27, hours=23, minutes=59),
        ]
        for moment in moments:
            async with database.transaction() as session:
                await session.execute(update(Dossier).values(finished_at=moment))
                day = await session.scalar(
                    select(local_day_of(Dossier.finished_at, zone, within=(start, end)))
                )
            assert day == moment.astimezone(zone).date(), (zone, moment)
