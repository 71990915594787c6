"""The Telegram side of the adapter: the PTB client, and translation both ways.

The token is kept out of PTB: the `Bot` gets a placeholder, and only the
request object (_telegram_http) swaps the real token into the URL as the request
leaves. PTB logs its API URL at DEBUG, and httpx logs every URL at INFO; with the
placeholder neither can write the real token, whatever their log levels.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from telegram import Bot, BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatType

from bot.channels._telegram_http import PLACEHOLDER_TOKEN, make_request
from bot.channels._telegram_update import CHANNEL, MAX_TEXT, TelegramUpdate
from bot.i18n import shipped
from bot.logs import SecretRedactor
from bot.settings import TelegramSettings
from handlers.messages import Inbound, InboundKind, Outbound

CONNECTIONS = 64  # Bot API calls in flight at once (Telegram via a proxy is slow)
MAX_CAPTION = 1024
MAX_CALLBACK_BYTES = 64
ALLOWED_UPDATES = ("message", "callback_query")
_GUARDED_LOGGERS = (
    "telegram",
    "telegram.Bot",
    "telegram.BaseRequest",
    "telegram.HTTPXRequest",
    "httpx",
    "httpcore",
    "aiohttp.client",
    "bot.channels.telegram",
)
_redactor: SecretRedactor | None = None
COMMAND_NAMES = ("start", "back", "skip", "lang", "help", "cancel", "stop")

COMMANDS = {  # the command menu; its descriptions are `command_<name>` in bot/locales
    lang: [(name, shipped()(lang, f"command_{name}")) for name in COMMAND_NAMES]
    for lang in ("vi", "en")
}


def make_bot(settings: TelegramSettings, *, connections: int = CONNECTIONS) -> Bot:
    """A PTB Bot for the configured server and proxy; it never sees the real token."""
    assert settings.bot_token is not None
    token = settings.bot_token.get_secret_value()
    proxy = settings.proxy_url or None
    return Bot(
        PLACEHOLDER_TOKEN,
        base_url=settings.api_base_url,
        request=make_request(token, proxy, connections=connections),
        # Long polling: PTB adds the poll's own timeout to this read timeout.
        get_updates_request=make_request(token, proxy, connections=1, read_timeout=10.0),
    )


def guard_logs(secrets: list[str]) -> None:
    """Keep the token and the webhook secret out of every log record, whatever the level.

    httpx logs each request URL at INFO: its loggers stay at WARNING even where
    `configure_logging` did not run. PTB logs call parameters at DEBUG (the webhook
    secret among them): its loggers get a redacting filter of their own, which acts
    before any handler, caplog's included.
    """
    global _redactor
    for name in ("httpx", "httpcore"):
        logger = logging.getLogger(name)
        logger.setLevel(max(logging.WARNING, logger.level))
    redactor = SecretRedactor(secrets)
    for name in _GUARDED_LOGGERS:
        logger = logging.getLogger(name)
        if _redactor is not None:
            logger.removeFilter(_redactor)
        logger.addFilter(redactor)
    _redactor = redactor


def bot_commands() -> dict[str | None, list[BotCommand]]:
    """setMyCommands per language; the default list (no language) is Vietnamese."""
    lists = {lang: [BotCommand(c, d) for c, d in items] for lang, items in COMMANDS.items()}
    return {None: lists["vi"], **lists}


@dataclass(frozen=True)
class Press:
    """A pressed inline button: the query to answer, so its spinner stops."""

    query_id: str


@dataclass(frozen=True)
class Received:
    inbound: Inbound
    press: Press | None = None


def update_key(update_id: int) -> str:
    return f"{CHANNEL}:{update_id}"


def to_inbound(update: Update | TelegramUpdate) -> Received | None:
    """The update as an Inbound, or None for what the survey does not take.

    A PTB `Update` (polling) is first read through the same strict model as the
    webhook's JSON; one that does not fit raises pydantic's ValidationError.
    Only private chats take part: in a group, one chat is not one respondent.
    Edited messages, channel posts and membership changes are acknowledged and left.
    """
    if isinstance(update, Update):
        update = TelegramUpdate.model_validate(update.to_dict())
    key = update_key(update.update_id)
    query = update.callback_query
    if query is not None:
        message = query.message
        if message is None or message.chat.type != ChatType.PRIVATE:
            return None
        press = Press(query.id)
        language = query.sender.language_code
        if not query.data:  # a game button: nothing for the survey
            return Received(_inbound(message.chat.id, InboundKind.OTHER, "", key, language), press)
        inbound = _inbound(message.chat.id, InboundKind.BUTTON, query.data, key, language)
        return Received(inbound, press)
    message = update.message
    if message is None or message.chat.type != ChatType.PRIVATE:
        return None
    language = message.sender.language_code if message.sender else None
    if message.text is not None:
        return Received(_inbound(message.chat.id, InboundKind.TEXT, message.text, key, language))
    if message.is_service:
        return None
    return Received(_inbound(message.chat.id, InboundKind.OTHER, "", key, language))


def _inbound(chat_id: int, kind: InboundKind, text: str, key: str, lang: str | None) -> Inbound:
    return Inbound(CHANNEL, str(chat_id), kind, text, key, lang)


def keyboard(reply: Outbound) -> InlineKeyboardMarkup | None:
    """The reply's choices as inline buttons, `columns` to a row."""
    if not reply.choices:
        return None
    buttons = []
    for choice in reply.choices:
        if len(choice.payload.encode()) > MAX_CALLBACK_BYTES:
            raise ValueError(f"callback data over {MAX_CALLBACK_BYTES} bytes: {choice.payload!r}")
        buttons.append(InlineKeyboardButton(choice.label, callback_data=choice.payload))
    width = max(1, reply.columns)
    return InlineKeyboardMarkup([buttons[i : i + width] for i in range(0, len(buttons), width)])


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Pieces of at most `limit` characters, cut at line ends where possible."""
    text = text or " "
    pieces = []
    while len(text) > limit:
        cut = text.rfind("\n", 0, limit)
        cut = cut if cut > 0 else limit
        pieces.append(text[:cut])
        text = text[cut:].lstrip("\n")
    pieces.append(text)
    return pieces
