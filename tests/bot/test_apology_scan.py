"""The scan: one notice per late dossier, exactly once, with every field of the form."""

from __future__ import annotations

import asyncio
from datetime import date

from sqlalchemy import func, select

from bot.database import Database, insert_if_absent
from bot.models import AgencyNoticeSettings, ApologyNotice, Escalation
from tests.builders import seed_catalog
from tests.dossier_helpers import dossier, notices, outbox, record, scan_at, upsert, vn_time


async def test_late_dossiers_get_one_notice_on_time_and_finished_ones_none(database: Database):
    catalog = await seed_catalog(database)
    async with database.transaction() as session:
        session.add(
            AgencyNoticeSettings(
                agency_id=catalog.agency_id,
                place="Tân Lợi",
                signer_title="Chủ tịch",
                signer_name="Trần Thị Bình",
            )
        )
    received = vn_time(2027, 2, 1)
    outcomes = await upsert(
        database,
        [
            record("LATE-1"),  # due Wed 3 Feb, still in progress
            record("LATE-2", delay_reason="Chờ ý kiến của cơ quan liên quan"),
            record("ONTIME", appointment_date="2027-02-15"),
            record("DONE", state=9, finished_at="2027-02-03T15:00:00+07:00"),
            record("RETURNED", state=10),
            record("WITHDRAWN", state=7),
            record("PAUSED", state=5),
        ],
        received,
    )
    assert [o.status for o in outcomes] == ["created"] * 7
    # Thursday 4 Feb 2027 (first day of Tết): LATE-1 and LATE-2 passed Wednesday's date.
    report = await scan_at(database, vn_time(2027, 2, 4, 8))
    assert (report.notices, report.escalations) == (2, 0)
    issued = await notices(database)
    assert [n.dossier_code for n in issued] == ["LATE-1", "LATE-2"]
    first = issued[0]
    # New date: 5 working days after Thu 4 Feb, over Tết: 11, 12, 15, 16, 17 Feb.
    assert first.new_date == date(2027, 2, 17)
    assert (first.number_year, first.number_seq, issued[1].number_seq) == (2027, 1, 2)
    assert first.agency_name == "UBND xã Tân Lợi"
    assert first.place == "Tân Lợi"
    assert (first.signer_title, first.signer_name) == ("Chủ tịch", "Trần Thị Bình")
    assert first.citizen_name == "Nguyễn Văn An"
    assert first.procedure_name == "Đăng ký khai sinh"
    assert first.field == "Hộ tịch"
    assert first.received_on == date(2027, 2, 1)
    assert first.original_date == first.due_date == date(2027, 2, 3)
    assert first.issued_on == date(2027, 2, 4)
    assert first.reason is None and issued[1].reason == "Chờ ý kiến của cơ quan liên quan"
    assert first.template == "tt03-2025"
    queued = await outbox(database)
    assert [(m.kind, m.ref_id, m.status) for m in queued] == [
        ("apology", issued[0].id, "pending"),
        ("apology", issued[1].id, "pending"),
    ]
    late = await dossier(database, "LATE-1")
    assert (late.stage, late.new_due_date, late.watch_date) == (
        1,
        date(2027, 2, 17),
        date(2027, 2, 17),
    )

    again = await scan_at(database, vn_time(2027, 2, 5, 8))
    assert (again.notices, again.escalations) == (0, 0)
    assert len(await notices(database)) == 2 and len(await outbox(database)) == 2


async def test_the_new_date_is_given_once_then_the_dossier_is_escalated(database: Database):
    await seed_catalog(database)
    await upsert(database, [record("LATE")], vn_time(2027, 2, 1))
    await scan_at(database, vn_time(2027, 2, 4))  # new date Wed 17 Feb
    assert (await scan_at(database, vn_time(2027, 2, 17, 16))).escalations == 0
    report = await scan_at(database, vn_time(2027, 2, 18))
    assert (report.notices, report.escalations) == (0, 1)
    again = await scan_at(database, vn_time(2027, 3, 1))
    assert (again.notices, again.escalations) == (0, 0)
    assert len(await notices(database)) == 1
    async with database.transaction() as session:
        escalation = await session.scalar(select(Escalation))
    assert escalation.missed_date == date(2027, 2, 17)
    assert (await dossier(database, "LATE")).stage == 2


async def test_the_agency_new_date_and_an_announced_delay(database: Database):
    await seed_catalog(database)
    # Announced on Tue 2 Feb, before the due date: the apology goes out at the next scan.
    await upsert(
        database,
        [record("EARLY", new_appointment_date="2027-02-26", delay_reason="Chờ xác minh")],
        vn_time(2027, 2, 2),
    )
    report = await scan_at(database, vn_time(2027, 2, 2, 15))
    assert report.notices == 1
    (notice,) = await notices(database)
    assert (notice.new_date, notice.reason, notice.issued_on) == (
        date(2027, 2, 26),
        "Chờ xác minh",
        date(2027, 2, 2),
    )


async def test_pause_moves_the_due_date_and_stops_the_clock(database: Database):
    await seed_catalog(database)
    await upsert(database, [record("P", appointment_date="2027-03-05")], vn_time(2027, 3, 1))
    # Supplement requested Tue 2 Mar: no notice while paused, even long after the date.
    await upsert(database, [{"code": "P", "state": 5}], vn_time(2027, 3, 2))
    assert (await scan_at(database, vn_time(2027, 3, 10))).notices == 0
    # Supplied Thu 11 Mar: Wed 3 .. Thu 11 = 7 working days lost; Fri 5 Mar -> Tue 16 Mar.
    await upsert(database, [{"code": "P", "state": 4}], vn_time(2027, 3, 11))
    moved = await dossier(database, "P")
    assert moved.pauses == [["2027-03-02", "2027-03-11"]]
    assert moved.due_date == date(2027, 3, 16)
    assert (await scan_at(database, vn_time(2027, 3, 16, 16))).notices == 0
    assert (await scan_at(database, vn_time(2027, 3, 17))).notices == 1


async def test_two_scanners_at_once_create_one_notice(database: Database, empty_database_url):
    await seed_catalog(database)
    await upsert(database, [record(f"L{i}") for i in range(30)], vn_time(2027, 2, 1))
    second = Database(database.url)
    try:
        from bot.dossiers.jobs import run_due
        from tests.dossier_helpers import dossier_settings

        settings = dossier_settings(database)
        now = vn_time(2027, 2, 4)
        reports = await asyncio.gather(
            run_due(database, settings, now), run_due(second, settings, now)
        )
    finally:
        await second.dispose()
    assert sorted(r.notices for r in reports) == [0, 30]
    assert len(await notices(database)) == 30
    assert len(await outbox(database)) == 30
    seqs = sorted(n.number_seq for n in await notices(database))
    assert seqs == list(range(1, 31))


async def test_the_unique_key_refuses_a_second_notice_for_the_same_lateness(database: Database):
    await seed_catalog(database)
    await upsert(database, [record("LATE")], vn_time(2027, 2, 1))
    await scan_at(database, vn_time(2027, 2, 4))
    (notice,) = await notices(database)
    async with database.transaction() as session:
        values = {
            c.name: getattr(notice, c.key)
            for c in ApologyNotice.__table__.columns
            if c.name != "id"
        }
        values["number_seq"] = 99
        assert not await insert_if_absent(session, ApologyNotice.__table__, values)
        count = await session.scalar(select(func.count()).select_from(ApologyNotice))
    assert count == 1
