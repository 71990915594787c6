"""Officials in chat, through the real inbound path: invitations, roles and scopes."""

from __future__ import annotations

import hashlib
from datetime import date

from sqlalchemy import select, update

from bot.models import Official, OutboxMessage
from bot.outbox import OutboxSender
from bot.settings import OutboxSettings
from handlers.dossiers.apologies import renderers
from handlers.officials import access
from tests.builders import TRANSLATOR, Citizen, FakeClock, make_processor
from tests.dossier_helpers import PHONE, record, scan_at, upsert, vn_time
from tests.officials_helpers import (
    all_at,
    funnel,
    invite,
    officials,
    respond,
    seed_agencies,
    vn,
)

REFUSED = TRANSLATOR("vi", "official_refused")
INVALID = TRANSLATOR("vi", "official_register_invalid")
COMMANDS = [
    "/scores",
    "/overdue",
    "/digest",
    "/subscribe weekly",
    "/export",
    "/invite official province",
]


async def registered(database, clock, code: str, chat_key: str) -> Citizen:
    official = Citizen(make_processor(database, clock), chat_key)
    replies = await official.say(f"/register {code}")
    assert replies[0].text.startswith("Đăng ký thành công"), replies[0].text
    return official


async def test_an_invitation_works_once_and_only_its_hash_is_stored(database):
    await seed_agencies(database)
    clock = FakeClock(vn(2026, 11, 20))
    code = await invite(database, now=clock.now)
    first = Citizen(make_processor(database, clock), "7001")
    typed = access.display_code(code).lower()  # as read out: dashes, lower case
    (reply,) = await first.say(f"/register {typed}")
    assert "Vai trò: cán bộ; phạm vi: Sở Tư pháp tỉnh Đồng Nai (DNAI-STP)" in reply.text
    assert "hằng tuần, thứ Hai lúc 08:00" in reply.text
    (row,) = await officials(database)
    assert row.invite_hash == hashlib.sha256(code.encode()).hexdigest()
    assert code not in repr([getattr(row, c.key) for c in Official.__table__.columns])

    second = Citizen(make_processor(database, clock), "7002")
    assert [r.text for r in await second.say(f"/register {code}")] == [INVALID]
    assert [r.text for r in await first.say(f"/register {code}")] == [INVALID]
    # The second chat got nothing: it is still a citizen.
    assert [r.text for r in await second.say("/scores")] == [REFUSED]


async def test_an_expired_code_gets_the_same_answer_as_an_unknown_one(database):
    await seed_agencies(database)
    clock = FakeClock(vn(2026, 11, 20))
    code = await invite(database, now=clock.now, invite_days=2)
    clock.advance(days=2)  # exactly at the expiry: no longer valid
    late = Citizen(make_processor(database, clock), "7003")
    assert [r.text for r in await late.say(f"/register {code}")] == [INVALID]
    assert [r.text for r in await late.say("/register 23456789ABCDEFGHJKMN")] == [INVALID]
    assert [r.text for r in await late.say("/register")] == [
        TRANSLATOR("vi", "official_register_usage")
    ]
    clock.advance(seconds=-1)
    spaced = access.display_code(code).replace("-", " ")  # typed in groups
    assert (await late.say(f"/register {spaced}"))[0].text.startswith("Đăng ký thành công")


async def test_citizens_and_revoked_officials_are_refused_alike(database):
    await seed_agencies(database)
    clock = FakeClock(vn(2026, 11, 20))
    citizen = Citizen(make_processor(database, clock), "7010")
    admin = await registered(
        database, clock, await invite(database, "admin", None, now=clock.now), "7011"
    )
    for command in COMMANDS:
        assert [r.text for r in await citizen.say(command)] == [REFUSED], command
    assert "DNAI" not in REFUSED and "Sở" not in REFUSED

    assert "Chỉ số hài lòng" in (await admin.say("/scores"))[0].text
    (row,) = await officials(database)
    async with database.transaction() as session:
        assert await access.revoke(session, row.id, clock.now)
        assert not await access.revoke(session, row.id, clock.now)
    for command in COMMANDS:
        assert [r.text for r in await admin.say(command)] == [REFUSED], command


async def test_an_agency_official_sees_its_merged_and_child_agencies_only(database):
    ids = await seed_agencies(database)
    clock = FakeClock(vn(2026, 11, 20))
    day = date(2026, 11, 10)
    for agency, count in [
        ("DNAI-STP", 2),
        ("BPHUOC-STP", 1),
        ("BPHUOC-PB", 1),
        ("DNAI-STP-TTTG", 1),
        ("DNAI-SYT", 4),
        ("DNAI-XTEST", 3),
    ]:
        for _ in range(count):
            await respond(database, ids, agency, day, all_at(5))
    stp = await registered(database, clock, await invite(database, now=clock.now), "7020")
    province = await registered(
        database, clock, await invite(database, agency=None, now=clock.now), "7021"
    )

    (reply,) = await stp.say("/scores 2026-11")
    assert "Số phiếu: 5 (kỳ trước: 0)." in reply.text  # 2 + 1 + 1 + 1 of the 12
    assert "và 3 cơ quan trực thuộc hoặc đã sáp nhập" in reply.text
    (reply,) = await stp.say("/scores 2026-11 BPHUOC-STP")
    assert "Số phiếu: 2 (kỳ trước: 0)." in reply.text  # the merged agency and its unit
    (reply,) = await province.say("/scores 2026-11")
    assert "Số phiếu: 12 (kỳ trước: 0)." in reply.text
    assert "Kỳ này chưa có phiếu khảo sát qua chat nào kết thúc." in reply.text

    # The drop-off of ended chat sessions, in the same scope: 2 of 3 in it, not the sibling's.
    await funnel(
        database,
        [
            (day, ids["BPHUOC-STP"], "questions", 28, "completed", 2),
            (day, ids["DNAI-STP"], "questions", 3, "expired", 1),
            (day, ids["DNAI-SYT"], "questions", 0, "expired", 6),
        ],
    )
    (reply,) = await stp.say("/scores 2026-11")
    line = "Hoàn thành 2/3 phiếu khảo sát qua chat (mẫu nhỏ); bỏ dở nhiều nhất ở câu 4 (F1.4"
    assert line in reply.text

    # Out of scope and non-existent read the same, apart from the code echoed back.
    (sibling,) = await stp.say("/scores 2026-11 DNAI-SYT")
    (missing,) = await stp.say("/scores 2026-11 NO-SUCH")
    assert sibling.text == TRANSLATOR("vi", "official_not_in_scope", code="DNAI-SYT")
    assert missing.text == TRANSLATOR("vi", "official_not_in_scope", code="NO-SUCH")
    (extra,) = await stp.say("/scores 2026-11 DNAI-STP more")
    usage = TRANSLATOR("vi", "official_scores_usage")
    assert extra.text == TRANSLATOR("vi", "official_bad_argument", text="more", usage=usage)
    (commune,) = await stp.say("/export 2026-11 DNAI-XTEST")
    assert commune.text == TRANSLATOR("vi", "official_not_in_scope", code="DNAI-XTEST")


async def test_only_admins_invite_and_only_within_their_scope(database):
    await seed_agencies(database)
    clock = FakeClock(vn(2026, 11, 20))
    official = await registered(database, clock, await invite(database, now=clock.now), "7030")
    admin = await registered(
        database, clock, await invite(database, "admin", now=clock.now), "7031"
    )
    boss = await registered(
        database, clock, await invite(database, "admin", None, now=clock.now), "7032"
    )

    assert [r.text for r in await official.say("/invite official agency:DNAI-STP")] == [REFUSED]
    refused = TRANSLATOR("vi", "official_invite_refused")
    for scope in ("agency:DNAI-SYT", "agency:NO-SUCH", "province"):
        assert [r.text for r in await admin.say(f"/invite official {scope}")] == [refused]
    (made,) = await admin.say("/invite official agency:BPHUOC-PB")
    code = made.text.splitlines()[1]
    (made_by_boss,) = await boss.say("/invite admin province")
    assert "toàn tỉnh" in made_by_boss.text

    newcomer = await registered(database, clock, code, "7033")
    assert [r.text for r in await newcomer.say("/invite official agency:BPHUOC-PB")] == [REFUSED]
    (reply,) = await newcomer.say("/scores 2026-11 DNAI-STP")  # its parent is out of reach
    assert reply.text == TRANSLATOR("vi", "official_not_in_scope", code="DNAI-STP")


async def test_registering_again_replaces_the_chats_previous_role(database):
    await seed_agencies(database)
    clock = FakeClock(vn(2026, 11, 20))
    chat = await registered(database, clock, await invite(database, now=clock.now), "7040")
    await chat.say(f"/register {await invite(database, 'admin', None, now=clock.now)}")
    first, second = await officials(database)
    assert first.revoked_at == clock.now and second.revoked_at is None
    assert first.chat_id == second.chat_id
    assert "toàn tỉnh" in (await chat.say("/overdue"))[0].text


async def test_subscribe_changes_the_schedule_from_now_on(database):
    await seed_agencies(database)
    clock = FakeClock(vn(2026, 11, 20))
    chat = await registered(database, clock, await invite(database, now=clock.now), "7050")
    clock.advance(hours=1)
    (reply,) = await chat.say("/subscribe monthly 5 7h30")
    assert reply.text == "Đã đặt lịch bản tin: hằng tháng, ngày 5 lúc 07:30."
    (row,) = await officials(database)
    assert (row.digest_frequency, row.digest_month_day, row.digest_minute) == ("monthly", 5, 450)
    assert row.schedule_from == clock.now
    (reply,) = await chat.say("/subscribe weekly cn 18:00")
    assert reply.text == "Đã đặt lịch bản tin: hằng tuần, Chủ nhật lúc 18:00."
    await chat.say("/lang en")
    (reply,) = await chat.say("/subscribe off")
    assert reply.text == "Digest schedule set: none."
    for wrong in ("/subscribe", "/subscribe daily", "/subscribe monthly 31", "/subscribe off 8:00"):
        (reply,) = await chat.say(wrong)
        assert reply.text == TRANSLATOR("en", "official_subscribe_usage"), wrong


async def test_overdue_lists_late_dossiers_without_names_or_phones(database):
    await seed_agencies(database)
    # Three dossiers of DNAI-XTEST due 3 Feb 2027: two late, one returned on time.
    await upsert(
        database,
        [record("LATE-1"), record("LATE-2", appointment_date="2027-02-04"), record("OK-1")],
        vn_time(2027, 2, 1),
    )
    await upsert(database, [record("OK-1", state=10)], vn_time(2027, 2, 2))
    await scan_at(database, vn_time(2027, 2, 5))  # apology notices for LATE-1 and LATE-2
    await scan_at(database, vn_time(2027, 2, 18))  # both missed the new date: escalated
    await upsert(database, [record("LATE-3", appointment_date="2027-02-17")], vn_time(2027, 2, 16))
    # No channel runs: the apology notices are left for the counter.
    sender = OutboxSender(
        database, OutboxSettings(), {}, renderers(TRANSLATOR), clock=FakeClock(vn_time(2027, 2, 18))
    )
    await sender.drain()
    async with database.transaction() as session:
        statuses = await session.scalars(
            select(OutboxMessage.status).where(OutboxMessage.kind == "apology")
        )
        assert statuses.all() == ["counter", "counter"]

    clock = FakeClock(vn_time(2027, 2, 19))
    commune = await registered(
        database, clock, await invite(database, agency="DNAI-XTEST", now=clock.now), "7060"
    )
    stp = await registered(database, clock, await invite(database, now=clock.now), "7061")
    (reply,) = await commune.say("/overdue")
    text = reply.text
    assert "Tổng cộng 3 hồ sơ trễ hạn, trong đó 2 đã chuyển lãnh đạo; 2 thư xin lỗi" in text
    lines = text.splitlines()
    late_lines = [line for line in lines if line.startswith("• LATE") and ": hẹn" in line]
    assert [line.split(" — ")[0] for line in late_lines] == ["• LATE-1", "• LATE-2", "• LATE-3"]
    assert "hẹn 03/02/2027" in late_lines[0] and "⚠️ đã chuyển lãnh đạo" in late_lines[0]
    assert "hẹn 17/02/2027" in late_lines[2] and "chuyển lãnh đạo" not in late_lines[2]
    assert "• LATE-1: thư số 1/PXL — cần trao tại bộ phận một cửa" in lines
    assert "Nguyễn" not in text and PHONE[-4:] not in text and "OK-1" not in text
    (reply,) = await stp.say("/overdue")
    assert reply.text.endswith(TRANSLATOR("vi", "official_overdue_none"))

    # A notice no longer undeliverable (handed over, dossier closed) leaves the list.
    async with database.transaction() as session:
        await session.execute(update(OutboxMessage).values(status="sent"))
    (reply,) = await commune.say("/overdue")
    assert "0 thư xin lỗi" in reply.text and "thư số" not in reply.text


async def test_overdue_and_digest_say_reason_missing_and_no_signer(database):
    from bot.models import AgencyNoticeSettings

    agencies = await seed_agencies(database)
    await upsert(
        database,
        [
            record("LATE-NR"),  # due Wed 3 Feb 2027, no reason
            record("LATE-R", delay_reason="Chờ xác minh"),
            record("SOON", appointment_date="2027-02-12"),  # due Fri 12 Feb, no reason
            record("SOON-R", appointment_date="2027-02-12", delay_reason="Chờ xác minh"),
            record("LATER", appointment_date="2027-02-26"),
            # A new date announced without a reason: no notice until one is sent, or the
            # due date passes and the template's general sentence is used.
            record("ANNOUNCED", appointment_date="2027-02-26", new_appointment_date="2027-03-05"),
        ],
        vn_time(2027, 2, 1),
    )
    await scan_at(database, vn_time(2027, 2, 4))  # notices for LATE-NR and LATE-R
    # Thu 11 Feb 2027, the first working day after Tết; the next one is Fri 12 Feb.
    clock = FakeClock(vn_time(2027, 2, 11))
    commune = await registered(
        database, clock, await invite(database, agency="DNAI-XTEST", now=clock.now), "7070"
    )
    (reply,) = await commune.say("/overdue")
    lines = reply.text.splitlines()
    unsigned = [line for line in lines if line.startswith("⚠️ Chưa khai báo người ký")]
    assert len(unsigned) == 1 and "DNAI-XTEST" in unsigned[0]
    assert '"THỦ TRƯỞNG CƠ QUAN" không có họ tên' in unsigned[0]
    by_code = {line.split(" — ")[0][2:]: line for line in lines if line.startswith("• ")}
    assert by_code["LATE-NR"].endswith("(thiếu lý do)")
    assert "thiếu lý do" not in by_code["LATE-R"]
    head = [line for line in lines if line.startswith("Sắp đến hạn mà chưa có lý do")]
    assert head == [
        "Sắp đến hạn mà chưa có lý do chậm trễ (2 hồ sơ): nếu trễ, thư xin lỗi sẽ chỉ ghi câu"
        " chung của mẫu. Hệ thống một cửa cần gửi lý do (delay_reason):"
    ]
    listed_after = lines[lines.index(head[0]) + 1 :]
    assert [line.split(" — ")[0] for line in listed_after] == ["• SOON", "• ANNOUNCED"]
    assert "SOON-R" not in reply.text and "LATER" not in reply.text
    assert "Nguyễn" not in reply.text

    (digest_reply, *_) = await commune.say("/digest")
    assert "⚠️ Chưa có người ký thư xin lỗi: DNAI-XTEST" in digest_reply.text

    async with database.transaction() as session:
        session.add(
            AgencyNoticeSettings(
                agency_id=agencies["DNAI-XTEST"],
                place="Tân Lợi",
                signer_title="Chủ tịch",
                signer_name="Trần Thị Bình",
            )
        )
    (reply,) = await commune.say("/overdue")
    assert "người ký" not in reply.text
    (digest_reply, *_) = await commune.say("/digest")
    assert "người ký" not in digest_reply.text
