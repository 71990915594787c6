"""Chat text that is not a clean answer: only ASCII digits are numbers, and anything the
bot cannot read is re-asked politely, never an error. Through the real inbound path, on
both databases."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from bot.models import Official, StartCode, SurveySession
from handlers.survey.codes import normalise_code
from tests.builders import TRANSLATOR, Citizen, FakeClock, make_code, make_processor, seed_catalog
from tests.officials_helpers import invite, seed_agencies, vn

ERROR = TRANSLATOR("vi", "internal_error")
UNICODE_NUMBERS = ["²", "٣", "５", "𝟓", "Ⅷ", "½", "2²", "9" * 10_000, "0", "99"]


def t(key: str, **params: object) -> str:
    return TRANSLATOR("vi", key, **params)


async def session_of(database) -> SurveySession | None:
    async with database.transaction() as session:
        return await session.scalar(select(SurveySession).where(SurveySession.status == "active"))


async def test_numbers_in_other_scripts_and_huge_numbers_re_ask_the_agency_menu(database):
    await seed_catalog(database)
    citizen = Citizen(make_processor(database))
    await citizen.say("/start")
    await citizen.say("n")  # two agencies have an "n" in their name
    menu = citizen.last
    assert len(menu.choices) == 2
    for typed in UNICODE_NUMBERS:
        replies = await citizen.say(typed)
        assert [r.text for r in replies] == [t("menu_not_understood"), menu.text], typed
        assert replies[-1].choices == menu.choices
    assert (await session_of(database)).phase == "agency"
    await citizen.say("1.")
    assert "Cơ quan:" in citizen.last.text  # ASCII numbers still pick


async def test_a_code_of_digits_only_is_still_a_code_beside_a_menu(database):
    catalog = await seed_catalog(database)
    async with database.transaction() as session:
        session.add(
            StartCode(
                code="2345678923",
                agency_id=catalog.agency_id,
                service_id=catalog.service_id,
                single_use=True,
                created_at=datetime(2026, 11, 1, tzinfo=UTC),
            )
        )
    citizen = Citizen(make_processor(database))
    await citizen.say("/start")
    await citizen.say("n")
    assert len(citizen.last.choices) == 2
    await citizen.say("2345678923")
    assert "Câu 1/29" in citizen.last.text


async def test_numbers_in_other_scripts_re_ask_the_service_menu(database):
    await seed_catalog(database)
    citizen = Citizen(make_processor(database))
    await citizen.say("/start")
    await citizen.say("ubnd")  # one agency: straight to its services
    menu = citizen.last
    assert len(menu.choices) == 2
    for typed in UNICODE_NUMBERS:
        replies = await citizen.say(typed)
        assert [r.text for r in replies] == [t("menu_not_understood"), menu.text], typed
    assert (await session_of(database)).phase == "service"
    await citizen.say("2")
    assert "Câu 1/29" in citizen.last.text


async def test_forged_and_malformed_buttons_change_nothing(database):
    catalog = await seed_catalog(database)
    citizen = Citizen(make_processor(database))
    await citizen.say(f"/start {await make_code(database, catalog)}")
    nonce = citizen.button(5).split(".")[1]
    question = citizen.last
    forged = [
        f"a.{nonce}.².5",
        f"a.{nonce}.0.²",
        f"a.{nonce}.0.５",
        f"a.{nonce}.0.5.5",  # an extra separator
        f"a.{nonce}.0.5.",
        f"a.{nonce}.{'9' * 5000}.5",
        f"a.{nonce}.0.{'9' * 5000}",
        f"a.{nonce}.-0.5",
        f"a.{nonce}. 0.5",
        f"a.{nonce}.0",
        "a.ffffff.0.5",
        f"g.{nonce}.{'9' * 30}",
        f"v.{nonce}.{catalog.service_id}.1",
        "a",
        "",
        ".",
        "....",
        "\x00",
    ]
    for payload in forged:
        replies = await citizen.press(payload)
        assert [r.text for r in replies] == [t("stale_button"), question.text], payload
    current = await session_of(database)
    assert (current.step, current.answers) == (0, {})
    await citizen.tap(5)
    assert (await session_of(database)).answers == {"F1.1": 5}


async def test_typed_answers_in_other_scripts_are_not_understood(database):
    catalog = await seed_catalog(database)
    citizen = Citizen(make_processor(database))
    await citizen.say(f"/start {await make_code(database, catalog)}")
    for typed in ["５", "٥", "𝟓", "²", "5²", "9" * 10_000, "5.5"]:
        replies = await citizen.say(typed)
        assert replies[0].text == t("remind_likert"), typed
        assert "Câu 1/29" in replies[-1].text
    assert (await session_of(database)).answers == {}
    await citizen.say("5")
    assert (await session_of(database)).answers == {"F1.1": 5}


async def test_unstorable_text_is_not_understood_anywhere(database):
    catalog = await seed_catalog(database)
    citizen = Citizen(make_processor(database))
    # Before any survey, in the agency search, and as a command argument: NUL is text no
    # database stores (PostgreSQL refuses it), so it must never reach a query.
    # A lone surrogate (a JSON escape can carry one) cannot even be encoded as UTF-8.
    for typed in [
        "tu\x00phap",
        "/hoso HS\x00 1234",
        "/scores \x00",
        "/register \x00",
        "tu\ud800phap",
        "/hoso HS-1 \udfff",
        "/start \ud83d",
    ]:
        replies = await citizen.say(typed)
        assert replies[0].text == t("not_understood") or t("not_understood") in replies[1].text
    await citizen.say("/start")
    for typed in ["tu\x00phap", "so tu\ud800 phap"]:
        replies = await citizen.say(typed)
        assert [r.text for r in replies] == [t("not_understood"), t("agency_prompt")]
    # A comment with a NUL or a terminal escape is asked for again, not stored.
    await citizen.say("/cancel")
    await citizen.say(f"/start {await make_code(database, catalog)}")
    async with database.transaction() as session:
        row = await session.scalar(select(SurveySession).where(SurveySession.status == "active"))
        row.step = 28  # the open suggestion
    for comment, reply in [
        ("ghế\x00", "not_understood"),
        ("\x1b[31mđỏ", "remind_text_invalid"),
        ("a\x7fb", "remind_text_invalid"),
    ]:
        replies = await citizen.say(comment)
        assert replies[0].text == t(reply), comment
        assert "Câu 29/29" in replies[-1].text
    assert (await session_of(database)).answers == {}
    await citizen.say("Cần thêm ghế\nvà quạt 👨‍👩‍👧")  # line breaks and emoji are fine
    assert citizen.last.text == t("thanks")


async def official_chat(database, clock: FakeClock) -> Citizen:
    await seed_agencies(database)
    code = await invite(database, "admin", None, now=clock.now)
    chat = Citizen(make_processor(database, clock), "7100")
    assert (await chat.say(f"/register {code}"))[0].text.startswith("Đăng ký thành công")
    return chat


async def test_subscribe_takes_ascii_numbers_only(database):
    clock = FakeClock(vn(2026, 11, 20))
    chat = await official_chat(database, clock)
    usage = t("official_subscribe_usage")
    for wrong in [
        "/subscribe monthly ²",
        "/subscribe monthly ٣",
        "/subscribe monthly ５",
        f"/subscribe monthly {'9' * 10_000}",
        "/subscribe weekly ١٠:٠٠",
        "/subscribe weekly ²:00",
        "/subscribe weekly 8:٠٠",
        "/subscribe monthly 3 ⁸h",
    ]:
        assert [r.text for r in await chat.say(wrong)] == [usage], wrong
    async with database.transaction() as session:
        official = await session.scalar(select(Official))
    assert (official.digest_frequency, official.digest_minute) == ("weekly", 480)
    (reply,) = await chat.say("/subscribe monthly 3 7:05")
    assert reply.text == "Đã đặt lịch bản tin: hằng tháng, ngày 3 lúc 07:05."


async def test_report_periods_take_ascii_years_within_the_sane_window(database):
    clock = FakeClock(vn(2026, 11, 20))
    chat = await official_chat(database, clock)
    for command in ["/scores", "/export"]:
        for period in ["٢٠٢٥", "0001-01-01..9999-12-31", "1999", "2101-Q1", "9999-12"]:
            (reply, *_) = await chat.say(f"{command} {period}")
            assert reply.text == t("official_not_in_scope", code=period), (command, period)
    (reply, *_) = await chat.say("/scores 2026")
    assert reply.text.startswith("Chỉ số hài lòng năm 2026")
    assert all(ERROR not in r.text for r in chat.replies)


def test_only_ascii_can_be_a_start_code():
    assert normalise_code(" nj2sn-853.wk ") == "NJ2SN853WK"
    for typed in ["ſſſſſſſſ", "ＮＪ２ＳＮ８５３ＷＫ", "NJ2SN853WK\n²", "NJ2SN853W٣", "ﬀﬀﬀﬀ"]:
        assert normalise_code(typed) is None, typed
