"""The scan: one notice per late dossier, exactly once, with every field of the form."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, timedelta

from sqlalchemy import func, select

from bot.database import Database, insert_if_absent
from bot.models import AgencyNoticeSettings, ApologyNotice, Dossier, Escalation
from bot.web.dossiers_api import PATH
from handlers.dossiers.notice import TEMPLATE_DIR, chat_text, load_template
from handlers.dossiers.store import RECEIPT_CLOCK_SKEW
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
        from bot.jobs.dossiers import run_due
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


# -- apologies must never be wrong ------------------------------------------------------


async def dossier_count(database: Database) -> int:
    async with database.transaction() as session:
        return await session.scalar(select(func.count()).select_from(Dossier))


async def test_a_new_date_is_judged_against_the_computed_appointment(database: Database):
    """A new date earlier than the appointment counted from processing_days is refused,
    consumes nothing, and the agency's real new date is accepted later."""
    await seed_catalog(database)
    # Received Wed 3 Feb 2027 10:00, 3 working days: Thu 11, Fri 12, Mon 15 Feb (Tết).
    new = record(
        "PD-1",
        received_at="2027-02-03T10:00:00+07:00",
        appointment_date=None,
        processing_days=3,
        new_appointment_date="2027-02-12",
    )
    (outcome,) = await upsert(database, [new], vn_time(2027, 2, 3, 11))
    assert outcome.status == "rejected"
    assert outcome.reasons == ["new_appointment_date: must be after the appointment date"]
    assert await dossier_count(database) == 0
    without = {key: value for key, value in new.items() if key != "new_appointment_date"}
    assert [o.status for o in await upsert(database, [without], vn_time(2027, 2, 3, 11))] == [
        "created"
    ]
    assert (await dossier(database, "PD-1")).due_date == date(2027, 2, 15)
    # The same early date on the stored dossier: refused again, nothing changes.
    (again,) = await upsert(
        database, [{"code": "PD-1", "new_appointment_date": "2027-02-15"}], vn_time(2027, 2, 3, 12)
    )
    assert again.status == "rejected"
    assert (await dossier(database, "PD-1")).agency_new_date is None
    # Not late before Mon 15 Feb has passed: no apology at all.
    assert (await scan_at(database, vn_time(2027, 2, 15, 16))).notices == 0
    # The agency's real new date on the due date itself (less than 1 working day ahead):
    # accepted; the apology goes once the date has passed, with that date.
    (real,) = await upsert(
        database,
        [{"code": "PD-1", "new_appointment_date": "2027-02-26", "delay_reason": "Chờ xác minh"}],
        vn_time(2027, 2, 15, 16),
    )
    assert real.status == "updated"
    assert (await scan_at(database, vn_time(2027, 2, 15, 17))).notices == 0
    assert (await scan_at(database, vn_time(2027, 2, 16, 8))).notices == 1
    (notice,) = await notices(database)
    assert (notice.original_date, notice.new_date, notice.reason) == (
        date(2027, 2, 15),
        date(2027, 2, 26),
        "Chờ xác minh",
    )


async def test_an_announced_delay_goes_at_once_only_with_its_reason_a_day_ahead(
    database: Database,
):
    await seed_catalog(database)
    # Both due Mon 15 Feb 2027; announced on Thu 11 Feb (1 working day ahead is Fri 12).
    await upsert(
        database,
        [
            record("NO-REASON", appointment_date="2027-02-15", new_appointment_date="2027-02-26"),
            record(
                "WITH-REASON",
                appointment_date="2027-02-15",
                new_appointment_date="2027-02-26",
                delay_reason="Chờ ý kiến của Sở Tư pháp",
            ),
        ],
        vn_time(2027, 2, 11),
    )
    assert (await scan_at(database, vn_time(2027, 2, 11, 10))).notices == 1
    assert [n.dossier_code for n in await notices(database)] == ["WITH-REASON"]
    # Without a reason: nothing before the due date has passed, then the agency's date.
    assert (await scan_at(database, vn_time(2027, 2, 15, 16))).notices == 0
    assert (await scan_at(database, vn_time(2027, 2, 16, 8))).notices == 1
    late = (await notices(database))[1]
    assert (late.dossier_code, late.new_date, late.reason) == (
        "NO-REASON",
        date(2027, 2, 26),
        None,
    )


async def test_a_receipt_dated_in_the_future_is_refused(database: Database):
    await seed_catalog(database)
    # Mon 15 Feb 2027 06:30 in Vietnam is still Sunday 14 Feb (23:30) in UTC.
    now = vn_time(2027, 2, 15, 6) + timedelta(minutes=30)
    assert now.weekday() == 6 and now.tzinfo is UTC
    outcomes = await upsert(
        database,
        [
            record("SKEW", received_at="2027-02-15T06:39:00+07:00"),  # 9 minutes ahead
            record("FUTURE", received_at="2027-02-15T06:41:00+07:00"),
            record("FUTURE-UTC", received_at="2027-02-14T23:45:00Z"),
            record("TOMORROW", received_at="2027-02-16"),
        ],
        now,
    )
    assert [o.status for o in outcomes] == ["created", "rejected", "rejected", "rejected"]
    assert all(o.reasons == ["received_at: in the future"] for o in outcomes[1:])
    assert await dossier_count(database) == 1
    assert timedelta(minutes=10) == RECEIPT_CLOCK_SKEW
    # An update cannot move a stored receipt into the future either.
    (moved,) = await upsert(
        database, [{"code": "SKEW", "received_at": "2027-02-16T08:00:00+07:00"}], now
    )
    assert moved.status == "rejected"
    assert (await dossier(database, "SKEW")).received_on == date(2027, 2, 15)


async def test_first_reported_done_after_the_date_is_overdue_if_finished_late(
    database: Database,
):
    """Overdue = finished after the appointment date; on time = finished <= it."""
    await seed_catalog(database)
    # All due Wed 3 Feb 2027; first reported on Fri 12 Feb, after Tết.
    await upsert(
        database,
        [
            record("DONE-LATE", state=9, finished_at="2027-02-11T10:00:00+07:00"),
            record("DONE-ON-TIME", state=9, finished_at="2027-02-03T16:30:00+07:00"),
            # Finished late but already returned: no notice (see handlers.dossiers.apologies).
            record(
                "RETURNED-LATE",
                state=10,
                finished_at="2027-02-11T10:00:00+07:00",
                returned_at="2027-02-11T15:00:00+07:00",
            ),
        ],
        vn_time(2027, 2, 12),
    )
    report = await scan_at(database, vn_time(2027, 2, 12, 10))
    assert report.notices == 1
    (notice,) = await notices(database)
    # The result is ready: the new date is the first working day from now, today.
    assert (notice.dossier_code, notice.original_date, notice.new_date) == (
        "DONE-LATE",
        date(2027, 2, 3),
        date(2027, 2, 12),
    )
    assert [m.ref_id for m in await outbox(database)] == [notice.id]
    # Never escalated: the result is done, only waiting to be collected.
    assert (await scan_at(database, vn_time(2027, 3, 1))).escalations == 0
    assert (await dossier(database, "DONE-ON-TIME")).watch_date is None
    assert (await dossier(database, "RETURNED-LATE")).watch_date is None


async def test_without_a_reason_the_notice_gives_the_reviewed_neutral_sentence(
    database: Database,
):
    await seed_catalog(database)
    await upsert(database, [record("NO-REASON")], vn_time(2027, 2, 1))
    await scan_at(database, vn_time(2027, 2, 4))
    (notice,) = await notices(database)
    assert notice.reason is None
    for name, sentence in (
        ("tt03-2025", "Hồ sơ chưa được giải quyết xong đúng hẹn; cơ quan đang tiếp tục xử lý."),
        ("tt01-2018", "Hồ sơ chưa được giải quyết xong đúng hẹn; cơ quan đang tiếp tục xử lý."),
        ("en", "The dossier has not been fully processed by the appointment date;"),
    ):
        template = load_template(name)
        text = chat_text(notice, template)
        assert sentence in text, name
        assert "thời hạn quy định" not in text and "within the time limit" not in text
        assert template.reason_fallback.startswith(sentence)
        assert not template.reason_fallback_reviewed  # the agency must review it
        raw = (TEMPLATE_DIR / f"{name}.yaml").read_text(encoding="utf-8")
        assert "reason_fallback_reviewed: false" in raw
        assert "PHẢI RÀ SOÁT" in raw or "MUST REVIEW" in raw


async def test_the_api_takes_a_reason_and_judges_a_new_date_after_computing(database: Database):
    from tests.bot.web.test_dossiers_api import api, bearer, keys

    commune, _ = await keys(database)
    batch = [
        # Received Mon 1 Feb 2027, 3 working days: Tue 2, Wed 3, Thu 11 Feb (Tết).
        record(
            "API-EARLY", appointment_date=None, processing_days=3, new_appointment_date="2027-02-04"
        ),
        record(
            "API-REASON",
            appointment_date=None,
            processing_days=3,
            new_appointment_date="2027-02-19",
            delay_reason="Chờ kết quả xác minh của Công an xã",
        ),
    ]
    async with api(database) as client:
        response = await client.post(PATH, json=batch, headers=bearer(commune))
        body = await response.json()
    assert response.status == 200
    statuses = [(r["code"], r["status"]) for r in body["results"]]
    assert statuses == [("API-EARLY", "rejected"), ("API-REASON", "created")]
    assert body["results"][0]["errors"] == [
        "new_appointment_date: must be after the appointment date"
    ]
    stored = await dossier(database, "API-REASON")
    assert (stored.due_date, stored.agency_new_date, stored.delay_reason) == (
        date(2027, 2, 11),
        date(2027, 2, 19),
        "Chờ kết quả xác minh của Công an xã",
    )
    assert await dossier_count(database) == 1
