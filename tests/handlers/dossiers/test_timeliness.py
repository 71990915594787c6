"""QĐ 766's on-time figures against a hand computation, on both databases."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select, update

from bot.database import Database
from bot.models import ApologyNotice, OutboxMessage
from bot.settings import DossierSettings
from bot.states import OutboxKind, OutboxStatus
from handlers.dossiers import timeliness_report
from handlers.reports import Period
from tests.builders import ZONE
from tests.dossier_helpers import dossier, record, scan_at, upsert, vn_time
from tests.timeliness_helpers import FEBRUARY, seed_february


async def report(database: Database, period: Period = FEBRUARY, ids=None, now=None):
    async with database.transaction() as session:
        return await timeliness_report(
            session, ids, period, now or vn_time(2027, 3, 1), DossierSettings(), zone=ZONE
        )


async def test_the_share_equals_the_hand_computation(database: Database):
    await seed_february(database)
    assert (await dossier(database, "PAUSED")).due_date == date(2027, 2, 11)
    assert (await dossier(database, "TET")).due_date == date(2027, 2, 15)
    rescheduled = await dossier(database, "RESCHEDULED")
    assert rescheduled.stage == 1 and rescheduled.new_due_date > date(2027, 2, 12)
    async with database.transaction() as session:
        notices = dict(
            (await session.execute(select(ApologyNotice.dossier_code, ApologyNotice.id))).all()
        )
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.kind == OutboxKind.APOLOGY)
            .where(OutboxMessage.ref_id == notices["RESCHEDULED"])
            .values(status=OutboxStatus.SENT)
        )
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.ref_id == notices["OPEN-LATE"])
            .values(status=OutboxStatus.COUNTER)
        )
    figures = await report(database)
    (unit,) = figures.units
    # Finished in February with a date: BEFORE, ON-DAY, DAY-AFTER, PAUSED, TET, RESCHEDULED.
    # On time: BEFORE, ON-DAY, PAUSED. Late: DAY-AFTER, TET, RESCHEDULED (its first date).
    assert (unit.agency_code, unit.finished, unit.finished_on_time) == ("DNAI-XTEST", 6, 3)
    assert unit.on_time_share == 0.5
    assert unit.finished_undated == 1
    assert unit.overdue_now == 1  # OPEN-LATE; OPEN-PAUSED's clock is stopped
    assert (unit.apologies_sent, unit.apologies_undelivered, unit.apologies_owed) == (1, 1, 0)
    assert unit.escalations == 0
    assert figures.total.finished == 6 and figures.total.on_time_share == 0.5
    assert figures.to_dict()["total"]["on_time_share"] == 0.5


async def test_owed_apologies_and_escalations(database: Database):
    await seed_february(database)
    # Queued notices are owed; OPEN-LATE misses its new date and is escalated in February.
    before = await report(database, now=vn_time(2027, 2, 5))
    assert before.total.apologies_owed == 2
    await scan_at(database, vn_time(2027, 2, 26))
    after = await report(database, now=vn_time(2027, 2, 26))
    assert after.total.escalations == 1
    assert after.total.overdue_now == 1
    # A stage-0 dossier past its watch date that no scan has reached yet is owed too.
    await upsert(database, [record("NEW-LATE", appointment_date="2027-02-15")], vn_time(2027, 2, 3))
    later = await report(database, now=vn_time(2027, 2, 26))
    assert later.total.apologies_owed == after.total.apologies_owed + 1


async def test_units_are_ranked_and_the_scope_filters(database: Database):
    ids = await seed_february(database)
    await upsert(
        database,
        [
            record(f"STP-{n}", agency="DNAI-STP", state=10, finished_at=f"2027-02-0{n}T09:00+07:00")
            for n in (2, 3)
        ]
        + [
            record("SYT-1", agency="DNAI-SYT", state=10, finished_at="2027-02-02T09:00+07:00"),
            record("SYT-2", agency="DNAI-SYT", state=10, finished_at="2027-02-05T09:00+07:00"),
            record("SYT-3", agency="DNAI-SYT", state=10, finished_at="2027-02-11T09:00+07:00"),
            record("SYT-4", agency="DNAI-SYT", state=10, finished_at="2027-02-02T09:00+07:00"),
            record("TTTG-1", agency="DNAI-STP-TTTG"),  # nothing finished: ranked last
        ],
        vn_time(2027, 3, 1, 8),
    )
    figures = await report(database)
    # STP 2/2 = 100%; XTEST 3/6 = 50% (6 finished) before SYT 2/4 = 50% (4); TTTG none.
    assert [u.agency_code for u in figures.units] == [
        "DNAI-STP",
        "DNAI-XTEST",
        "DNAI-SYT",
        "DNAI-STP-TTTG",
    ]
    assert figures.units[-1].on_time_share is None and figures.units[-1].overdue_now == 1
    assert (figures.total.finished, figures.total.finished_on_time) == (12, 7)
    scoped = await report(database, ids=frozenset({ids["DNAI-STP"], ids["DNAI-STP-TTTG"]}))
    assert [u.agency_code for u in scoped.units] == ["DNAI-STP", "DNAI-STP-TTTG"]
    assert (scoped.total.finished, scoped.total.overdue_now) == (2, 1)
    nothing = await report(database, period=Period.month(2026, 2))
    assert nothing.units[0].agency_code == "DNAI-STP-TTTG"  # overdue now, whatever the period
    assert nothing.total.finished == 0 and nothing.total.on_time_share is None
