"""The scheduled work: only the advisory-lock holder ticks; the sender starts and stops."""

from __future__ import annotations

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.dossiers.jobs import DossierWork, leadership, tick
from tests.builders import TRANSLATOR, FakeClock, seed_catalog
from tests.dossier_helpers import dossier_settings, notices, record, upsert, vn_time


async def test_only_the_lock_holder_ticks(database, backend):
    await seed_catalog(database)
    await upsert(database, [record("LATE")], vn_time(2027, 2, 1))
    settings = dossier_settings(database)
    clock = FakeClock(vn_time(2027, 2, 4))
    if backend == "postgresql":
        async with leadership(database) as leader:  # another process holds the lock
            assert leader
            assert await tick(database, settings, clock) is None
        assert await notices(database) == []
    report = await tick(database, settings, clock)
    assert report is not None and report.notices == 1
    # A missed tick is caught up by the next one, from the database, and only once.
    assert (await tick(database, settings, clock)).notices == 0


async def test_dossier_work_is_scheduled_and_its_sender_stops(database):
    settings = dossier_settings(database)
    work = DossierWork(database, settings, [], TRANSLATOR, clock=FakeClock())
    scheduler = AsyncIOScheduler(timezone=settings.timezone)
    work.schedule(scheduler)
    job = scheduler.get_job("dossier-tick")
    assert job is not None and job.trigger.interval.total_seconds() == 300
    await work.start()
    await work.stop()
    assert work._task is not None and work._task.done() and work._task.exception() is None
