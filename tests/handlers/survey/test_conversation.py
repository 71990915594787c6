"""The survey conversation end to end through the real inbound path, on both databases."""

from __future__ import annotations

import asyncio
from datetime import datetime

from sqlalchemy import func, inspect, select

from bot.database import Database
from bot.models import (
    PooledResponse,
    Response,
    ResponseAnswer,
    StartCode,
    SurveyFunnel,
    SurveySession,
)
from handlers.messages import Inbound, InboundKind
from tests.builders import (
    QUESTIONNAIRES,
    TRANSLATOR,
    ZONE,
    Citizen,
    FakeClock,
    make_code,
    make_processor,
    publish_held,
    seed_catalog,
)

Q2017 = QUESTIONNAIRES["sipas-2017"]
CRITERIA_F1_F4 = [q.id for q in Q2017.questions if q.factor in ("F1", "F2", "F3", "F4")]
F5 = [q.id for q in Q2017.criteria("F5")]
PROFILE = ["gender", "age_band", "education", "occupation", "ethnicity"]


async def stored_responses(database: Database) -> list[dict]:
    """The stored responses once the held ones are published (as on the next day)."""
    await publish_held(database)
    async with database.transaction() as session:
        responses = (await session.scalars(select(Response).order_by(Response.id))).all()
        result = []
        for response in responses:
            answers = await session.scalars(
                select(ResponseAnswer).where(ResponseAnswer.response_id == response.id)
            )
            result.append(
                {
                    "agency_id": response.agency_id,
                    "service_id": response.service_id,
                    "channel": response.channel_kind,
                    "date": response.response_date,
                    "answers": {a.item_id: a.value if a.text is None else a.text for a in answers},
                }
            )
        return result


async def funnel(database: Database) -> list[tuple]:
    """(phase, step, outcome, sessions) of every funnel row."""
    async with database.transaction() as session:
        rows = await session.execute(
            select(
                SurveyFunnel.phase, SurveyFunnel.step, SurveyFunnel.outcome, SurveyFunnel.sessions
            ).order_by(SurveyFunnel.outcome, SurveyFunnel.step)
        )
        return [tuple(row) for row in rows]


async def session_count(database: Database) -> int:
    async with database.transaction() as session:
        return await session.scalar(select(func.count()).select_from(SurveySession))


async def active_session(database: Database) -> SurveySession | None:
    async with database.transaction() as session:
        return await session.scalar(select(SurveySession).where(SurveySession.status == "active"))


def plan(gate: int) -> dict[str, int | str]:
    """A full set of answers: every Likert level and no-opinion appear, the gate as given."""
    answers: dict[str, int | str] = {
        qid: [5, 4, 3, 2, 1, 0][index % 6] for index, qid in enumerate(CRITERIA_F1_F4)
    }
    answers["feedback_given"] = gate
    if gate == 1:
        answers.update(dict(zip(F5, [4, 5, 2, 0], strict=True)))
    answers.update({"gender": 2, "age_band": 5, "education": 3, "occupation": 1, "ethnicity": 1})
    answers["suggestion"] = "Cần thêm ghế ngồi chờ ở bộ phận một cửa."
    return answers


async def answer_all_by_buttons(citizen: Citizen, answers: dict[str, int | str]) -> None:
    for question in Q2017.questions:
        if question.id not in answers:
            continue
        value = answers[question.id]
        if isinstance(value, str):
            await citizen.say(value)
        else:
            await citizen.tap(value)


async def test_full_survey_by_buttons_stores_exactly_the_answers(database: Database):
    catalog = await seed_catalog(database)
    code = await make_code(database, catalog)
    citizen = Citizen(make_processor(database))
    replies = await citizen.say(f"/start {code}")
    assert TRANSLATOR("vi", "privacy") in replies[0].text
    assert "Câu 1/29" in citizen.last.text
    answers = plan(gate=1)
    await answer_all_by_buttons(citizen, answers)
    assert citizen.last.text == TRANSLATOR("vi", "thanks")
    [response] = await stored_responses(database)
    assert response["answers"] == answers
    assert (response["agency_id"], response["service_id"]) == (
        catalog.agency_id,
        catalog.service_id,
    )
    assert response["channel"] == "telegram"
    assert await active_session(database) is None


async def test_gate_no_skips_factor_five(database: Database):
    catalog = await seed_catalog(database)
    citizen = Citizen(make_processor(database))
    await citizen.say(f"/start {await make_code(database, catalog)}")
    answers = plan(gate=2)
    for qid in CRITERIA_F1_F4:
        await citizen.tap(answers[qid])
    await citizen.say("không")  # the gate, typed
    assert "Câu 20/25" in citizen.last.text  # straight to the profile, F5 no longer counted
    for qid in PROFILE:
        await citizen.tap(answers[qid])
    await citizen.say("/skip")  # the optional suggestion
    [response] = await stored_responses(database)
    assert not set(F5) & set(response["answers"])
    assert "suggestion" not in response["answers"]
    assert response["answers"]["feedback_given"] == 2


async def test_back_revises_the_previous_answer(database: Database):
    catalog = await seed_catalog(database)
    citizen = Citizen(make_processor(database))
    await citizen.say(f"/start {await make_code(database, catalog)}")
    await citizen.say("5")
    await citizen.say("hai long")
    await citizen.say("/back")
    assert "Câu 2/29" in citizen.last.text
    await citizen.say("khong hai long")
    session = await active_session(database)
    assert session.answers == {"F1.1": 5, "F1.2": 2}
    assert session.step == 2


async def test_language_switch_changes_texts_not_answers(database: Database):
    catalog = await seed_catalog(database)
    citizen = Citizen(make_processor(database))
    await citizen.say(f"/start {await make_code(database, catalog)}")
    await citizen.say("4")
    await citizen.say("/lang en")
    assert citizen.replies[0].text == TRANSLATOR("en", "lang_set")
    assert Q2017.questions[1].text["en"] in citizen.last.text
    assert "Question 2/29" in citizen.last.text
    await citizen.say("very satisfied")
    assert (await active_session(database)).answers == {"F1.1": 4, "F1.2": 5}
    await citizen.say("/lang vi")
    assert Q2017.questions[2].text["vi"] in citizen.last.text


async def test_resume_after_process_state_is_dropped(database: Database, migrated_database):
    catalog = await seed_catalog(database)
    clock = FakeClock()
    first = Citizen(make_processor(database, clock))
    await first.say(f"/start {await make_code(database, catalog)}")
    for value in (5, 4, 3):
        await first.say(str(value))
    # A new process: new engine, new processor, nothing kept in memory.
    restarted = Database(migrated_database.url)
    try:
        clock.advance(hours=20)
        second = Citizen(make_processor(restarted, clock))
        await second.say("2")
        assert "Câu 5/29" in second.last.text
        assert (await active_session(restarted)).answers == {
            "F1.1": 5,
            "F1.2": 4,
            "F1.3": 3,
            "F1.4": 2,
        }
    finally:
        await restarted.dispose()


async def test_unconfirmed_reply_is_sent_again_after_restart(database: Database):
    catalog = await seed_catalog(database)
    processor = make_processor(database)
    citizen = Citizen(processor)
    await citizen.say(f"/start {await make_code(database, catalog)}")
    await citizen.say("5")
    assert await processor.pending_replies("telegram") == []
    # The next answer is committed but the process dies before its reply is delivered.
    await processor.process(Inbound("telegram", "1001", InboundKind.TEXT, "4", "telegram:lost"))
    [pending] = await make_processor(database).pending_replies("telegram")
    assert pending.chat_key == "1001"
    # What the answer's commit stored, as it was: the question now current, nothing more.
    assert len(pending.replies) == 1 and "Câu 3/29" in pending.replies[0].text
    assert await make_processor(database).pending_replies("zalo_bot") == []


async def test_a_press_on_the_current_question_counts_before_its_delivery_is_known(
    database: Database,
):
    """After a crash nobody knows the question arrived; its own button proves it did."""
    catalog = await seed_catalog(database)
    processor = make_processor(database)
    citizen = Citizen(processor)
    await citizen.say(f"/start {await make_code(database, catalog)}")
    second = (await citizen.press(citizen.button(5)))[-1]  # confirmed: question 2 shown

    def press(payload: str, key: str) -> Inbound:
        return Inbound("telegram", "1001", InboundKind.BUTTON, payload, key)

    older = next(c.payload for c in second.choices if c.payload.endswith(".3"))
    replies = await processor.process(press(citizen.button(4), "telegram:p1"))  # unconfirmed
    third = replies[-1]
    assert third.text.startswith("Câu 3/29")
    # Question 2's button again (a double tap): stale, and said so, not "not shown".
    refused = await processor.process(press(older, "telegram:p2"))
    assert refused[0].text == TRANSLATOR("vi", "stale_button")
    assert refused[-1].text.startswith("Câu 3/29")
    assert (await active_session(database)).answers == {"F1.1": 5, "F1.2": 4}
    current = next(c.payload for c in third.choices if c.payload.endswith(".2"))
    counted = await processor.process(press(current, "telegram:p3"))
    assert counted[-1].text.startswith("Câu 4/29")
    assert (await active_session(database)).answers == {"F1.1": 5, "F1.2": 4, "F1.3": 2}


async def test_redelivered_update_is_applied_once(database: Database):
    catalog = await seed_catalog(database)
    citizen = Citizen(make_processor(database))
    await citizen.say(f"/start {await make_code(database, catalog)}")
    first = await citizen.say("5", update_key="telegram:777")
    again = await citizen.say("1", update_key="telegram:777")
    assert first and again == []
    session = await active_session(database)
    assert session.answers == {"F1.1": 5}
    assert session.step == 1


async def test_concurrent_messages_of_one_chat_are_serialised(
    database: Database, migrated_database
):
    catalog = await seed_catalog(database)
    citizen = Citizen(make_processor(database))
    await citizen.say(f"/start {await make_code(database, catalog)}")
    # Two processes, each with its own engine, receive the chat's next two answers at once.
    others = [Database(migrated_database.url) for _ in range(2)]
    try:
        from handlers.messages import Inbound, InboundKind

        results = await asyncio.gather(
            *(
                make_processor(db).process(
                    Inbound("telegram", "1001", InboundKind.TEXT, text, f"k{i}")
                )
                for i, (db, text) in enumerate(zip(others, ["5", "4"], strict=True))
            )
        )
    finally:
        for db in others:
            await db.dispose()
    # One after the other: the first answers question 1; the second came before question
    # 2 was sent (nothing confirmed it), so it is refused and question 2 asked again.
    session = await active_session(database)
    assert session.step == 1
    assert list(session.answers) == ["F1.1"] and session.answers["F1.1"] in (4, 5)
    refused = TRANSLATOR("vi", "question_not_shown")
    assert sum(any(reply.text == refused for reply in replies) for replies in results) == 1
    prompts = [r.text.splitlines()[0] for replies in results for r in replies if r.choices]
    assert prompts == ["Câu 2/29", "Câu 2/29"]


async def test_idle_session_expires_into_a_count(database: Database):
    catalog = await seed_catalog(database)
    clock = FakeClock()
    processor = make_processor(database, clock)
    citizen = Citizen(processor)
    await citizen.say(f"/start {await make_code(database, catalog)}")
    await citizen.say("5")
    clock.advance(days=3, hours=1)
    assert await processor.expire_idle() == 1
    assert await session_count(database) == 0  # the row, its answers and its chat link: gone
    assert await funnel(database) == [("questions", 1, "expired", 1)]
    async with database.transaction() as session:
        (day,) = (await session.scalars(select(SurveyFunnel.day))).all()
    assert day == FakeClock().now.astimezone(ZONE).date()  # the day of the last answer
    assert await processor.expire_idle() == 0
    assert await stored_responses(database) == []


async def test_idle_session_found_by_the_next_message_is_closed(database: Database):
    catalog = await seed_catalog(database)
    clock = FakeClock()
    citizen = Citizen(make_processor(database, clock))
    await citizen.say(f"/start {await make_code(database, catalog)}")
    clock.advance(days=4)
    await citizen.say("5")
    assert citizen.replies[0].text == TRANSLATOR("vi", "expired")
    assert await active_session(database) is not None  # a fresh start, not the old survey
    assert (await active_session(database)).phase == "agency"
    assert await session_count(database) == 1
    assert await funnel(database) == [("questions", 0, "expired", 1)]


async def test_stale_buttons_change_nothing(database: Database):
    catalog = await seed_catalog(database)
    citizen = Citizen(make_processor(database))
    await citizen.say(f"/start {await make_code(database, catalog, single_use=False)}")
    first_question_button = citizen.button(5)
    await citizen.tap(4)
    await citizen.press(first_question_button)
    assert TRANSLATOR("vi", "stale_button") in citizen.text()
    assert (await active_session(database)).answers == {"F1.1": 4}
    # A button of an earlier survey (another nonce) changes nothing either.
    await citizen.say("/cancel")
    await citizen.say(f"/start {catalog.agency_code}")  # not a code: falls to the agency search
    await citizen.press(first_question_button)
    assert TRANSLATOR("vi", "stale_button") in citizen.text()
    # A forged payload is treated the same way.
    await citizen.press("a.zzzz.0.9")
    await citizen.press("ridiculous")
    assert await stored_responses(database) == []


async def test_unreadable_input_gets_a_reminder_and_the_same_question(database: Database):
    catalog = await seed_catalog(database)
    citizen = Citizen(make_processor(database))
    await citizen.say(f"/start {await make_code(database, catalog)}")
    await citizen.say("4")
    for send in (
        citizen.send_sticker(),
        citizen.say(""),
        citizen.say("x" * 5000),
        citizen.say("👍🏽"),
    ):
        replies = await send
        assert "Câu 2/29" in replies[-1].text
        assert len(replies) == 2
    assert await citizen.say("/skip")
    assert TRANSLATOR("vi", "skip_not_allowed") in citizen.text()
    assert (await active_session(database)).answers == {"F1.1": 4}


async def test_single_use_code_gives_one_response(database: Database):
    catalog = await seed_catalog(database)
    code = await make_code(database, catalog)
    processor = make_processor(database)
    first = Citizen(processor, chat_key="1")
    second = Citizen(processor, chat_key="2")
    await first.say(code.lower())  # typed as a message, as on Zalo, in any case
    await second.say(f"/start {code}")
    answers = plan(gate=2)
    await answer_all_by_buttons(first, answers)
    await answer_all_by_buttons(second, answers)
    assert first.last.text == TRANSLATOR("vi", "thanks")
    assert second.last.text == TRANSLATOR("vi", "code_used")
    assert len(await stored_responses(database)) == 1
    await Citizen(processor, chat_key="3").say(code)
    async with database.transaction() as session:
        used_at = (await session.get(StartCode, code)).used_at
    # Only the day is kept: the start of the local day of the completion.
    today = FakeClock().now.astimezone(ZONE).date()
    assert used_at == datetime(today.year, today.month, today.day, tzinfo=ZONE)
    assert ("questions", 28, "refused", 1) in await funnel(database)


async def test_reusable_code_allows_one_response_per_chat_and_day(database: Database):
    catalog = await seed_catalog(database)
    code = await make_code(database, catalog, single_use=False)
    clock = FakeClock()
    processor = make_processor(database, clock)
    citizen = Citizen(processor)
    await citizen.say(f"/start {code}")
    await answer_all_by_buttons(citizen, plan(gate=2))
    await citizen.say(f"/start {code}")
    assert citizen.last.text == TRANSLATOR("vi", "already_answered")
    await Citizen(processor, chat_key="other").say(f"/start {code}")  # another person may
    clock.advance(days=1)
    await citizen.say(f"/start {code}")
    await answer_all_by_buttons(citizen, plan(gate=2))
    assert len(await stored_responses(database)) == 2


async def test_choosing_agency_and_service_without_a_code(database: Database):
    catalog = await seed_catalog(database)
    citizen = Citizen(make_processor(database))
    await citizen.say("/start")
    assert TRANSLATOR("vi", "welcome") in citizen.text()
    await citizen.say("so tu phap")  # no accents; the merged-away agency is not offered
    assert "Sở Tư pháp tỉnh Đồng Nai" in citizen.last.text  # the only match: chosen
    assert [c.label for c in citizen.last.choices] == ["1. Cấp phiếu lý lịch tư pháp"]
    await citizen.say("/back")
    await citizen.say("Ha Noi")
    assert citizen.last.text == TRANSLATOR("vi", "agency_not_found", query="Ha Noi")
    await citizen.say("a")  # both agencies in force match
    labels = [choice.label for choice in citizen.last.choices]
    assert labels == ["1. Sở Tư pháp tỉnh Đồng Nai", "2. UBND xã Tân Lợi"]
    await citizen.say("2")
    labels = {choice.label.split(". ", 1)[1] for choice in citizen.last.choices}
    assert labels == {"Đăng ký khai sinh", "Đăng ký kết hôn"}
    await citizen.say("khai sinh")  # typed: the only match is chosen
    assert "Câu 1/29" in citizen.last.text
    await answer_all_by_buttons(citizen, plan(gate=2))
    [response] = await stored_responses(database)
    assert (response["agency_id"], response["service_id"]) == (
        catalog.agency_id,
        catalog.service_id,
    )


async def test_cancel_drops_the_unfinished_answers(database: Database):
    catalog = await seed_catalog(database)
    citizen = Citizen(make_processor(database))
    await citizen.say(f"/start {await make_code(database, catalog)}")
    await citizen.say("5")
    await citizen.say("/cancel")
    assert citizen.last.text == TRANSLATOR("vi", "cancelled")
    assert await session_count(database) == 0
    assert await funnel(database) == [("questions", 1, "cancelled", 1)]
    await citizen.say("/cancel")
    assert citizen.last.text == TRANSLATOR("vi", "nothing_to_cancel")


async def test_response_tables_hold_nothing_that_identifies_the_citizen(database: Database):
    catalog = await seed_catalog(database)
    citizen = Citizen(make_processor(database), chat_key="987654321")
    await citizen.say(f"/start {await make_code(database, catalog)}")
    await answer_all_by_buttons(citizen, plan(gate=1))

    def describe(connection):
        inspector = inspect(connection)
        return {
            table: (
                [column["name"] for column in inspector.get_columns(table)],
                [fk["referred_table"] for fk in inspector.get_foreign_keys(table)],
            )
            for table in ("responses", "response_answers", "response_pool", "survey_funnel")
        }

    async with database.engine.connect() as connection:
        tables = await connection.run_sync(describe)
    for columns, referred in tables.values():
        assert not {
            "chat_id",
            "chat_key",
            "session_id",
            "start_code",
            "dossier_id",
            "user_id",
        } & set(columns)
        assert set(referred) <= {"agencies", "services", "responses"}
    async with database.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(PooledResponse)) == 1
        assert await session.scalar(select(func.count()).select_from(Response)) == 0
        assert await session.scalar(select(SurveySession)) is None
    assert await funnel(database) == [("questions", 28, "completed", 1)]
    assert await publish_held(database) == 1
    async with database.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(PooledResponse)) == 0
        stored_text = " ".join(
            str(value) for value in (await session.execute(select(ResponseAnswer.text))).scalars()
        )
        assert "987654321" not in stored_text
        assert await session.scalar(select(func.count()).select_from(Response)) == 1


async def test_old_update_keys_are_forgotten_recent_ones_kept(database: Database):
    catalog = await seed_catalog(database)
    clock = FakeClock()
    processor = make_processor(database, clock)
    citizen = Citizen(processor)
    await citizen.say(f"/start {await make_code(database, catalog)}", update_key="old")
    clock.advance(days=8)
    await citizen.say("5", update_key="recent")
    assert await processor.forget_old_updates() == 1
    assert await citizen.say("4", update_key="recent") == []  # still recognised


async def test_expiry_counts_each_idle_session_once_and_keeps_the_fresh_one(database: Database):
    catalog = await seed_catalog(database)
    clock = FakeClock()
    processor = make_processor(database, clock)
    for chat_key in ("a", "b"):
        citizen = Citizen(processor, chat_key=chat_key)
        await citizen.say(f"/start {await make_code(database, catalog)}")
        await citizen.say("5")
    await Citizen(processor, chat_key="c").say("/start")  # choosing the agency
    clock.advance(days=3, hours=1)
    fresh = Citizen(processor, chat_key="d")
    await fresh.say(f"/start {await make_code(database, catalog)}")
    assert await processor.expire_idle() == 3
    assert await funnel(database) == [("agency", 0, "expired", 1), ("questions", 1, "expired", 2)]
    assert (await active_session(database)).step == 0  # the fresh one, untouched
    assert await session_count(database) == 1


async def test_progress_counts_the_questions_this_citizen_is_asked(database: Database):
    catalog = await seed_catalog(database)
    citizen = Citizen(make_processor(database))
    replies = await citizen.say(f"/start {await make_code(database, catalog)}")
    intro = next(r.text for r in replies if "29" in r.text and "Câu" not in r.text)
    assert "tối đa 29 câu" in intro  # the gate may take questions out: said honestly
    answers = plan(gate=2)
    for qid in CRITERIA_F1_F4:
        await citizen.tap(answers[qid])
    assert "Câu 19/29" in citizen.last.text  # the gate itself
    await citizen.say("không")
    assert citizen.last.text.startswith("Câu 20/25")
    await citizen.say("/back")  # the gate again: F5 counts until it is answered "no"
    assert citizen.last.text.startswith("Câu 19/29")
    await citizen.say("có")
    assert citizen.last.text.startswith("Câu 20/29")


async def test_typed_skip_words_skip_optional_questions_only(database: Database):
    catalog = await seed_catalog(database)
    citizen = Citizen(make_processor(database))
    await citizen.say(f"/start {await make_code(database, catalog)}")
    await citizen.say("Bỏ qua")  # a required criterion: refused, asked again
    assert TRANSLATOR("vi", "skip_not_allowed") in "\n".join(r.text for r in citizen.replies)
    assert citizen.last.text.startswith("Câu 1/29")
    assert TRANSLATOR("vi", "hint_optional") not in citizen.last.text
    answers = plan(gate=2)
    for qid in CRITERIA_F1_F4:
        await citizen.tap(answers[qid])
    await citizen.say("không")
    for word in ["Bỏ qua", "bo qua", "BỎ QUA", "skip", "/skip"]:  # the five profile questions
        assert TRANSLATOR("vi", "hint_optional") in citizen.last.text
        await citizen.say(word)
    assert TRANSLATOR("vi", "hint_optional") in citizen.last.text  # the suggestion
    await citizen.say("bỏ qua")
    assert citizen.last.text == TRANSLATOR("vi", "thanks")
    [response] = await stored_responses(database)
    assert not set(PROFILE) & set(response["answers"])
    assert "suggestion" not in response["answers"]
