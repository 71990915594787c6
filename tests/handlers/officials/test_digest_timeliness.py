"""The weekly digest's QĐ 766 line, in Vietnamese and English, only where there are dossiers."""

from __future__ import annotations

from sqlalchemy import select, update

from bot.jobs.digests import run_due
from bot.models import ApologyNotice, OutboxMessage
from bot.outbox import OutboxSender
from bot.settings import OutboxSettings
from bot.states import OutboxKind, OutboxStatus
from handlers.dossiers.apologies import renderers
from tests.builders import QUESTIONNAIRES, TRANSLATOR, Citizen, FakeClock, make_processor
from tests.dossier_helpers import record, scan_at, upsert, vn_time
from tests.officials_helpers import digests, invite, officials_settings, seed_agencies, vn


async def register(database, clock, agency, chat_key, language=None) -> None:
    code = await invite(database, agency=agency, now=clock.now)
    chat = Citizen(make_processor(database, clock), chat_key)
    assert (await chat.say(f"/register {code}"))[0].text.startswith("Đăng ký thành công")
    if language:
        await chat.say(f"/lang {language}")


async def test_the_weekly_digest_gives_the_on_time_share(database):
    await seed_agencies(database)
    # The week of Mon 15 .. Sun 21 February 2027, digest on Monday 22 at 08:00.
    await upsert(
        database,
        [
            record("D-LATE", appointment_date="2027-02-15"),  # notice 16 Feb, to the counter
            record("E-LATE", appointment_date="2027-02-16"),  # notice 17 Feb, delivered
            record("F-LATE", appointment_date="2027-02-18"),  # no scan since: still owed
        ],
        vn_time(2027, 2, 1),
    )
    await scan_at(database, vn_time(2027, 2, 16))
    sender = OutboxSender(
        database, OutboxSettings(), {}, renderers(TRANSLATOR), clock=FakeClock(vn(2027, 2, 16, 10))
    )
    await sender.drain()  # no channel: D-LATE's notice for the counter
    await scan_at(database, vn_time(2027, 2, 17))
    async with database.transaction() as session:
        notice = await session.scalar(
            select(ApologyNotice.id).where(ApologyNotice.dossier_code == "E-LATE")
        )
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.kind == OutboxKind.APOLOGY, OutboxMessage.ref_id == notice)
            .values(status=OutboxStatus.SENT)
        )
    finished = [
        record("A", appointment_date="2027-02-17", state=10, finished_at="2027-02-16T10:00+07:00"),
        record("B", appointment_date="2027-02-17", state=10, finished_at="2027-02-18T10:00+07:00"),
        record("C", appointment_date="2027-02-17", state=9, finished_at="2027-02-17T16:00+07:00"),
    ]
    await upsert(database, finished, vn_time(2027, 2, 19))
    clock = FakeClock(vn_time(2027, 2, 10))
    await register(database, clock, "DNAI-XTEST", "8001")
    await register(database, clock, "DNAI-XTEST", "8002", language="en")
    await register(database, clock, "DNAI-SYT", "8003")  # no dossier at all
    settings = officials_settings(database)
    assert await run_due(database, settings, QUESTIONNAIRES, TRANSLATOR, vn(2027, 2, 22, 8)) == 3
    vietnamese, english, other = await digests(database)
    assert (
        "Hồ sơ đúng hạn: 66,7% (3 hồ sơ) · quá hạn: 3 · "
        "xin lỗi: đã gửi 1, chưa gửi được 1, còn nợ 1"
    ) in vietnamese.text
    assert (
        "Dossiers on time: 66.7% (3 dossiers) · overdue: 3 · "
        "apologies: sent 1, undelivered 1, owed 1"
    ) in english.text
    assert vietnamese.figures["timeliness"]["finished_on_time"] == 2
    assert "đúng hạn" not in other.text and other.figures["timeliness"] is None
