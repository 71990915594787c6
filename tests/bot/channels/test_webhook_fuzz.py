"""Fuzzing every HTTP route of the bot over raw loopback HTTP, on both databases.

Bodies: JSON-ish values (deep nesting, huge numbers, NUL, lone surrogates, wrong
types), valid platform payloads with a few fields broken, bytes that are not UTF-8,
oversized bodies. Headers: the right secret, a wrong one, none, non-ASCII bytes,
random content types and extra headers. The Zalo OA body is also signed correctly,
so the validation behind the signature is fuzzed too.

Whatever comes, the answer is never 5xx, a refused (4xx) request stores nothing
(rows of chats, processed_updates, survey_sessions and zalo_oa_reply_windows are
counted before and after), and the bot's log at DEBUG never shows the personal-looking
values planted among the texts. The requests tried and their statuses, per route and
database, are printed at the end of the module and written to FUZZ_SUMMARY.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.channels import telegram, zalo_bot, zalo_oa
from bot.database import Database
from bot.models import Chat, ProcessedUpdate, SurveySession, ZaloOAReplyWindow
from bot.settings import Settings, SurveySettings, TelegramSettings
from bot.web import build_app, start_server
from tests.bot.channels import zalo_harness
from tests.bot.channels.telegram_harness import FAST, SECRET, free_port
from tests.builders import FakeClock, make_processor
from tests.fakes.telegram import TOKEN, FakeTelegram
from tests.fakes.zalo_bot import FakeZaloBot
from tests.fakes.zalo_oa import APP_ID, FakeZaloOA

FUZZ_SUMMARY = Path("/tmp/sipas_webhook_fuzz_summary.json")
METRICS_TOKEN = "fuzz-metrics-token-0123456789abcdefgh"
RESET = 0  # the status recorded when the server closed the connection before answering
STATS: dict[str, Counter[int]] = defaultdict(Counter)
FUZZ = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
pytestmark = [
    pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning"),
    # Under pytest-xdist (--dist loadgroup) one worker runs the module: one whole summary.
    pytest.mark.xdist_group("webhook_fuzz"),
]


# -- the bot under test --------------------------------------------------------------------


@dataclass
class Stack:
    database: Database
    port: int
    bare_port: int  # a server built without a metrics token
    telegram_fake: FakeTelegram
    bot_fake: FakeZaloBot
    oa_fake: FakeZaloOA
    backend: str
    log: io.StringIO  # the bot's own log output, at DEBUG, as in production


@pytest.fixture
async def stack(database: Database, backend: str):
    """All three channels in webhook mode on one server, as `python -m bot run` has them."""
    clock = FakeClock()
    async with FakeTelegram() as tg, FakeZaloBot() as zb, FakeZaloOA(clock) as oa:
        port = free_port()
        config = Settings(
            database_url=database.url,
            http_listen=f"127.0.0.1:{port}",
            public_base_url=f"http://127.0.0.1:{port}",
            telegram=TelegramSettings(
                bot_token=TOKEN,
                api_base_url=tg.base_url,
                mode="webhook",
                webhook_secret=SECRET,
                **FAST,
            ),
            zalo_bot=zalo_harness.bot_settings(zb, "webhook"),
            zalo_oa=zalo_harness.oa_settings(oa),
            survey=SurveySettings(),
        )
        processor = make_processor(database, clock, config)
        app = build_app(database, METRICS_TOKEN)
        channels = [
            module.build(config, processor, app) for module in (telegram, zalo_bot, zalo_oa)
        ]
        runner = await start_server(app, "127.0.0.1", port)
        bare_port = free_port()
        bare = await start_server(build_app(database), "127.0.0.1", bare_port)
        with zalo_harness.production_logging(config, logging.NullHandler()) as log:
            for channel in channels:
                await channel.start()
            try:
                yield Stack(database, port, bare_port, tg, zb, oa, backend, log)
            finally:
                for channel in reversed(channels):
                    await channel.stop()
                await bare.cleanup()
                await runner.cleanup()


async def raw_request(
    port: int, method: bytes, path: bytes, headers: list[tuple[bytes, bytes]], body: bytes
) -> int:
    """One HTTP/1.1 request written byte for byte (headers need not be ASCII)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        head = b"%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" % (method, path)
        head += b"Content-Length: %d\r\n" % len(body)
        head += b"".join(name + b": " + value + b"\r\n" for name, value in headers)
        try:
            writer.write(head + b"\r\n" + body)
            await writer.drain()
            status_line = await asyncio.wait_for(reader.readline(), 30)
            await asyncio.wait_for(reader.read(), 30)
        except ConnectionResetError:
            # A server that refuses before reading a large body closes the connection;
            # the kernel may then drop its answer. That is a refusal, never a 5xx.
            return RESET
    finally:
        writer.close()
    return int(status_line.split()[1])


async def stored_rows(database: Database) -> tuple[int, ...]:
    async with database.transaction() as session:
        return tuple(
            [
                await session.scalar(select(func.count()).select_from(model))
                for model in (Chat, ProcessedUpdate, SurveySession, ZaloOAReplyWindow)
            ]
        )


async def check(
    stack: Stack,
    route: str,
    path: bytes,
    headers: list[tuple[bytes, bytes]],
    body: bytes,
    method: bytes = b"POST",
    port: int | None = None,
) -> int:
    """Send it; never 5xx; nothing stored if refused. Counts the status for the summary."""
    before = await stored_rows(stack.database)
    status = await raw_request(port or stack.port, method, path, headers, body)
    STATS[f"{route} [{stack.backend}]"][status] += 1
    assert status < 500, (route, status)
    if 400 <= status < 500 or status == RESET:
        assert await stored_rows(stack.database) == before, (route, status)
    logged = stack.log.getvalue()
    for value in (*PLANTED, "Fuzzplanted", "777 531", "0912777531", "FUZZ-9"):
        assert value not in logged, (route, value)
    return status


@pytest.fixture(scope="module", autouse=True)
def summary():
    """Print (pytest -s) and write the requests tried per route and their statuses."""
    yield
    table = {
        route: {"tried": sum(counts.values()), **{str(k): v for k, v in sorted(counts.items())}}
        for route, counts in sorted(STATS.items())
    }
    FUZZ_SUMMARY.write_text(json.dumps(table, indent=2))
    print("\nwebhook fuzz: requests tried per route and their statuses")
    for route, counts in table.items():
        print(f"  {route}: {counts}")


# -- what is sent --------------------------------------------------------------------------

ODD_TEXTS = ["", " ", "\x00", "a\x00b", "\ud800", "x\udcff", "٣", "²", "5", "/start", "x" * 5000]
# Personal-looking values planted in the bodies: none may reach the log, whatever happens.
PLANTED = ["Nguyễn Thị Fuzzplanted", "0912 777 531", "FUZZPLANT42", "/hoso HS-FUZZ-9 7531"]
planted = st.sampled_from(PLANTED)
texts = st.one_of(planted, st.text(max_size=12), planted, st.sampled_from(ODD_TEXTS))
HUGE = [10**200, -(10**200), 2**53, 2**63, -1, 0, 10**16]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from(HUGE),
    st.floats(),
    texts,
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(texts, children, max_size=3)
    ),
    max_leaves=10,
)


def paths_of(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path to a value inside nested dicts (the fields a mutation may hit)."""
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += paths_of(child, (*prefix, key))
    return found


@st.composite
def mutated(draw, template: dict) -> Any:
    """A valid payload with 0-3 fields replaced by odd values or removed."""
    value = json.loads(json.dumps(template))
    for _ in range(draw(st.integers(0, 3))):
        paths = [p for p in paths_of(value) if p]
        if not paths or not isinstance(value, dict):
            break
        path = draw(st.sampled_from(paths))
        parent = value
        for key in path[:-1]:
            parent = parent[key]
        if draw(st.booleans()):
            parent.pop(path[-1], None)
        else:
            parent[path[-1]] = draw(json_values)
    return value


class Raw(bytes):
    """A body whose repr stays short when hypothesis reports an example."""

    def __repr__(self) -> str:
        return f"<{len(self)} bytes: {bytes(self[:80])!r}>"


def encoded(value: Any) -> bytes:
    return Raw(json.dumps(value).encode())


@st.composite
def bodies(draw, template: st.SearchStrategy) -> tuple[Any, bytes]:
    """(the value, its bytes): JSON of a value, or bytes no JSON parser should accept."""
    kind = draw(st.sampled_from(["payload"] * 4 + ["json", "deep", "bytes", "not-utf8", "big"]))
    if kind == "payload":
        value = draw(template)
        return value, encoded(value)
    if kind == "json":
        value = draw(json_values)
        return value, encoded(value)
    if kind == "deep":
        depth = draw(st.integers(30, 3000))
        opener, closer = draw(st.sampled_from([(b"[", b"]"), (b'{"a":', b"}")]))
        return None, Raw(opener * depth + (b"1" if opener != b"[" else b"") + closer * depth)
    if kind == "bytes":
        return None, draw(st.binary(max_size=64))
    if kind == "big":
        return None, Raw(b'{"update_id": 1, "x": "' + b"x" * (300 * 1024) + b'"}')
    value = draw(template)
    raw = encoded(value)
    at = draw(st.integers(0, len(raw)))
    odd = draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80"]))
    return value, Raw(raw[:at] + odd + raw[at:])


header_names = st.from_regex(re.compile(r"[A-Za-z][A-Za-z0-9-]{0,15}"), fullmatch=True)
header_bytes = st.one_of(
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=24).map(str.encode),
    st.binary(max_size=24),  # control characters: aiohttp's parser answers 400
).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b""))
content_types = st.sampled_from(
    [
        *[b"application/json"] * 6,
        b"application/json; charset=utf-8",
        b"text/plain",
        b"application/x-www-form-urlencoded",
        b"\xff\xfe/json",
        None,
    ]
)


@st.composite
def secret_header(draw, name: bytes, secret: str) -> list[tuple[bytes, bytes]]:
    how = draw(st.sampled_from(["right"] * 5 + ["none", "wrong", "non-ascii", "longer", "random"]))
    value = {
        "right": secret.encode(),
        "none": None,
        "wrong": b"not-the-secret-0123456789",
        "non-ascii": b"\xff" + secret.encode()[1:],
        "longer": secret.encode() + b"\xc3\xa9",
        "random": draw(header_bytes),
    }[how]
    return [] if value is None else [(name, value)]


@st.composite
def other_headers(draw) -> list[tuple[bytes, bytes]]:
    headers = []
    content_type = draw(content_types)
    if content_type is not None:
        headers.append((b"Content-Type", content_type))
    for name, value in draw(st.lists(st.tuples(header_names, header_bytes), max_size=2)):
        if name.lower() not in ("content-length", "host", "connection", "transfer-encoding"):
            headers.append((name.encode(), value))
    return headers


_ids = iter(range(10**6, 10**9))


def telegram_template(draw_text: str, chat_id: int, button: bool) -> dict:
    user = {"id": chat_id, "is_bot": False, "first_name": "C", "language_code": "vi"}
    message = {
        "message_id": 5,
        "date": 1764000000,
        "chat": {"id": chat_id, "type": "private"},
        "from": user,
        "text": draw_text,
    }
    update: dict[str, Any] = {"update_id": next(_ids)}
    if button:
        update["callback_query"] = {
            "id": "q1",
            "from": user,
            "chat_instance": "c",
            "data": draw_text,
            "message": message,
        }
    else:
        update["message"] = message
    return update


telegram_payloads = st.builds(
    telegram_template, texts, st.integers(1, 10**6), st.booleans()
).flatmap(mutated)


# -- one test per route --------------------------------------------------------------------


@settings(FUZZ, max_examples=90)
@given(
    body=bodies(telegram_payloads),
    secret=secret_header(b"X-Telegram-Bot-Api-Secret-Token", SECRET),
    headers=other_headers(),
)
async def test_fuzz_telegram_webhook(stack: Stack, body, secret, headers):
    await check(stack, "telegram", telegram.WEBHOOK_PATH.encode(), secret + headers, body[1])


def zalo_bot_template(text: str, chat: str, wrap: bool, event: str) -> dict:
    update = FakeZaloBot.text_update(chat, text)
    update["event_name"] = event
    return {"ok": True, "result": update} if wrap else update


zalo_bot_payloads = st.builds(
    zalo_bot_template,
    texts,
    st.text("0123456789abc", min_size=1, max_size=8),
    st.booleans(),
    st.sampled_from(["message.text.received", "message.sticker.received", "bot.added"]),
).flatmap(mutated)


@settings(FUZZ, max_examples=90)
@given(
    body=bodies(zalo_bot_payloads),
    secret=secret_header(b"X-Bot-Api-Secret-Token", zalo_harness.BOT_SECRET),
    headers=other_headers(),
)
async def test_fuzz_zalo_bot_webhook(stack: Stack, body, secret, headers):
    await check(stack, "zalo_bot", zalo_bot.WEBHOOK_PATH.encode(), secret + headers, body[1])


def oa_template(text: str, user: str, event: str, age_ms: int) -> dict:
    fake = FakeZaloOA(FakeClock())
    event_json = fake.event(user, text, event_name=event)
    event_json["timestamp"] = str(int(event_json["timestamp"]) - age_ms)
    return event_json


oa_payloads = st.builds(
    oa_template,
    texts,
    st.text("0123456789", min_size=1, max_size=12),
    st.sampled_from(["user_send_text", "user_send_sticker", "follow", "oa_send_text"]),
    st.sampled_from([0, 0, 0, 5_000, 700_000, 10**12]),
).flatmap(mutated)


def signed_with(value: Any) -> str:
    """The timestamp a sender who holds the key would sign this body with."""
    stamp = value.get("timestamp") if isinstance(value, dict) else None
    if isinstance(stamp, bool) or not isinstance(stamp, str | int):
        return "0"
    return str(stamp)


@settings(FUZZ, max_examples=120)
@given(
    body=bodies(oa_payloads),
    signing=st.sampled_from(["valid"] * 4 + ["none", "wrong", "non-ascii", "bare"]),
    headers=other_headers(),
)
async def test_fuzz_zalo_oa_webhook(stack: Stack, body, signing, headers):
    value, raw = body
    right = FakeZaloOA.sign(raw, signed_with(value))
    signature = {
        "valid": right.encode(),
        "none": None,
        "wrong": FakeZaloOA.sign(raw, signed_with(value), key="guessed").encode(),
        "non-ascii": right.encode()[:-2] + b"\xc3\xa9",
        "bare": right.removeprefix("mac=").encode(),
    }[signing]
    signed = [] if signature is None else [(b"X-ZEvent-Signature", signature)]
    status = await check(stack, "zalo_oa", zalo_oa.WEBHOOK_PATH.encode(), signed + headers, raw)
    if signing != "valid":
        assert status in (400, 401, 413)  # 400: a header aiohttp's parser refuses
    assert APP_ID  # the fake signs for the app the bot serves


@settings(FUZZ, max_examples=50)
@given(
    authorization=st.one_of(
        st.none(),
        st.just(b"Bearer " + METRICS_TOKEN.encode()),
        st.just(b"bearer " + METRICS_TOKEN.encode()),
        st.just(b"Bearer " + METRICS_TOKEN.encode()[:-1] + b"\xff"),
        header_bytes.map(lambda b: b"Bearer " + b),
        header_bytes,
    ),
    forwarded=st.sampled_from([None, b"X-Forwarded-For", b"Forwarded", b"X-Real-IP"]),
    tokenless=st.booleans(),
    method=st.sampled_from([b"GET", b"GET", b"HEAD", b"POST"]),
    headers=other_headers(),
    body=st.binary(max_size=32),
)
async def test_fuzz_metrics(
    stack: Stack, authorization, forwarded, tokenless, method, headers, body
):
    sent = list(headers)
    if authorization is not None:
        sent.append((b"Authorization", authorization))
    if forwarded is not None:
        sent.append((forwarded, b"203.0.113.7"))
    port = stack.bare_port if tokenless else stack.port
    status = await check(stack, "metrics", b"/metrics", sent, body, method, port)
    if method == b"GET" and status == 200:
        assert (tokenless and forwarded is None) or authorization in (
            b"Bearer " + METRICS_TOKEN.encode(),
            b"bearer " + METRICS_TOKEN.encode(),
        )


@settings(FUZZ, max_examples=40)
@given(
    method=st.sampled_from([b"GET", b"GET", b"HEAD", b"POST", b"DELETE"]),
    headers=other_headers(),
    body=st.binary(max_size=64),
    query=st.sampled_from([b"", b"?x=1", b"?%ff", b"?" + b"a" * 500]),
)
async def test_fuzz_healthz(stack: Stack, method, headers, body, query):
    status = await check(stack, "healthz", b"/healthz" + query, headers, body, method)
    well_formed = all(c >= 32 and c != 127 or c == 9 for _, v in headers for c in v)
    if method == b"GET" and well_formed:
        assert status == 200  # control characters in a header: aiohttp's parser says 400
