"""A Telegram update as the survey reads it: one strict model, then an `Inbound`.

Only the fields the bot uses are declared; Telegram's others are ignored, so a
new field never makes an update unusable. Ids are whole numbers of at most 53
bits (Telegram's own bound), never strings, floats or booleans; texts are bounded
and clean (no NUL, no lone surrogate) before they reach the database.
Both receiving paths use it: the webhook validates the posted JSON, polling the
JSON of the updates PTB fetched.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from bot.boundary import SafeText
from bot.channels._webhook import MAX_ID, Payload

CHANNEL = "telegram"
MAX_TEXT = 4096
MAX_CALLBACK_DATA = 64

UpdateId = Annotated[int, Field(ge=0, lt=MAX_ID)]
TelegramId = Annotated[int, Field(gt=-MAX_ID, lt=MAX_ID)]


class TelegramUser(Payload):
    id: TelegramId
    is_bot: bool = False
    language_code: SafeText(35) | None = None


class TelegramChat(Payload):
    id: TelegramId
    type: SafeText(32)


class TelegramMessage(Payload):
    message_id: TelegramId
    chat: TelegramChat
    sender: TelegramUser | None = Field(default=None, alias="from")
    text: SafeText(MAX_TEXT) | None = None
    # Service messages: no one wrote anything. Only their presence matters.
    pinned_message: Any = None
    message_auto_delete_timer_changed: Any = None
    new_chat_members: Any = None
    left_chat_member: Any = None

    @property
    def is_service(self) -> bool:
        return bool(
            self.pinned_message
            or self.message_auto_delete_timer_changed
            or self.new_chat_members
            or self.left_chat_member
        )


class TelegramCallbackQuery(Payload):
    id: SafeText(64, min_length=1)
    sender: TelegramUser = Field(alias="from")
    data: SafeText(MAX_CALLBACK_DATA) | None = None
    message: TelegramMessage | None = None


class TelegramUpdate(Payload):
    update_id: UpdateId
    message: TelegramMessage | None = None
    callback_query: TelegramCallbackQuery | None = None
