"""The Zalo OA channel, its tokens and ZNS: the real adapter, real HTTP to a fake, both DBs."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import timedelta

import aiohttp
import pytest
from pydantic import SecretStr
from sqlalchemy import select, update

from bot import metrics
from bot.channels.zalo_oa import OutsideReplyWindow, parse_event, render, signature
from bot.database import Database
from bot.delivery import retry_delays
from bot.models import Chat, ProcessedUpdate, ZaloOAReplyWindow, ZaloOAToken
from bot.settings import ZaloOASettings
from bot.zalo.oa_api import ZaloOAApi, ZaloOAError
from bot.zalo.tokens import TokenUnavailable, ZaloOATokens
from bot.zalo.zns import PhoneNumberError, ZnsClient, ZnsConfigError, normalise_phone
from handlers.messages import Choice, InboundKind, Outbound
from handlers.survey.store import SurveyStore
from tests.bot.channels.zalo_harness import (
    Q2017,
    THANKS,
    asked,
    count_rows,
    make_settings,
    nothing_stored,
    oa_settings,
    own_records,
    plan,
    production_logging,
    prompt,
    running,
    stored_responses,
    typed,
)
from tests.builders import TRANSLATOR, FakeClock, make_code, seed_catalog
from tests.fakes.zalo_oa import (
    APP_ID,
    FIRST_REFRESH_TOKEN,
    OA_SECRET_KEY,
    SECRET_KEY,
    FakeZaloOA,
)

# -- pure translation ------------------------------------------------------------------------


def test_signature_is_sha256_of_app_id_body_timestamp_and_key():
    body = b'{"event_name":"user_send_text"}'
    expected = FakeZaloOA.sign(body, "1700000000000")
    assert signature(APP_ID, body, "1700000000000", OA_SECRET_KEY) == expected
    assert signature(APP_ID, body + b" ", "1700000000000", OA_SECRET_KEY) != expected
    assert signature(APP_ID, body, "1700000000001", OA_SECRET_KEY) != expected


def test_events_become_inbound_messages():
    fake = FakeZaloOA(FakeClock())
    inbound, sent_at = parse_event(fake.event("u1", "hài lòng", msg_id="abc"))
    assert (inbound.channel, inbound.chat_key, inbound.kind, inbound.text) == (
        "zalo_oa",
        "u1",
        InboundKind.TEXT,
        "hài lòng",
    )
    assert inbound.update_key == "zalo_oa:user_send_text:abc"
    assert sent_at == FakeClock().now
    pressed, _ = parse_event(fake.event("u1", "a.1f2e3d.7.4"))
    assert (pressed.kind, pressed.text) == (InboundKind.BUTTON, "a.1f2e3d.7.4")
    sticker, _ = parse_event(fake.event("u1", event_name="user_send_sticker"))
    assert sticker.kind is InboundKind.OTHER
    for ignored in ("follow", "oa_send_text", "user_seen_message"):
        assert parse_event(fake.event("u1", "x", event_name=ignored)) is None


def test_up_to_five_choices_are_buttons_six_or_seven_are_partly_typed_more_are_text():
    def reply(count: int) -> Outbound:
        return Outbound("Câu hỏi", tuple(Choice(f"{n}. L{n}", f"a.ff.0.{n}") for n in range(count)))

    assert render(Outbound("Chào")) == ("Chào", [])
    text, buttons = render(reply(5))
    assert text == "Câu hỏi" and len(buttons) == 5
    text, buttons = render(reply(7))
    assert [b.label for b in buttons] == [f"{n}. L{n}" for n in range(5)]
    assert text.splitlines()[1:] == ["   5. L5", "   6. L6"]
    text, buttons = render(reply(8))
    assert buttons == [] and len(text.splitlines()) == 9


# -- end to end --------------------------------------------------------------------------------


class Citizen:
    """A Zalo user writing to the OA; the fake signs and delivers the events."""

    def __init__(self, fake: FakeZaloOA, url: str, user_id: str):
        self.fake, self.url, self.user_id = fake, url, user_id
        self.cursor = 0

    async def send(self, event: dict) -> None:
        assert await self.fake.deliver(self.url, event) == 200

    async def say(self, text: str, expect: str) -> dict:
        self.fake.clock.advance(seconds=1)  # each message a moment after the last
        await self.send(self.fake.event(self.user_id, text))
        return await self.expect(expect)

    async def expect(self, needle: str) -> dict:
        index = await self.fake.wait_for(self.user_id, self.cursor, needle)
        self.cursor = index + 1
        return self.fake.messages[self.user_id][index]


async def complete_survey(citizen: Citizen, code: str) -> dict:
    answers = plan(gate=1)
    message = await citizen.say(code, prompt(0))
    order = asked(answers)
    for position, index in enumerate(order):
        question = Q2017.questions[index]
        value = answers[question.id]
        assert len(message["buttons"]) <= 5
        if position == 0:
            await citizen.send(citizen.fake.event(citizen.user_id, event_name="user_send_sticker"))
            message = await citizen.expect(prompt(index))
        elif position == 1:
            message = await citizen.say("a.zzzzzz.1.5", prompt(index))  # a forged press
        elif position == 3:
            message = await citizen.say("xyz", prompt(index))
        payloads = {b["payload"].rsplit(".", 1)[1]: b["payload"] for b in message["buttons"]}
        following = prompt(order[position + 1]) if position + 1 < len(order) else THANKS
        if isinstance(value, int) and str(value) in payloads:
            message = await citizen.say(payloads[str(value)], following)  # a button press
        else:
            if value == 0:  # the sixth option is listed to be typed
                assert question.label(0, "vi") in message["text"]
            message = await citizen.say(typed(question, value), following)
    return answers


async def test_citizen_completes_the_survey_with_buttons(database: Database):
    catalog = await seed_catalog(database)
    code = await make_code(database, catalog)
    clock = FakeClock()
    async with FakeZaloOA(clock) as fake:
        settings = make_settings(database, oa=oa_settings(fake))
        async with running(database, settings, clock) as bot:
            citizen = Citizen(fake, bot.oa_webhook, "8800001")
            answers = await complete_survey(citizen, code)
    sent = fake.messages["8800001"]
    assert TRANSLATOR("vi", "stale_button") in "\n".join(m["text"] for m in sent)
    likert = next(m for m in sent if m["text"].startswith(prompt(0)))
    assert [b["title"] for b in likert["buttons"]][0] == "1. Rất không hài lòng"
    assert {b["type"] for b in likert["buttons"]} == {"oa.query.hide"}
    [response] = await stored_responses(database)
    assert response == {"channel": "zalo_oa", "answers": answers}


async def test_forged_signature_is_rejected_and_nothing_stored(database: Database):
    await seed_catalog(database)
    clock = FakeClock()
    async with FakeZaloOA(clock) as fake:
        settings = make_settings(database, oa=oa_settings(fake))
        async with running(database, settings, clock) as bot:
            before = metrics.value("zalo_oa_webhook_rejected_total")
            event = fake.event("8800002", "/start")
            body = json.dumps(event).encode()
            good = fake.sign(body, event["timestamp"])
            forgeries = [
                fake.sign(body, event["timestamp"], key="guessed-key"),
                good.removeprefix("mac="),
                "",
                fake.sign(body, str(int(event["timestamp"]) + 1)),
            ]
            for forged in forgeries:
                assert await fake.deliver(bot.oa_webhook, event, signature=forged) == 401
            tampered = {**event, "message": {**event["message"], "text": "changed"}}
            assert await fake.deliver(bot.oa_webhook, tampered, signature=good) == 401
            other_app = {**event, "app_id": "999"}
            assert await fake.deliver(bot.oa_webhook, other_app) == 401
            async with aiohttp.ClientSession() as http:
                not_json = await http.post(bot.oa_webhook, data=b"{", headers={})
                assert not_json.status == 401
            assert metrics.value("zalo_oa_webhook_rejected_total") == before + 7
            await bot.oa.delivery.drain()  # no reply under way either
            assert fake.messages["8800002"] == []
            assert await nothing_stored(database)
            assert await count_rows(database, ZaloOAReplyWindow) == 0
            assert await fake.deliver(bot.oa_webhook, event) == 200
            await fake.wait_for("8800002", 0, TRANSLATOR("vi", "welcome").splitlines()[0])


async def test_duplicate_delivery_is_applied_once(database: Database):
    catalog = await seed_catalog(database)
    code = await make_code(database, catalog)
    clock = FakeClock()
    async with FakeZaloOA(clock) as fake:
        settings = make_settings(database, oa=oa_settings(fake))
        async with running(database, settings, clock) as bot:
            citizen = Citizen(fake, bot.oa_webhook, "8800003")
            await citizen.say(code, prompt(0))
            answer = fake.event("8800003", "5", msg_id="dup-1")
            await citizen.send(answer)
            await citizen.expect(prompt(1))
            sent = len(fake.messages["8800003"])
            await citizen.send(answer)  # Zalo delivers it again
            await citizen.say("4", prompt(2))
            assert len(fake.messages["8800003"]) == sent + 1
    assert await count_rows(database, ProcessedUpdate) == 3


async def test_replies_outside_the_free_window_are_counted_not_sent(database: Database, caplog):
    catalog = await seed_catalog(database)
    code = await make_code(database, catalog)
    clock = FakeClock()
    async with FakeZaloOA(clock) as fake:
        settings = make_settings(database, oa=oa_settings(fake, reply_window_messages=4))
        async with running(database, settings, clock) as bot:
            before = metrics.value("zalo_oa_outside_window_total")
            citizen = Citizen(fake, bot.oa_webhook, "8800004")
            await citizen.say(code, prompt(0))  # privacy, intro, question: 3 of 4
            with pytest.raises(OutsideReplyWindow):  # 2 more do not fit: none is sent
                await bot.oa.send("8800004", [Outbound("một"), Outbound("hai")])
            assert metrics.value("zalo_oa_outside_window_total") == before + 1
            assert "outside the user's free reply window" in caplog.text
            await bot.oa.send("8800004", [Outbound("một")])  # the 4th still fits
            await citizen.say("5", prompt(1))  # a new message opens a new window
            clock.advance(hours=49)
            with pytest.raises(OutsideReplyWindow):
                await bot.oa.send("8800004", [Outbound("muộn")])
            assert metrics.value("zalo_oa_outside_window_total") == before + 2
    texts = [m["text"] for m in fake.messages["8800004"]]
    assert "hai" not in texts and "muộn" not in texts and "một" in texts


async def test_long_reply_is_sent_in_pieces_with_buttons_on_the_last(database: Database):
    clock = FakeClock()
    async with FakeZaloOA(clock) as fake:
        settings = make_settings(database, oa=oa_settings(fake))
        async with running(database, settings, clock) as bot:
            await bot.oa.windows.open("8800005", clock.now)
            text = "\n".join(f"Dòng {n}: " + "nội dung " * 20 for n in range(40))
            await bot.oa.send("8800005", [Outbound(text, (Choice("Có", "a.ff.0.1"),))])
    sent = fake.messages["8800005"]
    assert len(sent) > 1 and all(len(m["text"]) <= 2000 for m in sent)
    assert "\n".join(m["text"] for m in sent) == text
    assert [len(m["buttons"]) for m in sent] == [0] * (len(sent) - 1) + [1]


# -- tokens ------------------------------------------------------------------------------------


async def stored_token(database: Database) -> ZaloOAToken:
    async with database.transaction() as session:
        return await session.scalar(select(ZaloOAToken))


async def test_two_processes_refresh_once_and_keep_the_new_refresh_token(
    database: Database, migrated_database: Database
):
    clock = FakeClock()
    async with FakeZaloOA(clock, refresh_delay=0.3) as fake:
        config = oa_settings(fake)
        others = [Database(migrated_database.url) for _ in range(2)]
        sessions = [aiohttp.ClientSession() for _ in range(2)]
        try:
            stores = [
                ZaloOATokens(db, config, http, clock)
                for db, http in zip(others, sessions, strict=True)
            ]
            first, second = await asyncio.gather(*(store.access_token() for store in stores))
            assert fake.refresh_calls == 1
            assert first == second and first in fake.access_tokens
            row = await stored_token(database)
            assert row.refresh_token == fake.refresh_token != FIRST_REFRESH_TOKEN
            assert row.expires_at == clock.now + timedelta(seconds=fake.lifetime)
            # A day later the stored refresh token is the one that works: Zalo accepts it.
            clock.advance(hours=25)
            again = await asyncio.gather(*(store.access_token() for store in reversed(stores)))
            assert fake.refresh_calls == 2 and again[0] == again[1] != first
            assert fake.spent_refresh_tokens[1] == row.refresh_token
        finally:
            for http in sessions:
                await http.close()
            for db in others:
                await db.dispose()


async def test_an_event_is_committed_while_a_slow_token_refresh_is_in_flight(
    database: Database, migrated_database: Database
):
    """The refresh calls Zalo with no transaction open: on SQLite the write lock stays
    free, so the webhook commits and answers while the token server has not answered."""
    await seed_catalog(database)
    clock = FakeClock()
    async with FakeZaloOA(clock) as fake:
        settings = make_settings(database, oa=oa_settings(fake))
        async with running(database, settings, clock) as bot:
            assert fake.refresh_calls == 1  # at start
            clock.advance(hours=25)  # the stored token is due for renewal
            fake.refresh_release = asyncio.Event()
            other = Database(migrated_database.url)  # another process's store
            async with aiohttp.ClientSession() as http:
                store = ZaloOATokens(other, oa_settings(fake), http, clock)
                refreshing = asyncio.create_task(store.access_token())
                for _ in range(500):
                    if fake.refresh_calls == 2:
                        break
                    await asyncio.sleep(0.01)
                assert fake.refresh_calls == 2 and not refreshing.done()
                event = fake.event("8800009", "/start")
                assert await fake.deliver(bot.oa_webhook, event) == 200
                assert await count_rows(database, ProcessedUpdate) == 1
                assert not refreshing.done()  # the event did not wait for the token server
                fake.refresh_release.set()
                token = await refreshing
            await other.dispose()
            assert token in fake.access_tokens and fake.refresh_calls == 2
            await fake.wait_for("8800009", 0, TRANSLATOR("vi", "welcome").splitlines()[0])
            assert (await stored_token(database)).access_token == token


async def test_failed_refresh_is_reported_and_retried_with_backoff(database: Database, caplog):
    clock = FakeClock()
    async with FakeZaloOA(clock) as fake, aiohttp.ClientSession() as http:
        fake.refresh_errors = 2
        store = ZaloOATokens(database, oa_settings(fake), http, clock)
        for _ in range(5):  # no tight loop: one call to Zalo, then waiting for the backoff
            with pytest.raises(TokenUnavailable, match="Service busy"):
                await store.access_token()
        assert fake.refresh_calls == 1
        assert "ZALO_OA_REFRESH_TOKEN" in caplog.text and "attempt 1" in caplog.text
        row = await stored_token(database)
        assert (row.failures, row.retry_at) == (1, clock.now + timedelta(seconds=60))
        clock.advance(seconds=61)
        with pytest.raises(TokenUnavailable):
            await store.access_token()
        assert fake.refresh_calls == 2
        assert (await stored_token(database)).retry_at == clock.now + timedelta(seconds=120)
        clock.advance(seconds=121)
        token = await store.access_token()
        assert token in fake.access_tokens and fake.refresh_calls == 3
        row = await stored_token(database)
        assert (row.failures, row.retry_at, row.last_error) == (0, None, None)


async def test_a_short_lived_token_is_not_refreshed_over_and_over(database: Database):
    clock = FakeClock()
    async with FakeZaloOA(clock) as fake, aiohttp.ClientSession() as http:
        fake.lifetime = 1800  # shorter than the 60 minutes' refresh margin
        store = ZaloOATokens(database, oa_settings(fake), http, clock)
        other = ZaloOATokens(database, oa_settings(fake), http, clock)  # another process
        for _ in range(3):
            await store.access_token()
            await other.access_token()
        assert fake.refresh_calls == 1
        clock.advance(seconds=901)  # past half its life: renewed once
        assert await other.access_token() == await store.access_token()
        assert fake.refresh_calls == 2


async def test_a_new_refresh_token_in_the_settings_replaces_the_stored_one(database: Database):
    clock = FakeClock()
    async with FakeZaloOA(clock) as fake, aiohttp.ClientSession() as http:
        store = ZaloOATokens(database, oa_settings(fake), http, clock)
        await store.seed()
        await store.access_token()
        await store.seed()  # same setting: the stored (newer) token stays
        assert (await stored_token(database)).refresh_token == fake.refresh_token
        fake.refresh_token = "issued-by-hand-in-the-console"
        replaced = ZaloOATokens(
            database,
            oa_settings(fake).model_copy(update={"refresh_token": SecretStr(fake.refresh_token)}),
            http,
            clock,
        )
        await replaced.seed()
        row = await stored_token(database)
        assert (row.refresh_token, row.access_token) == ("issued-by-hand-in-the-console", None)
        assert await replaced.access_token() in fake.access_tokens


async def test_a_refused_access_token_is_replaced_and_the_call_repeated(database: Database):
    clock = FakeClock()
    async with FakeZaloOA(clock) as fake, aiohttp.ClientSession() as http:
        config = oa_settings(fake)
        store = ZaloOATokens(database, config, http, clock)
        api = ZaloOAApi(http, config, store)
        await api.send_cs("8800006", "một")
        fake.revoke_access_tokens()  # e.g. revoked in the console
        await api.send_cs("8800006", "hai")
        assert [m["text"] for m in fake.messages["8800006"]] == ["một", "hai"]
        assert fake.refresh_calls == 2
        fake.revoke_access_tokens()
        fake.refresh_errors = 1
        with pytest.raises(TokenUnavailable):
            await api.send_cs("8800006", "ba")


# -- ZNS ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "normalised"),
    [
        ("0912 345 678", "84912345678"),
        ("0912.345.678", "84912345678"),
        ("+84 912 345 678", "84912345678"),
        ("+84 (0)912-345-678", "84912345678"),
        ("0084912345678", "84912345678"),
        ("84912345678", "84912345678"),
        ("(024) 3825 1234", "842438251234"),
    ],
)
def test_phone_numbers_are_normalised_to_84(written, normalised):
    assert normalise_phone(written) == normalised


@pytest.mark.parametrize("bad", ["", "912345678", "+1 415 555 0100", "0912", "09123456789012", "x"])
def test_what_is_not_a_vietnamese_number_is_refused_without_repeating_it(bad):
    with pytest.raises(PhoneNumberError) as error:
        normalise_phone(bad)
    assert str(error.value) == "not a Vietnamese phone number (expected 0… or +84…)"


async def test_zns_sends_the_mapped_template_and_never_logs_the_phone(database: Database, caplog):
    caplog.set_level(logging.DEBUG)
    clock = FakeClock()
    async with FakeZaloOA(clock) as fake, aiohttp.ClientSession() as http:
        config = oa_settings(
            fake,
            zns_template_id="231456",
            zns_params=json.dumps({"ten_co_quan": "agency", "ma_ho_so": "dossier"}),
        )
        api = ZaloOAApi(http, config, ZaloOATokens(database, config, http, clock))
        zns = ZnsClient(api, config)
        values = {"agency": "UBND xã Tân Lợi", "dossier": "HS-001", "unused": "x"}
        msg_id = await zns.send("0912 345 678", values, tracking_id="apology-1")
        assert msg_id and msg_id.startswith("zns")
        assert fake.zns == [
            {
                "phone": "84912345678",
                "template_id": "231456",
                "template_data": {"ten_co_quan": "UBND xã Tân Lợi", "ma_ho_so": "HS-001"},
                "tracking_id": "apology-1",
            }
        ]
        with pytest.raises(ZnsConfigError, match="dossier"):
            await zns.send("0912 345 678", {"agency": "A"}, tracking_id="apology-2")
        refused = ZnsClient(api, config.model_copy(update={"zns_template_id": "0"}))
        with pytest.raises(ZaloOAError) as error:  # Zalo's message echoes the number
            await refused.send("0912 345 678", values, tracking_id="apology-3")
        logging.getLogger("test").warning("ZNS failed: %s", error.value)
    assert "Quota exceeded" in caplog.text
    for form in ("0912 345 678", "84912345678", "912345678"):
        assert form not in caplog.text and form not in str(error.value)


async def test_the_running_channel_offers_zns_when_a_template_is_set(database: Database):
    clock = FakeClock()
    async with FakeZaloOA(clock) as fake:
        plain = make_settings(database, oa=oa_settings(fake))
        async with running(database, plain, clock) as bot:
            assert bot.oa.zns is None
        config = oa_settings(fake, zns_template_id="231456", zns_params='{"ten": "agency"}')
        async with running(database, make_settings(database, oa=config), clock) as bot:
            zns = bot.oa.zns
            assert await zns.send("0912345678", {"agency": "UBND"}, "t-1")
        with pytest.raises(ZaloOAError, match="not running"):
            await zns.send("0912345678", {"agency": "UBND"}, "t-2")
    assert [(m["phone"], m["template_data"]) for m in fake.zns] == [
        ("84912345678", {"ten": "UBND"})
    ]


# -- secrets -----------------------------------------------------------------------------------


async def test_no_token_or_secret_in_logs_at_debug(database: Database, caplog):
    catalog = await seed_catalog(database)
    code = await make_code(database, catalog)
    clock = FakeClock()
    async with FakeZaloOA(clock) as fake:
        settings = make_settings(database, oa=oa_settings(fake))
        with production_logging(settings, caplog.handler) as output:
            assert logging.getLogger().getEffectiveLevel() == logging.DEBUG
            async with running(database, settings, clock) as bot:
                pauses: list[float] = []

                async def pause(seconds: float) -> None:  # the retries' back-off, not waited
                    pauses.append(seconds)
                    await asyncio.sleep(0)

                bot.oa.delivery.sleep = pause
                citizen = Citizen(fake, bot.oa_webhook, "8800007")
                await citizen.say(code, prompt(0))
                fake.revoke_access_tokens()
                await citizen.say("5", prompt(1))  # after a refused token and a new refresh
                fake.revoke_access_tokens()
                fake.refresh_errors = 1
                await citizen.send(fake.event("8800007", "4"))  # its replies fail: logged
                await bot.oa.delivery.drain()  # every retry made, and given up
    logged = output.getvalue()
    assert "Service busy" in logged and fake.refresh_calls == 3
    # Retried with the back-off (no token: the window keeps its credits), then given up.
    assert pauses and pauses == retry_delays()[: len(pauses)]
    assert "it is sent again once this process has stopped" in logged
    for secret in (SECRET_KEY, OA_SECRET_KEY, FIRST_REFRESH_TOKEN, *fake.issued):
        assert secret not in logged
        assert secret not in own_records(caplog)


def test_settings_need_the_whole_oa_combination():
    from bot.settings import ConfigError, load_settings

    with pytest.raises(Exception, match="ZALO_OA_REFRESH_TOKEN"):
        ZaloOASettings(app_id=APP_ID, secret_key=SECRET_KEY)
    with pytest.raises(Exception, match="ZALO_OA_ZNS_TEMPLATE_ID"):
        ZaloOASettings(zns_params='{"a": "b"}')
    with pytest.raises(Exception, match="ZALO_OA_ZNS_PARAMS|JSON"):
        ZaloOASettings(app_id=APP_ID, secret_key="k", refresh_token="r", zns_params="{not json")
    assert ConfigError and load_settings  # imported for the CLI test below


async def test_signed_events_outside_the_replay_window_are_refused(database: Database):
    await seed_catalog(database)
    clock = FakeClock()
    async with FakeZaloOA(clock) as fake:
        settings = make_settings(database, oa=oa_settings(fake, replay_window_seconds=600))
        async with running(database, settings, clock) as bot:
            before = metrics.value("zalo_oa_webhook_stale_total")
            now_ms = int(clock.now.timestamp() * 1000)
            for sent_ms in (
                978_307_200_000,  # 2001
                now_ms - 601_000,
                now_ms + 601_000,
            ):
                event = fake.event("8800010", "/start", timestamp_ms=sent_ms)
                assert await fake.deliver(bot.oa_webhook, event) == 403
            assert metrics.value("zalo_oa_webhook_stale_total") == before + 3
            assert await nothing_stored(database)
            assert await count_rows(database, ZaloOAReplyWindow) == 0
            late = fake.event("8800010", "/start", timestamp_ms=now_ms - 590_000)
            assert await fake.deliver(bot.oa_webhook, late) == 200  # within ten minutes
            await fake.wait_for("8800010", 0, TRANSLATOR("vi", "welcome").splitlines()[0])


async def test_the_signature_is_checked_before_anything_is_parsed(database: Database):
    clock = FakeClock()
    async with FakeZaloOA(clock) as fake:
        settings = make_settings(database, oa=oa_settings(fake))
        async with running(database, settings, clock) as bot, aiohttp.ClientSession() as http:
            before = metrics.value("zalo_oa_webhook_rejected_total")
            deep = b'{"timestamp": "1", "x": ' + b"[" * 1000 + b"]" * 1000 + b"}"
            for body, headers in (
                (deep, {"X-ZEvent-Signature": "mac=00"}),
                (b"[" * 100_000, {}),
                (b'{"timestamp": "1"}', {"X-ZEvent-Signature": "mac=\xff\xfe"}),  # not ASCII
            ):
                async with http.post(bot.oa_webhook, data=body, headers=headers) as response:
                    assert response.status == 401
            assert metrics.value("zalo_oa_webhook_rejected_total") == before + 3
            # Signed, but nested too deep to parse: refused as bad JSON, never a 5xx.
            signed = fake.sign(deep, "1")
            async with http.post(
                bot.oa_webhook, data=deep, headers={"X-ZEvent-Signature": signed}
            ) as response:
                assert response.status == 400
    assert await nothing_stored(database)


async def test_resending_lost_replies_goes_on_past_a_chat_outside_its_window(database: Database):
    """Three chats owed their question at start; the middle one's free window has closed."""
    catalog = await seed_catalog(database)
    clock = FakeClock()
    async with FakeZaloOA(clock) as fake:
        settings = make_settings(database, oa=oa_settings(fake))
        async with running(database, settings, clock) as bot:
            first, middle, last = (Citizen(fake, bot.oa_webhook, f"88000{n}") for n in (21, 22, 23))
            await first.say("xin chào", "")  # the chats are created in this order
            await middle.say(await make_code(database, catalog), prompt(0))
            clock.advance(hours=49)  # the middle chat's free window closes
            await first.say(await make_code(database, catalog), prompt(0))
            await last.say(await make_code(database, catalog), prompt(0))
        async with database.transaction() as session:  # as if the process died before sending
            await session.execute(update(Chat).values(delivered_seq=0, reply_lease_until=clock()))
        async with running(database, settings, clock):
            await first.expect(prompt(0))  # the stored replies again
            await last.expect(prompt(0))
    assert sum(prompt(0) in m["text"] for m in fake.messages["8800022"]) == 1  # not re-sent


async def test_the_instruction_matches_the_buttons_shown(database: Database):
    """ "Bấm một nút" only where every choice is a button; typed where none or some are."""
    catalog = await seed_catalog(database)
    code = await make_code(database, catalog)
    clock = FakeClock()
    async with FakeZaloOA(clock) as fake:
        settings = make_settings(database, oa=oa_settings(fake))
        async with running(database, settings, clock) as bot:
            await complete_survey(Citizen(fake, bot.oa_webhook, "8800031"), code)
    questions = [m for m in fake.messages["8800031"] if m["text"].startswith("Câu ")]
    occupation = next(q for q in Q2017.questions if q.id == "occupation")
    assert len(occupation.options) > 5
    by_buttons = [m for m in questions if len(m["buttons"]) > 1]  # not the comment's "skip"
    typed_only = [m for m in questions if not m["buttons"] and "\n   " in m["text"]]
    assert typed_only and all("Bấm" not in m["text"] and "Gõ số" in m["text"] for m in typed_only)
    missing = [m["text"] for m in by_buttons if "Bấm một nút" not in m["text"]]
    assert by_buttons and not missing, missing
    likert = next(m for m in questions if m["text"].startswith(prompt(0)))
    assert len(likert["buttons"]) == 5 and 'gõ "Không ý kiến"' in likert["text"]


async def test_a_failed_send_is_retried_and_a_button_of_an_unseen_question_is_refused(
    database: Database,
):
    """message/cs answers 500: the reply is sent again within a second; a press of the
    answered question's button while the next one was still undelivered is refused as
    stale (said so, with the current question) and nothing is stored."""
    catalog = await seed_catalog(database)
    code = await make_code(database, catalog)
    clock = FakeClock()
    async with FakeZaloOA(clock) as fake:
        settings = make_settings(database, oa=oa_settings(fake))
        async with running(database, settings, clock) as bot:
            citizen = Citizen(fake, bot.oa_webhook, "8800090")
            first = await citizen.say(code, prompt(0))
            press = {b["payload"].rsplit(".", 1)[1]: b["payload"] for b in first["buttons"]}
            fake.fail_sends = 1  # question 2 fails once, then goes through
            loop = asyncio.get_running_loop()
            started = loop.time()
            second = await citizen.say(press["4"], prompt(1))
            waited = loop.time() - started
            print(f"\nZalo OA, one send failed: question arrived after {waited:.2f} s")
            assert 0.5 <= waited < 5
            fake.fail_sends = 3  # question 3 is held up about 3.5 s
            fake.clock.advance(seconds=1)
            await citizen.send(fake.event(citizen.user_id, "5"))
            await asyncio.sleep(0.2)
            # The citizen presses question 2's button again, not having seen question 3.
            again = {b["payload"].rsplit(".", 1)[1]: b["payload"] for b in second["buttons"]}
            await citizen.say(again["2"], TRANSLATOR("vi", "stale_button"))
            await citizen.expect(prompt(2))  # the question again, after the line saying why
            texts = [m["text"] for m in fake.messages["8800090"]]
            assert sum(text.startswith(prompt(2)) for text in texts) == 2  # retried + again
            for _ in range(100):  # the confirmation commits just after the send
                if not await bot.processor.pending_replies("zalo_oa"):
                    break
                await asyncio.sleep(0.02)
            assert await bot.processor.pending_replies("zalo_oa") == []
            third = fake.messages["8800090"][-1]
            pressed = {b["payload"].rsplit(".", 1)[1]: b["payload"] for b in third["buttons"]}
            await citizen.say(pressed["3"], prompt(3))  # once shown, a press counts
            async with database.transaction() as session:
                [chat_id] = (await session.execute(select(Chat.id))).one()
                survey = await SurveyStore(session).active_session(chat_id)
            ids = [q.id for q in Q2017.questions[:3]]
            assert survey is not None and survey.answers == dict(zip(ids, [4, 5, 3], strict=True))
