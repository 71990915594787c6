"""The Zalo Bot channel end to end: the real adapter, real HTTP to a fake Zalo, both databases."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
import pytest
from sqlalchemy import text as text_sql

from bot import metrics
from bot.channels.zalo_bot import CHANNEL, parse_update
from bot.database import Database
from bot.models import ProcessedUpdate
from bot.zalo.bot_api import ZaloBotApi, ZaloBotError
from bot.zalo.text import split_text
from handlers.messages import InboundKind, Outbound
from handlers.survey.store import SurveyStore
from tests.bot.channels.zalo_harness import (
    BOT_SECRET,
    Q2017,
    THANKS,
    asked,
    bot_settings,
    count_rows,
    make_settings,
    nothing_stored,
    own_records,
    plan,
    production_logging,
    prompt,
    running,
    stored_responses,
    typed,
)
from tests.builders import TRANSLATOR, make_code, seed_catalog
from tests.fakes.zalo_bot import TOKEN, FakeZaloBot

# -- translating updates (no database) -------------------------------------------------------


def test_text_update_bare_or_wrapped_gives_the_same_inbound():
    update = FakeZaloBot.text_update("c1", "4", message_id="m77")
    bare, wrapped = parse_update(update), parse_update({"ok": True, "result": update})
    assert bare == wrapped
    assert (bare.channel, bare.chat_key, bare.kind, bare.text) == (
        "zalo_bot",
        "c1",
        InboundKind.TEXT,
        "4",
    )
    assert bare.update_key == "zalo_bot:message.text.received:m77"


@pytest.mark.parametrize(
    "event", ["message.sticker.received", "message.image.received", "message.unsupported.received"]
)
def test_stickers_and_images_are_other(event):
    update = FakeZaloBot.text_update("c1", "ignored")
    update["event_name"] = event
    inbound = parse_update(update)
    assert inbound.kind is InboundKind.OTHER and inbound.text == ""
    assert inbound.update_key.startswith(f"zalo_bot:{event}:")


def test_what_is_not_a_users_message_is_ignored():
    from_bot = FakeZaloBot.text_update("c1", "hi")
    from_bot["message"]["from"]["is_bot"] = True
    assert parse_update(from_bot) is None
    assert parse_update({"event_name": "bot.added", "message": {}}) is None
    assert parse_update({"ok": True, "result": None}) is None
    assert parse_update(["not", "a", "dict"]) is None
    no_chat = FakeZaloBot.text_update("c1", "hi")
    del no_chat["message"]["chat"], no_chat["message"]["from"]
    assert parse_update(no_chat) is None


def test_an_update_without_message_id_is_still_deduplicated_by_content():
    update = FakeZaloBot.text_update("c1", "hi")
    del update["message"]["message_id"]
    first, again = parse_update(update), parse_update(dict(update))
    assert first.update_key == again.update_key and first.update_key.startswith("zalo_bot:sha256:")
    other = FakeZaloBot.text_update("c1", "ho")
    del other["message"]["message_id"]
    assert parse_update(other).update_key != first.update_key


def test_long_text_is_split_at_line_ends():
    lines = [f"{n}. {'lựa chọn ' * 12}".strip() for n in range(60)]
    text = "\n".join(lines)
    pieces = split_text(text, 2000)
    assert len(text) > 4000 and len(pieces) >= 3
    assert all(0 < len(piece) <= 2000 for piece in pieces)
    assert "\n".join(pieces) == text  # nothing lost, no line cut
    assert all(piece.split("\n")[0] in lines for piece in pieces)


def test_a_single_overlong_line_is_cut_at_spaces():
    line = " ".join(["chữ"] * 1500)  # 5,999 characters, no line break
    pieces = split_text(line, 2000)
    assert all(len(piece) <= 2000 for piece in pieces)
    assert " ".join(pieces) == line
    assert split_text("   \n  ", 2000) == []


# -- end to end --------------------------------------------------------------------------------


class Citizen:
    """A Zalo user talking to the bot through the fake, by polling or webhook."""

    def __init__(self, fake: FakeZaloBot, chat_id: str, webhook: bool):
        self.fake, self.chat_id, self.webhook = fake, chat_id, webhook
        self.cursor = 0

    async def send(self, update: dict) -> None:
        if self.webhook:
            assert await self.fake.post_webhook(update) == 200
        else:
            self.fake.updates.put_nowait(update)

    async def say(self, text: str, expect: str) -> str:
        await self.send(self.fake.text_update(self.chat_id, text))
        return await self.expect(expect)

    async def expect(self, needle: str) -> str:
        index = await self.fake.wait_for(self.chat_id, self.cursor, needle)
        self.cursor = index + 1
        return self.fake.sent[self.chat_id][index]


async def complete_survey_with_bad_input(citizen: Citizen, code: str) -> dict:
    answers = plan(gate=1)
    first = await citizen.say(f" {code.lower()} ", prompt(0))  # the receipt's code, typed
    assert "   5. Rất hài lòng" in first  # options as numbered lines, no buttons
    order = asked(answers)
    for position, index in enumerate(order):
        question = Q2017.questions[index]
        if position == 0:
            await citizen.send(citizen.fake.sticker_update(citizen.chat_id))
            await citizen.expect(prompt(index))
        elif position == 2:
            await citizen.say("xyz", prompt(index))
        elif position == 4:
            await citizen.say("9", prompt(index))
        following = prompt(order[position + 1]) if position + 1 < len(order) else THANKS
        await citizen.say(typed(question, answers[question.id]), following)
    return answers


@pytest.mark.parametrize("mode", ["polling", "webhook"])
async def test_citizen_completes_the_survey(database: Database, mode: str):
    catalog = await seed_catalog(database)
    code = await make_code(database, catalog)
    async with FakeZaloBot() as fake:
        settings = make_settings(database, bot=bot_settings(fake, mode))
        async with running(database, settings):
            if mode == "webhook":
                assert fake.webhook == {
                    "url": f"{settings.public_base_url}/zalo-bot/webhook",
                    "secret_token": BOT_SECRET,
                }
            else:
                assert "deleteWebhook" in fake.calls
            citizen = Citizen(fake, "5550001", webhook=mode == "webhook")
            answers = await complete_survey_with_bad_input(citizen, code)
    assert TRANSLATOR("vi", "remind_unreadable") in "\n".join(fake.sent["5550001"])
    [response] = await stored_responses(database)
    assert response == {"channel": "zalo_bot", "answers": answers}


async def test_forged_or_missing_secret_is_rejected_and_nothing_stored(database: Database):
    await seed_catalog(database)
    async with FakeZaloBot() as fake:
        settings = make_settings(database, bot=bot_settings(fake, "webhook"))
        async with running(database, settings) as bot:
            before = metrics.value("zalo_bot_webhook_rejected_total")
            update = fake.text_update("5550002", "/start")
            assert await fake.post_webhook(update, secret="not-the-secret-at-all") == 403
            assert await fake.post_webhook(update, secret=BOT_SECRET[:-1]) == 403
            assert await fake.post_webhook(update, secret="") == 403
            assert metrics.value("zalo_bot_webhook_rejected_total") == before + 3
            await bot.bot.delivery.drain()  # no reply under way either
            assert fake.sent["5550002"] == []
            assert await nothing_stored(database)
            assert await fake.post_webhook(update) == 200  # the same update, properly sent
            await fake.wait_for("5550002", 0, TRANSLATOR("vi", "welcome").splitlines()[0])


@pytest.mark.parametrize("mode", ["polling", "webhook"])
async def test_duplicate_delivery_is_applied_once(database: Database, mode: str):
    catalog = await seed_catalog(database)
    code = await make_code(database, catalog)
    async with FakeZaloBot() as fake:
        settings = make_settings(database, bot=bot_settings(fake, mode))
        async with running(database, settings):
            citizen = Citizen(fake, "5550003", webhook=mode == "webhook")
            await citizen.say(code, prompt(0))
            answer = fake.text_update("5550003", "5", message_id="dup-1")
            await citizen.send(answer)
            await citizen.expect(prompt(1))
            sent = len(fake.sent["5550003"])
            if mode == "webhook":  # Zalo retries, once bare and once wrapped
                assert await fake.post_webhook(answer, wrap=True) == 200
            else:
                await citizen.send(answer)
            await citizen.say("4", prompt(2))  # a later message is still answered
            assert len(fake.sent["5550003"]) == sent + 1
    assert await count_rows(database, ProcessedUpdate) == 3


async def test_long_reply_is_sent_in_pieces_under_the_limit(database: Database):
    async with FakeZaloBot() as fake:
        settings = make_settings(database, bot=bot_settings(fake, "webhook"))
        async with running(database, settings) as bot:
            text = "\n".join(f"Dòng {n}: " + "nội dung " * 20 for n in range(40))
            await bot.bot.send("5550004", [Outbound(text)])
    pieces = fake.sent["5550004"]
    assert len(pieces) == len(split_text(text)) > 1
    assert "\n".join(pieces) == text


async def test_a_lost_reply_is_sent_again_at_the_next_start(database: Database):
    catalog = await seed_catalog(database)
    code = await make_code(database, catalog)
    async with FakeZaloBot() as fake:
        settings = make_settings(database, bot=bot_settings(fake, "webhook"))
        async with running(database, settings) as bot:
            citizen = Citizen(fake, "5550005", webhook=True)
            await citizen.say(code, prompt(0))
            fake.fail_sends, fake.fail_status = 1, 403  # a refusal: not retried
            assert await fake.post_webhook(fake.text_update("5550005", "5")) == 200
            await bot.bot.delivery.drain()  # the delivery ended (no retry under way)
            assert not any(prompt(1) in text for text in fake.sent["5550005"])
        async with running(database, settings):  # a restart
            await citizen.expect(prompt(1))


async def test_no_token_or_secret_in_logs_at_debug(database: Database, caplog):
    catalog = await seed_catalog(database)
    code = await make_code(database, catalog)
    async with FakeZaloBot() as fake:
        settings = make_settings(database, bot=bot_settings(fake, "webhook"))
        with production_logging(settings, caplog.handler) as output:
            assert logging.getLogger().getEffectiveLevel() == logging.DEBUG
            async with running(database, settings) as bot:
                citizen = Citizen(fake, "5550006", webhook=True)
                await citizen.say(code, prompt(0))
                update = fake.text_update("5550006", "5")
                assert await fake.post_webhook(update, secret="wrong!!!") == 403
                fake.fail_sends = 1
                assert await fake.post_webhook(update) == 200
                await bot.bot.delivery.drain()  # the failed send and its retry
            # A server that is not there: aiohttp's errors would name the URL, token included.
            async with FakeZaloBot() as gone:
                port = gone.port
            async with aiohttp.ClientSession() as http:
                api = ZaloBotApi(http, f"http://127.0.0.1:{port}/bot", TOKEN)
                with pytest.raises(ZaloBotError) as failure:
                    await api.send_message("5550006", "hello")
                logging.getLogger("bot.test").warning("send failed: %s", failure.value)
    logged = output.getvalue()
    assert "a reply failed (ZaloBotError); again in 0.5 s" in logged
    assert "send failed: Zalo Bot API sendMessage failed" in logged
    for secret in (TOKEN, BOT_SECRET, TOKEN.split(":")[1]):
        assert secret not in logged
        assert secret not in own_records(caplog)


def test_channel_name_is_the_response_channel_kind():
    assert CHANNEL == "zalo_bot"


class EagerZalo(FakeZaloBot):
    """Zalo delivering a waiting message the moment the webhook is registered."""

    def __init__(self, waiting: dict):
        super().__init__()
        self.waiting = waiting
        self.first_status: int | None = None

    async def _m_setWebhook(self, body: dict):
        answer = await super()._m_setWebhook(body)
        if self.webhook is not None and self.first_status is None:
            self.first_status = await self.post_webhook(self.waiting)
        return answer


async def test_the_webhook_is_registered_only_once_updates_are_accepted(database: Database):
    catalog = await seed_catalog(database)
    code = await make_code(database, catalog)
    async with EagerZalo(FakeZaloBot.text_update("5550031", code)) as fake:
        settings = make_settings(database, bot=bot_settings(fake, "webhook"))
        async with running(database, settings):
            assert fake.first_status == 200  # not 503: the citizen's first message is taken
            await fake.wait_for("5550031", 0, prompt(0))
    assert fake.calls.index("getMe") < fake.calls.index("setWebhook")


async def test_questions_say_type_the_number_never_press_a_button(database: Database):
    """Zalo Bot has no buttons: every question tells the citizen to type, never to press."""
    catalog = await seed_catalog(database)
    code = await make_code(database, catalog)
    async with FakeZaloBot() as fake:
        settings = make_settings(database, bot=bot_settings(fake))
        async with running(database, settings):
            await complete_survey_with_bad_input(Citizen(fake, "5550041", webhook=False), code)
    questions = [text for text in fake.sent["5550041"] if text.startswith("Câu ")]
    assert len(questions) >= len(Q2017.questions) - 1
    assert not any("Bấm" in text or "bấm" in text for text in questions)
    assert all("Gõ số" in text for text in questions if "\n   1. " in text)
    first = next(text for text in questions if text.startswith(prompt(0)))
    assert 'gõ "Không ý kiến"' in first and "\n   Không ý kiến" in first


# -- a failed send is retried; an answer to an unseen question is refused -------------------


async def test_a_send_that_fails_once_is_retried_and_the_answers_are_the_given_ones(
    database: Database,
):
    """The fake answers 500 to one sendMessage: the next question still arrives soon."""
    catalog = await seed_catalog(database)
    code = await make_code(database, catalog)
    async with FakeZaloBot() as fake:
        settings = make_settings(database, bot=bot_settings(fake, "webhook"))
        async with running(database, settings) as bot:
            citizen = Citizen(fake, "5550007", webhook=True)
            answers = plan(gate=1)
            order = asked(answers)
            await citizen.say(code, prompt(order[0]))
            waits = []
            for position, index in enumerate(order):
                question = Q2017.questions[index]
                following = prompt(order[position + 1]) if position + 1 < len(order) else THANKS
                if position == 3:
                    fake.fail_sends = 1  # the reply carrying the next question fails once
                started = asyncio.get_running_loop().time()
                await citizen.say(typed(question, answers[question.id]), following)
                waits.append(asyncio.get_running_loop().time() - started)
            await bot.bot.delivery.drain()
            await bot.bot.delivery.flush()
            assert await bot.processor.pending_replies("zalo_bot") == []
    stored = await stored_responses(database)
    print(
        f"\nZalo Bot, one send failed: question arrived after {waits[3]:.2f} s "
        f"(others at most {max(waits[:3] + waits[4:]):.2f} s); "
        f"stored == given: {stored == [{'channel': 'zalo_bot', 'answers': answers}]} "
        f"({len(answers)} answers)"
    )
    assert 0.5 <= waits[3] < 5
    assert stored == [{"channel": "zalo_bot", "answers": answers}]


async def test_an_answer_typed_before_the_question_arrived_is_refused(database: Database):
    """The send keeps failing; the citizen retypes the previous answer: not stored,
    the question is sent again with a line saying why."""
    catalog = await seed_catalog(database)
    code = await make_code(database, catalog)
    async with FakeZaloBot() as fake:
        settings = make_settings(database, bot=bot_settings(fake, "webhook"))
        async with running(database, settings):
            citizen = Citizen(fake, "5550008", webhook=True)
            await citizen.say(code, prompt(0))
            fake.fail_sends = 2  # question 2 does not get through for about 1.5 s
            assert await fake.post_webhook(fake.text_update("5550008", "5")) == 200
            await asyncio.sleep(0.2)
            assert not any(prompt(1) in text for text in fake.sent["5550008"])
            # The citizen, seeing nothing, retypes the answer to question 1.
            refused = await citizen.say("5", TRANSLATOR("vi", "question_not_shown"))
            assert prompt(1) in refused or await citizen.expect(prompt(1))
            async with database.transaction() as session:
                [chat_id] = (await session.execute(text_sql("select id from chats"))).one()
                survey = await SurveyStore(session).active_session(chat_id)
                assert survey is not None and survey.step == 1
                assert survey.answers == {Q2017.questions[0].id: 5}  # not stored for Q2
            await citizen.say("3", prompt(2))  # once shown, an answer counts
            async with database.transaction() as session:
                survey = await SurveyStore(session).active_session(chat_id)
                assert survey.answers == {
                    Q2017.questions[0].id: 5,
                    Q2017.questions[1].id: 3,
                }
