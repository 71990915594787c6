"""The strict models behind the webhooks: what a platform id, key or text may be."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bot.channels._telegram_update import TelegramUpdate
from bot.channels.zalo_bot import ZaloEnvelope, parse_update
from bot.channels.zalo_oa import OAEvent, parse_event, signature, signed_timestamp
from tests.builders import FakeClock
from tests.fakes.zalo_bot import FakeZaloBot
from tests.fakes.zalo_oa import APP_ID, OA_SECRET_KEY, FakeZaloOA

ODD_IDS = [None, [], {}, True, False, 1.5, "", "   ", "a\x00b", "\ud800", "x" * 65, 10**200, -1]


def telegram_update(**changes) -> dict:
    message = {
        "message_id": 1,
        "date": 0,
        "chat": {"id": 42, "type": "private"},
        "from": {"id": 42, "is_bot": False, "first_name": "A"},
        "text": "hài lòng",
    }
    return {"update_id": 9, "message": message, **changes}


@pytest.mark.parametrize("update_id", [10**200, 2**53, -1, True, "9", 9.0, None, [9]])
def test_telegram_update_ids_are_bounded_whole_numbers(update_id):
    with pytest.raises(ValidationError):
        TelegramUpdate.model_validate(telegram_update(update_id=update_id))


@pytest.mark.parametrize("chat_id", [None, [], "42", True, 4.2, 2**60])
def test_telegram_chat_ids_are_bounded_whole_numbers(chat_id):
    update = telegram_update()
    update["message"]["chat"]["id"] = chat_id
    with pytest.raises(ValidationError):
        TelegramUpdate.model_validate(update)


@pytest.mark.parametrize("text", ["a\x00b", "\udcff", "x" * 4097, 5, ["x"], {"t": 1}])
def test_telegram_texts_are_clean_bounded_strings(text):
    update = telegram_update()
    update["message"]["text"] = text
    with pytest.raises(ValidationError):
        TelegramUpdate.model_validate(update)


def test_unknown_telegram_fields_are_ignored():
    update = TelegramUpdate.model_validate(telegram_update(edited_message={"odd": [1]}, x=None))
    assert update.message is not None and update.message.text == "hài lòng"


@pytest.mark.parametrize("odd", ODD_IDS)
def test_zalo_bot_chat_and_message_ids_are_strict(odd):
    for field in ("chat", "from"):
        update = FakeZaloBot.text_update("c1", "hi")
        update["message"][field]["id"] = odd
        if field == "from":
            del update["message"]["chat"]
        assert parse_update(update) is None, (field, odd)
    update = FakeZaloBot.text_update("c1", "hi")
    update["message"]["message_id"] = odd
    if odd is not None:  # no message id at all is allowed (deduplicated by content)
        assert parse_update(update) is None


def test_zalo_bot_updates_wrapped_or_not_and_their_keys():
    update = FakeZaloBot.text_update("c1", " 5 ", message_id="m1")
    wrapped = ZaloEnvelope.model_validate({"ok": True, "result": update}).update
    assert wrapped == ZaloEnvelope.model_validate(update).update
    inbound = parse_update(update)
    assert (inbound.chat_key, inbound.text, inbound.update_key) == (
        "c1",
        "5",
        "zalo_bot:message.text.received:m1",
    )
    assert parse_update({"ok": True, "result": None}) is None
    long_event = FakeZaloBot.text_update("c1", "hi")
    long_event["event_name"] = "message." + "x" * 60
    assert parse_update(long_event) is None  # the key would not fit processed_updates


@pytest.mark.parametrize("odd", ODD_IDS)
def test_zalo_oa_sender_and_msg_ids_are_strict(odd):
    fake = FakeZaloOA(FakeClock())
    event = fake.event("u1", "hi")
    event["sender"]["id"] = odd
    assert parse_event(event) is None
    event = fake.event("u1", "hi")
    event["message"]["msg_id"] = odd
    if odd is not None:
        assert parse_event(event) is None


@pytest.mark.parametrize(
    "timestamp", ["", "abc", "١٢٣", "1" * 17, "-5", "1.5", True, None, 1.5, 10**200, [1]]
)
def test_zalo_oa_timestamps_are_ascii_milliseconds(timestamp):
    event = FakeZaloOA(FakeClock()).event("u1", "hi")
    event["timestamp"] = timestamp
    with pytest.raises(ValidationError):
        OAEvent.model_validate(event)


def test_the_signed_timestamp_is_found_without_parsing_and_never_inside_a_text():
    body = b'{"app_id": "%s", "timestamp": "1764000000000", "message": {"text": "x"}}' % (
        APP_ID.encode()
    )
    good = signature(APP_ID, body, "1764000000000", OA_SECRET_KEY).encode()
    assert signed_timestamp(body, good, APP_ID, OA_SECRET_KEY) == "1764000000000"
    assert signed_timestamp(body, good[:-1] + b"0", APP_ID, OA_SECRET_KEY) is None
    assert signed_timestamp(body, None, APP_ID, OA_SECRET_KEY) is None
    # A citizen's text cannot supply the timestamp: its quotes are escaped.
    fake = b'{"message": {"text": "\\"timestamp\\": \\"1\\""}}'
    forged = signature(APP_ID, fake, "1", OA_SECRET_KEY).encode()
    assert signed_timestamp(fake, forged, APP_ID, OA_SECRET_KEY) is None
