"""Guessing is bounded per chat and local day, in the database (so across processes and
restarts): wrong start codes, /register attempts, and /hoso, whose lock points the
owner to the receipt's code. Through the real inbound path, on both databases."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot import metrics
from bot.inbound import InboundProcessor
from bot.models import Chat, ChatAttempt, Official, SurveySession
from bot.settings import ConfigError, load_settings
from handlers.survey.codes import new_code
from tests.builders import (
    TRANSLATOR,
    Citizen,
    FakeClock,
    make_code,
    make_processor,
    seed_catalog,
)
from tests.dossier_helpers import dossier, record, upsert, vn_time
from tests.officials_helpers import invite, officials_settings, seed_agencies, vn


def t(key: str, **params: object) -> str:
    return TRANSLATOR("vi", key, **params)


async def attempts(database) -> dict[tuple[str, str], int]:
    async with database.transaction() as session:
        rows = await session.scalars(select(ChatAttempt))
        return {(row.kind, row.day.isoformat()): row.count for row in rows}


async def phase_of(database, chat_key: str) -> str | None:
    async with database.transaction() as session:
        return await session.scalar(
            select(SurveySession.phase)
            .join(Chat, Chat.id == SurveySession.chat_id)
            .where(Chat.chat_key == chat_key, SurveySession.status == "active")
        )


def wrong_code() -> str:
    return new_code(10)  # well-formed, and one in 31^10 to exist


async def test_wrong_start_codes_are_limited_per_chat_and_day(database):
    catalog = await seed_catalog(database)
    # A receipt's code: a hit would link the guessing chat to a stranger's dossier.
    outcomes = await upsert(database, [record("HS-1")], vn_time(2027, 2, 1))
    receipt = outcomes[0].start_code
    survey_code = await make_code(database, catalog, single_use=False)
    clock = FakeClock(vn_time(2027, 2, 2))
    guesser = Citizen(make_processor(database, clock), "666")
    # Ten wrong codes: as deep links, typed first, and typed in the agency search.
    for number in range(10):
        text = wrong_code() if number % 3 else f"/start {wrong_code()}"
        replies = await guesser.say(text)
        assert t("code_unknown") in [r.text for r in replies], number
    # An agency name typed without accents looks like a code but finds the agency: it
    # is not a wrong code.
    await guesser.say("/start")
    await guesser.say("ubnd xa tan")
    assert "Cơ quan: UBND xã Tân Lợi" in guesser.last.text
    assert await attempts(database) == {("start_code", "2027-02-02"): 10}

    # After a restart (a new processor), codes are no longer even looked up: the right
    # ones neither start a survey nor link the dossier.
    before = metrics.value("start_code_throttled_total")
    guesser = Citizen(make_processor(database, clock), "666")
    await guesser.say("/cancel")
    for text in [f"/start {receipt}", receipt, f"/start {survey_code}", survey_code]:
        replies = await guesser.say(text)
        assert replies[0].text == t("code_throttled"), text
    assert (await dossier(database, "HS-1")).chat_id is None
    assert await phase_of(database, "666") != "questions"
    assert metrics.value("start_code_throttled_total") == before + 4
    assert await attempts(database) == {("start_code", "2027-02-02"): 10}
    # The agency search still works, so the citizen can still give a rating.
    await guesser.say("/start")
    await guesser.say("ubnd")
    assert "Cơ quan: UBND xã Tân Lợi" in guesser.last.text

    # Another chat is not affected; and the next local day the limit starts again.
    other = Citizen(make_processor(database, clock), "777")
    await other.say(f"/start {survey_code}")
    assert "Câu 1/29" in other.last.text
    clock.advance(days=1)
    await guesser.say(f"/start {receipt}")
    assert "Đã liên kết" in guesser.text()
    assert (await dossier(database, "HS-1")).chat_id is not None


async def test_the_start_code_limit_is_a_setting(database):
    catalog = await seed_catalog(database)
    code = await make_code(database, catalog)
    clock = FakeClock()
    citizen = Citizen(make_processor(database, clock, start_code_max_failures=2), "555")
    await citizen.say(wrong_code())
    await citizen.say(wrong_code())
    assert (await citizen.say(f"/start {code}"))[0].text == t("code_throttled")
    # Text that cannot be a code is not looked up and costs nothing.
    lenient = Citizen(make_processor(database, clock, start_code_max_failures=2), "556")
    for text in ["/start xin chào", "/start 0", "/start ²²²²²²²²²²", "/start " + "9" * 5000]:
        assert t("code_unknown") in [r.text for r in await lenient.say(text)]
    await lenient.say(f"/start {code}")
    assert "Câu 1/29" in lenient.last.text


def _officials_processor(database, clock, **officials) -> InboundProcessor:
    return make_processor(database, clock, officials_settings(database, **officials))


async def test_register_attempts_are_limited_per_chat_and_day(database):
    await seed_agencies(database)
    clock = FakeClock(vn(2026, 11, 20))
    code = await invite(database, now=clock.now)
    guesser = Citizen(_officials_processor(database, clock), "7201")
    for number in range(5):
        replies = await guesser.say(f"/register {new_code(20)}")
        assert [r.text for r in replies] == [t("official_register_invalid")], number
    before = metrics.value("register_throttled_total")
    # A restart changes nothing; the right code is refused too, and not used up.
    guesser = Citizen(_officials_processor(database, clock), "7201")
    assert [r.text for r in await guesser.say(f"/register {code}")] == [
        t("official_register_throttled")
    ]
    assert metrics.value("register_throttled_total") == before + 1
    async with database.transaction() as session:
        assert (await session.scalar(select(Official))).registered_at is None
    # Usage without a code is not an attempt; the next day the chat may try again.
    assert [r.text for r in await guesser.say("/register")] == [t("official_register_usage")]
    clock.advance(days=1)
    assert (await guesser.say(f"/register {code}"))[0].text.startswith("Đăng ký thành công")


async def test_the_register_limit_is_a_setting_and_counts_every_try(database):
    await seed_agencies(database)
    clock = FakeClock(vn(2026, 11, 20))
    first = await invite(database, now=clock.now)
    second = await invite(database, now=clock.now)
    chat = Citizen(_officials_processor(database, clock, register_max_attempts=2), "7202")
    assert (await chat.say(f"/register {first}"))[0].text.startswith("Đăng ký thành công")
    await chat.say(f"/register {new_code(20)}")
    replies = await chat.say(f"/register {second}")
    assert [r.text for r in replies] == [t("official_register_throttled")]


async def test_a_locked_dossier_points_its_owner_to_the_receipt_code(database):
    await seed_catalog(database)
    outcomes = await upsert(database, [record("HS-1")], vn_time(2027, 2, 1))
    clock = FakeClock(vn_time(2027, 2, 2))
    guesser = Citizen(make_processor(database, clock), "666")
    for digits in ("0000", "0001", "0002", "0003", "0004"):
        await guesser.say(f"/hoso HS-1 {digits}")
    before = metrics.value("hoso_throttled_total")
    owner = Citizen(make_processor(database, clock), "888")
    (reply,) = await owner.say("/hoso HS-1 5678")
    assert reply.text == t("hoso_throttled")
    assert "mã khảo sát" in reply.text and "QR" in reply.text and "ngày mai" in reply.text
    assert metrics.value("hoso_throttled_total") == before + 1
    assert "QR" in TRANSLATOR("en", "hoso_throttled")
    # The receipt's code links at once: it needs no digits, so guessing cannot lock it.
    await owner.say(outcomes[0].start_code)
    assert "Đã liên kết" in owner.text()
    assert (await dossier(database, "HS-1")).chat_id is not None


async def test_counters_of_past_days_are_pruned(database):
    await seed_catalog(database)
    clock = FakeClock(vn_time(2027, 2, 2, hour=23))
    processor = make_processor(database, clock)
    await Citizen(processor, "1").say(wrong_code())
    clock.advance(hours=2)  # past local midnight
    await Citizen(processor, "2").say(wrong_code())
    assert await attempts(database) == {
        ("start_code", "2027-02-02"): 1,
        ("start_code", "2027-02-03"): 1,
    }
    await processor.forget_old_updates()
    assert await attempts(database) == {("start_code", "2027-02-03"): 1}


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SURVEY_START_CODE_MAX_FAILURES", "0"),
        ("SURVEY_START_CODE_MAX_FAILURES", "ten"),
        ("SURVEY_FLOOD_MESSAGES", "2"),
        ("SURVEY_FLOOD_WINDOW_SECONDS", "0"),
        ("SURVEY_FLOOD_WINDOW_SECONDS", "-1"),
        ("OFFICIALS_REGISTER_MAX_ATTEMPTS", "0"),
        ("OFFICIALS_REGISTER_MAX_ATTEMPTS", "²"),
    ],
)
def test_wrong_limits_stop_start_up_naming_the_variable(monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as refused:
        load_settings()
    assert variable in str(refused.value)
