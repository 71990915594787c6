"""The scheduled work: only the advisory-lock holder ticks; the sender starts and stops."""

from __future__ import annotations

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.database import Database
from bot.jobs.dossiers import DossierWork, tick
from tests.builders import TRANSLATOR, FakeClock, seed_catalog
from tests.dossier_helpers import dossier_settings, notices, record, upsert, vn_time


async def test_only_the_lock_holder_ticks(database, backend):
    await seed_catalog(database)
    await upsert(database, [record("LATE")], vn_time(2027, 2, 1))
    settings = dossier_settings(database)
    clock = FakeClock(vn_time(2027, 2, 4))
    if backend == "postgresql":
        other = Database(database.url)  # another process leads
        try:
            assert await other.leadership.check()
            assert await tick(database, settings, clock) is None
            assert await notices(database) == []
        finally:
            await other.dispose()  # gives the lock up
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


async def test_start_warns_of_agencies_without_a_signer_and_an_unreviewed_reason(database, caplog):
    import logging

    from bot.models import AgencyNoticeSettings

    catalog = await seed_catalog(database)
    await upsert(database, [record("OPEN")], vn_time(2027, 2, 1))
    settings = dossier_settings(database)
    work = DossierWork(database, settings, [], TRANSLATOR, clock=FakeClock())
    with caplog.at_level(logging.WARNING, logger="bot.jobs.dossiers"):
        await work.warn_unready_notices()
    warnings = [r.getMessage() for r in caplog.records if r.name == "bot.jobs.dossiers"]
    assert any(
        "1 agencies with open dossiers have no signer or place" in m and m.endswith("DNAI-XTEST")
        for m in warnings
    ), warnings
    assert any("reason_fallback" in m for m in warnings)
    assert not any("Nguyễn" in m or "OPEN" in m or "5678" in m for m in warnings)

    caplog.clear()
    async with database.transaction() as session:
        session.add(
            AgencyNoticeSettings(
                agency_id=catalog.agency_id, place="Tân Lợi", signer_name="Trần Thị Bình"
            )
        )
    with caplog.at_level(logging.WARNING, logger="bot.jobs.dossiers"):
        await work.start()
        await work.stop()
    assert not any("signer" in r.getMessage() for r in caplog.records)


def test_agency_lists_are_bounded():
    from handlers.dossiers.apologies import code_list

    codes = [f"A{i:02d}" for i in range(12)]
    assert code_list(codes) == ", ".join(codes[:10]) + " (+2)"
    assert code_list(codes[:3]) == "A00, A01, A02"
