"""The Telegram adapter's pure parts: translation, keyboards, text pieces, pacing, settings."""

from __future__ import annotations

import asyncio
import time

import pytest
from pydantic import SecretStr
from telegram import Update

from bot.channels._telegram_api import (
    MAX_TEXT,
    keyboard,
    split_text,
    to_inbound,
)
from bot.channels._telegram_flood import FloodControl, scope_of
from bot.rate_budget import Limit, RateBudget
from bot.settings import ConfigError, load_settings
from handlers.messages import Choice, InboundKind, Outbound

CHAT = {"id": 42, "type": "private", "first_name": "A"}
USER = {"id": 42, "is_bot": False, "first_name": "A", "language_code": "en"}


def update(**content) -> Update:
    return Update.de_json({"update_id": 9, **content}, None)


def message(**content) -> dict:
    return {"message_id": 1, "date": 0, "chat": CHAT, "from": USER, **content}


def test_text_button_and_other_updates_become_inbound_messages():
    text = to_inbound(update(message=message(text="hài lòng")))
    assert (text.inbound.kind, text.inbound.text, text.inbound.chat_key) == (
        InboundKind.TEXT,
        "hài lòng",
        "42",
    )
    assert text.inbound.update_key == "telegram:9"
    assert text.inbound.language_hint == "en"
    assert text.press is None

    query = {
        "id": "77",
        "from": USER,
        "chat_instance": "x",
        "data": "a.abc123.4.5",
        "message": message(text="Câu 5/29"),
    }
    pressed = to_inbound(update(callback_query=query))
    assert (pressed.inbound.kind, pressed.inbound.text) == (InboundKind.BUTTON, "a.abc123.4.5")
    assert pressed.press.query_id == "77"

    sticker = {
        "file_id": "f",
        "file_unique_id": "u",
        "width": 1,
        "height": 1,
        "is_animated": False,
        "is_video": False,
        "type": "regular",
    }
    photo = [{"file_id": "p", "file_unique_id": "p", "width": 1, "height": 1}]
    for other in (
        message(sticker=sticker),
        message(photo=photo, caption="5"),
        message(location={"latitude": 10.8, "longitude": 106.7}),
    ):
        assert to_inbound(update(message=other)).inbound.kind is InboundKind.OTHER


def test_groups_edits_and_service_messages_are_left_alone():
    group = {"id": -100, "type": "supergroup", "title": "G"}
    assert to_inbound(update(message=message(chat=group, text="5"))) is None
    assert to_inbound(update(edited_message={**message(text="5"), "edit_date": 1})) is None
    assert to_inbound(update(message=message(pinned_message=message(text="x")))) is None


def test_keyboard_follows_columns_and_refuses_long_callback_data():
    choices = tuple(Choice(f"{n}. x", f"a.n.0.{n}") for n in range(1, 6))
    assert [len(row) for row in keyboard(Outbound("q", choices)).inline_keyboard] == [1] * 5
    two = keyboard(Outbound("q", choices, columns=2)).inline_keyboard
    assert [len(row) for row in two] == [2, 2, 1]
    assert keyboard(Outbound("no buttons")) is None
    with pytest.raises(ValueError):
        keyboard(Outbound("q", (Choice("x", "ứ" * 22),)))  # 66 bytes


def test_long_texts_are_cut_at_line_ends():
    text = "\n".join(f"dòng {n} " + "x" * 90 for n in range(100))
    pieces = split_text(text)
    assert all(len(piece) <= MAX_TEXT for piece in pieces)
    assert len(pieces) == 3
    assert "\n".join(pieces) == text
    assert split_text("x" * 5000) == ["x" * MAX_TEXT, "x" * 904]


async def test_a_budget_in_memory_allows_a_burst_then_the_rate():
    budget, limit = RateBudget(None), Limit("test", rate=20, burst=5)
    started = time.monotonic()
    for _ in range(5):
        await budget.take(limit)
    assert time.monotonic() - started < 0.2  # the burst
    for _ in range(10):
        await budget.take(limit)
    assert 0.45 <= time.monotonic() - started < 1.5  # 10 more at 20 a second


async def test_flood_control_paces_each_chat_and_all_chats():
    flood = FloodControl(chat_rate=10, chat_burst=2, global_rate=1000, bulk_rate=1000)
    started = time.monotonic()
    await asyncio.gather(*(flood.message(str(chat)) for chat in range(50)))
    assert time.monotonic() - started < 0.3  # fifty chats: no chat is over its limit
    started = time.monotonic()
    for _ in range(6):
        await flood.message("7")
    assert time.monotonic() - started >= 0.35  # one chat: 2 at once, then 10 a second

    overall = FloodControl(chat_rate=10, chat_burst=2, global_rate=20, bulk_rate=1000)
    started = time.monotonic()
    await asyncio.gather(*(overall.message(str(chat)) for chat in range(30)))
    assert 1.3 <= time.monotonic() - started < 2.0  # 2 at once (a tenth of a second), then 20/s


def test_the_budget_scope_of_a_token_is_the_bot_id_not_the_secret():
    assert scope_of(SecretStr("123456789:AAH-secret")) == "telegram:123456789"
    assert scope_of(None) == "telegram:"


def test_telegram_settings_are_checked(monkeypatch):
    monkeypatch.setenv("TELEGRAM_BOT_USERNAME", "@SipasSurveyBot")
    monkeypatch.setenv("TELEGRAM_CHAT_RATE", "0.5")
    settings = load_settings()
    assert settings.telegram.bot_username == "SipasSurveyBot"
    assert settings.telegram.chat_rate == 0.5
    assert (settings.telegram.chat_burst, settings.telegram.global_rate) == (4, 30)
    monkeypatch.setenv("TELEGRAM_BOT_USERNAME", "no spaces allowed")
    monkeypatch.setenv("TELEGRAM_GLOBAL_RATE", "0")
    with pytest.raises(ConfigError) as error:
        load_settings()
    assert "TELEGRAM_BOT_USERNAME" in str(error.value)
    assert "TELEGRAM_GLOBAL_RATE" in str(error.value)
