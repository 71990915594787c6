"""bot.scheduler: the jobs it lists are the ones installed; a tick runs at the given clock,
only in the leading process; the outbox sender's loop starts and stops with it."""

from __future__ import annotations

from datetime import datetime

import bot.scheduler
from bot import metrics
from bot.cli.compose import build_sender
from bot.database import Database
from bot.scheduler import Scheduler
from tests.builders import (
    TRANSLATOR,
    ZONE,
    Citizen,
    FakeClock,
    make_code,
    make_processor,
    make_scheduler,
    seed_catalog,
)
from tests.dossier_helpers import dossier_settings, notices, record, upsert, vn_time

JOBS = {
    "expire-idle-surveys",
    "forget-old-updates",
    "publish-responses",
    "dossier-tick",
    "officials-digest-tick",
    "survey-reminders",
}


def test_the_listed_jobs_are_exactly_the_installed_ones(database: Database):
    settings = dossier_settings(database, scan_interval_minutes=7)
    scheduler = make_scheduler(database, settings, FakeClock())
    installed = {job.id: job for job in scheduler.apscheduler.get_jobs()}
    assert set(installed) == set(scheduler.jobs) == JOBS
    for job_id in JOBS:  # and the module's docstring names every one
        assert f"- {job_id}," in bot.scheduler.__doc__
    assert all(job.leader_only for job in scheduler.jobs.values())
    assert installed["dossier-tick"].trigger.interval.total_seconds() == 7 * 60
    assert installed["officials-digest-tick"].trigger.interval.total_seconds() == (
        settings.officials.tick_seconds
    )
    assert installed["expire-idle-surveys"].trigger.interval.total_seconds() == 3600
    assert installed["survey-reminders"].trigger.interval.total_seconds() == 600
    # Publication: at minute 1 of every hour of the local clock, so a day is in at 00:01.
    after = datetime(2026, 11, 23, 23, 30, tzinfo=ZONE)
    publish = installed["publish-responses"].trigger
    assert publish.get_next_fire_time(None, after) == datetime(2026, 11, 24, 0, 1, tzinfo=ZONE)
    assert all(job.args == (job.id,) for job in installed.values())


async def test_a_tick_runs_what_is_due_at_the_injected_clock(database: Database):
    await seed_catalog(database)
    await upsert(database, [record("LATE")], vn_time(2027, 2, 1))
    clock = FakeClock(vn_time(2027, 2, 2))
    scheduler = make_scheduler(database, dossier_settings(database), clock)
    runs = metrics.value(metrics.JOBS, job="dossier-tick", outcome="done")
    assert (await scheduler.tick("dossier-tick")).notices == 0  # not late yet
    assert metrics.value(metrics.JOBS, job="dossier-tick", outcome="done") == runs + 1
    clock.now = vn_time(2027, 2, 4)
    assert (await scheduler.tick("dossier-tick")).notices == 1
    assert len(await notices(database)) == 1
    # A missed tick is caught up by the next one, from the database, and only once.
    assert (await scheduler.tick("dossier-tick")).notices == 0


async def test_idle_surveys_expire_at_the_injected_clock(database: Database):
    catalog = await seed_catalog(database)
    clock = FakeClock()
    citizen = Citizen(make_processor(database, clock))
    await citizen.say(f"/start {await make_code(database, catalog)}")
    scheduler = make_scheduler(database, dossier_settings(database), clock)
    assert await scheduler.tick("expire-idle-surveys") == 0
    clock.advance(days=3, hours=1)  # SURVEY_IDLE_DAYS is 3
    assert await scheduler.tick("expire-idle-surveys") == 1


async def test_only_the_lock_holder_ticks(database: Database, backend):
    await seed_catalog(database)
    await upsert(database, [record("LATE")], vn_time(2027, 2, 1))
    scheduler = make_scheduler(database, dossier_settings(database), FakeClock(vn_time(2027, 2, 4)))
    if backend == "postgresql":
        other = Database(database.url)  # another process leads
        try:
            assert await other.leadership.check()
            for job_id in JOBS:
                assert await scheduler.tick(job_id) is None
            assert await notices(database) == []
        finally:
            await other.dispose()  # gives the lock up
    assert (await scheduler.tick("dossier-tick")).notices == 1
    await scheduler.stop()  # gives it up in turn
    if backend == "postgresql":
        other = Database(database.url)
        try:
            assert await other.leadership.check()
        finally:
            await other.dispose()


async def test_the_outbox_sender_loop_starts_and_stops_with_the_scheduler(database: Database):
    settings = dossier_settings(database)
    clock = FakeClock()
    sender = build_sender(database, settings, [], TRANSLATOR, clock)
    scheduler = Scheduler(database, settings, (), sender=sender, clock=clock)
    await scheduler.start()
    assert scheduler.apscheduler.running
    task = scheduler._sender_task
    assert task is not None and task.get_name() == "outbox-sender" and not task.done()
    await scheduler.stop()
    assert task.done() and task.exception() is None
    assert not scheduler.apscheduler.running
