"""Citizens linking a dossier to their chat: receipt codes, /hoso, throttling, invitations."""

from __future__ import annotations

from sqlalchemy import select

from bot.models import Dossier, OutboxMessage
from tests.builders import Citizen, FakeClock, make_processor, seed_catalog
from tests.dossier_helpers import dossier, outbox, record, upsert, vn_time

NOT_FOUND = "Không tìm thấy hồ sơ khớp"


async def _setup(database, *records):
    await seed_catalog(database)
    outcomes = await upsert(database, list(records) or [record("HS-1")], vn_time(2027, 2, 1))
    clock = FakeClock(vn_time(2027, 2, 2))
    return outcomes, clock


async def test_hoso_with_code_and_last_four_digits_links_and_shows_the_state(database):
    _, clock = await _setup(database)
    citizen = Citizen(make_processor(database, clock))
    replies = await citizen.say("/hoso HS-1 5678")
    text = citizen.text()
    assert "Đã liên kết" in replies[0].text
    assert "HS-1" in text and "Đang xử lý" in text and "03/02/2027" in text
    assert "Nguyễn" not in text and "5678" not in text  # no name, no phone in replies
    linked = await dossier(database, "HS-1")
    assert linked.chat_id is not None
    await citizen.say("/hoso")
    assert "Trạng thái: Đang xử lý" in citizen.text()


async def test_the_receipt_code_links_the_chat_without_starting_the_survey(database):
    outcomes, clock = await _setup(database)
    code = outcomes[0].start_code
    assert code is not None
    citizen = Citizen(make_processor(database, clock))
    await citizen.say(f"/start {code}")
    assert "Đã liên kết" in citizen.text() and "Câu 1/" not in citizen.text()
    assert (await dossier(database, "HS-1")).chat_id is not None


async def test_returned_dossier_invites_through_the_outbox_and_the_code_starts_the_survey(
    database,
):
    outcomes, clock = await _setup(database)
    code = outcomes[0].start_code
    citizen = Citizen(make_processor(database, clock))
    await citizen.say("/hoso HS-1 5678")
    assert await outbox(database) == []
    await upsert(database, [{"code": "HS-1", "state": 10}], vn_time(2027, 2, 3))
    [invitation] = await outbox(database)
    assert (invitation.kind, invitation.status) == ("invitation", "pending")
    # A repeated state 10 does not invite twice.
    await upsert(database, [{"code": "HS-1", "state": 10}], vn_time(2027, 2, 3))
    assert len(await outbox(database)) == 1
    # The citizen sends the code from the invitation: the survey of that agency and service.
    await citizen.say(code)
    assert "Câu 1/" in citizen.text() and "Đăng ký khai sinh" in citizen.text()


async def test_wrong_code_and_wrong_digits_get_the_same_reply(database):
    _, clock = await _setup(database)
    citizen = Citizen(make_processor(database, clock))
    wrong_digits = (await citizen.say("/hoso HS-1 1111"))[0].text
    wrong_code = (await citizen.say("/hoso HS-404 5678"))[0].text
    assert wrong_digits == wrong_code and NOT_FOUND in wrong_code
    assert (await dossier(database, "HS-1")).chat_id is None


async def test_guessing_is_throttled_per_chat_and_per_dossier(database):
    _, clock = await _setup(database, record("HS-1"), record("HS-2", phone="0987654321"))
    guesser = Citizen(make_processor(database, clock), chat_key="666")
    for digits in ("0000", "0001", "0002", "0003", "0004"):
        assert NOT_FOUND in (await guesser.say(f"/hoso HS-1 {digits}"))[0].text
    # Sixth try, even with the right digits: refused, and the dossier stays unlinked.
    refused = (await guesser.say("/hoso HS-1 5678"))[0].text
    assert "quá nhiều lần" in refused
    # The same chat is refused for another dossier too (per chat limit) ...
    assert "quá nhiều lần" in (await guesser.say("/hoso HS-2 4321"))[0].text
    # ... and another chat is refused for HS-1 (per dossier limit), but not for HS-2.
    other = Citizen(make_processor(database, clock), chat_key="777")
    assert "quá nhiều lần" in (await other.say("/hoso HS-1 5678"))[0].text
    assert "Đã liên kết" in (await other.say("/hoso HS-2 4321"))[0].text
    async with database.transaction() as session:
        hs1 = await session.scalar(select(Dossier).where(Dossier.code == "HS-1"))
    assert hs1.chat_id is None
    # The next day the owner can link it.
    clock.advance(days=1)
    owner = Citizen(make_processor(database, clock), chat_key="888")
    assert "Đã liên kết" in (await owner.say("/hoso HS-1 5678"))[0].text


async def test_english_chat_gets_english_replies(database):
    _, clock = await _setup(database)
    citizen = Citizen(make_processor(database, clock))
    await citizen.say("/lang en")
    await citizen.say("/hoso HS-1 5678")
    assert "now linked" in citizen.text() and "In progress" in citizen.text()
    await citizen.say("/hoso")
    assert "State: In progress" in citizen.text()


async def test_hoso_without_a_linked_dossier_explains_itself(database):
    _, clock = await _setup(database)
    citizen = Citizen(make_processor(database, clock))
    await citizen.say("/hoso")
    assert "/hoso <mã hồ sơ>" in citizen.text()
    async with database.transaction() as session:
        assert await session.scalar(select(OutboxMessage)) is None
