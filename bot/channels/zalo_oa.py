"""The Zalo Official Account channel (OA API v3): webhook in, customer-service replies out.

Only translates. Zalo signs each event with `X-ZEvent-Signature: mac=<SHA-256 hex of
app id + raw body + timestamp + OA secret key>`; it is checked in constant time and
a call that fails gets 401 with nothing stored. A valid event is handled inline:
the processor's one transaction (dedupe on event + msg_id, lock, handle) commits,
then 200, and the replies go out after, in a task. That keeps the answer well
inside Zalo's ~2 s (a few milliseconds of database work) without a separate inbox.

Replies are customer-service messages. Up to five choices become oa.query.hide
buttons whose payload is the choice's payload; Zalo sends it back as a user text,
which is recognised by its shape and handled as a button press (a stale or forged
one is harmless: the survey checks nonce and step). A sixth and seventh choice
("no opinion", "skip") are listed to be typed; longer lists go as numbered text.
Free replies are limited to a window after the user's last message: outside it a
reply is not attempted, and that is logged and counted, not silently dropped; the
outbox asks `can_reach` first, so a notice goes by ZNS or the counter instead.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import logging
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any

import aiohttp
from aiohttp import web
from pydantic import BeforeValidator, ValidationError

from bot import metrics
from bot.boundary import BoundaryError, SafeText, ascii_header, ascii_int, parse_json
from bot.channels._webhook import MAX_ID, EventName, Payload, PlatformId, failed, ignored, validate
from bot.channels.capabilities import Capabilities
from bot.delivery import Delivery, shaped
from bot.inbound import InboundProcessor
from bot.settings import Settings
from bot.web import read_bounded
from bot.zalo.oa_api import ZaloOAApi, ZaloOAError
from bot.zalo.text import ZALO_TEXT_LIMIT, split_text
from bot.zalo.tokens import TokenUnavailable, ZaloOATokens
from bot.zalo.windows import ReplyWindows
from bot.zalo.zns import ZnsClient
from handlers.messages import Choice, Inbound, InboundKind, Outbound

log = logging.getLogger(__name__)

CHANNEL = "zalo_oa"
WEBHOOK_PATH = "/zalo-oa/webhook"
SIGNATURE_HEADER = "X-ZEvent-Signature"
MAX_BUTTONS = 5
BUTTON_TITLE_LIMIT = 100  # [S]
TICK_SECONDS = 60.0
MAX_EVENT_BYTES = 64 * 1024  # an event is well under 10 KiB (texts are at most 2,000)
MAX_TEXT = 4096
# `"timestamp": "1700000000000"` or `"timestamp": 1700000000000` in the raw body.
_TIMESTAMP_FIELD = re.compile(rb'"timestamp"\s*:\s*(?:"([0-9]{1,16})"|([0-9]{1,16})(?![0-9.eE]))')
_TIMESTAMP_CANDIDATES = 4
# A survey button payload: kind.nonce.target[.value] (see handlers.survey._payloads).
_BUTTON_PAYLOAD = re.compile(r"[a-z]\.[0-9A-Za-z]{1,16}\.[0-9]{1,10}(\.[0-9A-Za-z]{1,8})?")

CAPABILITIES = Capabilities(buttons=MAX_BUTTONS, files=False, max_text=ZALO_TEXT_LIMIT)


class OutsideReplyWindow(Exception):
    """Zalo would refuse (or charge) these replies: the user's free window is used up."""


def signature(app_id: str, body: bytes, timestamp: str, key: str) -> str:
    """The X-ZEvent-Signature Zalo sends with an event."""
    digest = hashlib.sha256(app_id.encode() + body + timestamp.encode() + key.encode())
    return "mac=" + digest.hexdigest()


def _millis(value: Any) -> int:
    """Zalo's timestamp (milliseconds since 1970), given as digits or as a whole number."""
    number = ascii_int(value, 16) if isinstance(value, str) else value
    if isinstance(number, bool) or not isinstance(number, int) or not 0 <= number < MAX_ID:
        raise ValueError("must be milliseconds since 1970, as digits or a whole number")
    return number


class OAParty(Payload):
    id: PlatformId


class OAMessage(Payload):
    msg_id: PlatformId | None = None
    text: SafeText(MAX_TEXT) | None = None


class OAEvent(Payload):
    """An event of the OA webhook; `sender` is absent from some (follow, …) that we ignore."""

    app_id: SafeText(32, min_length=1)
    event_name: EventName
    timestamp: Annotated[int, BeforeValidator(_millis)]
    sender: OAParty | None = None
    recipient: OAParty | None = None
    message: OAMessage | None = None

    @property
    def sent_at(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp / 1000, UTC)


def to_inbound(event: OAEvent) -> Inbound | None:
    """The `Inbound` of a user's event; None for other events (follow, seen, the OA's own)."""
    name = event.event_name
    if not name.startswith("user_send_") or event.sender is None:
        return None
    chat_key = str(event.sender.id)
    message = event.message or OAMessage()
    if message.msg_id is not None:
        update_key = f"{CHANNEL}:{name}:{message.msg_id}"
    else:  # no usable id: an identical redelivery is still recognised
        canonical = json.dumps(event.model_dump(mode="json"), sort_keys=True)
        update_key = f"{CHANNEL}:sha256:{hashlib.sha256(canonical.encode()).hexdigest()}"
    text = message.text
    if name == "user_send_text" and text is not None:
        if _BUTTON_PAYLOAD.fullmatch(text):
            return Inbound(CHANNEL, chat_key, InboundKind.BUTTON, text, update_key)
        return Inbound(CHANNEL, chat_key, InboundKind.TEXT, text, update_key)
    return Inbound(CHANNEL, chat_key, InboundKind.OTHER, "", update_key)


def parse_event(data: Any) -> tuple[Inbound, datetime] | None:
    """The `Inbound` of a user's event and when it was sent; None for other events or
    for data that does not fit the model."""
    try:
        event = OAEvent.model_validate(data)
    except ValidationError:
        return None
    inbound = to_inbound(event)
    return None if inbound is None else (inbound, event.sent_at)


def signed_timestamp(body: bytes, given: bytes | None, app_id: str, key: str) -> str | None:
    """The timestamp the body was signed with, if `given` is Zalo's signature of it.

    The signature covers app id + body + timestamp, and the timestamp is a field of
    the body: it is found in the raw bytes (no JSON parsing before authentication).
    A quote inside a JSON string is escaped, so a text cannot fake the field; the few
    candidates are each checked in constant time. The parsed event must then carry
    the same timestamp.
    """
    if not given:
        return None
    for match in itertools.islice(_TIMESTAMP_FIELD.finditer(body), _TIMESTAMP_CANDIDATES):
        timestamp = (match[1] or match[2]).decode("ascii")
        if hmac.compare_digest(given, signature(app_id, body, timestamp, key).encode()):
            return timestamp
    return None


def render(reply: Outbound) -> tuple[str, list[Choice]]:
    """The text to send and the choices that become buttons (as the delivery path
    shapes them for this channel)."""
    shown = shaped(reply, CAPABILITIES)
    return shown.text, list(shown.choices)


def _title(label: str) -> str:
    return label if len(label) <= BUTTON_TITLE_LIMIT else label[: BUTTON_TITLE_LIMIT - 1] + "…"


def may_pass(error: Exception) -> bool:
    """A send failure worth retrying: network, timeout or an unreadable (5xx) answer, or
    no token for now; not Zalo's refusals (they carry a code) nor the reply window."""
    if isinstance(error, ZaloOAError):
        return error.code is None
    return isinstance(error, TokenUnavailable)


class ChannelZns:
    """The OA's ZNS client, offered as `channel.zns` to whoever sends notices by phone
    number (the outbox); it works once the channel has started (token and session)."""

    def __init__(self, channel: ZaloOAChannel):
        self._channel = channel

    async def send(self, phone: str, values: Mapping[str, Any], tracking_id: str) -> str | None:
        api = self._channel.api
        if api is None:
            raise ZaloOAError("ZNS template message", None, "the Zalo OA channel is not running")
        return await ZnsClient(api, self._channel.config).send(phone, values, tracking_id)


class ZaloOAChannel:
    name = CHANNEL
    capabilities = CAPABILITIES

    def __init__(self, settings: Settings, processor: InboundProcessor):
        self.settings = settings
        self.config = settings.zalo_oa
        self.processor = processor
        assert self.config.app_id is not None and self.config.signature_key is not None
        self.app_id = self.config.app_id
        self._key = self.config.signature_key.get_secret_value()
        self.windows = ReplyWindows(
            processor.database,
            self.config.reply_window_hours,
            self.config.reply_window_messages,
            processor.clock,
        )
        self.delivery = Delivery(processor, self)
        self.http: aiohttp.ClientSession | None = None
        self.tokens: ZaloOATokens | None = None
        self.api: ZaloOAApi | None = None
        self._task: asyncio.Task[None] | None = None
        self._accepting = False
        self.zns = ChannelZns(self) if self.config.zns_template_id else None

    async def start(self) -> None:
        """Seed the token row, get a token, queue the lost replies, then accept events.

        Events are refused (503, so Zalo retries) until the lost replies are queued, so
        that they reach a chat before the replies to whatever it sends next.
        """
        self.http = aiohttp.ClientSession()
        self.tokens = ZaloOATokens(
            self.processor.database, self.config, self.http, self.processor.clock
        )
        await self.tokens.seed()
        self.api = ZaloOAApi(self.http, self.config, self.tokens)
        token_ok = await self._check_token() and await self._resend_pending()
        self._accepting = True
        where = self.settings.public_base_url or f"http://{self.settings.http_listen}"
        log.info("Zalo OA: events expected at %s%s (set it in the console)", where, WEBHOOK_PATH)
        self._task = asyncio.create_task(self._tick_forever(token_ok), name="zalo-oa")

    async def stop(self) -> None:
        self._accepting = False
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.delivery.stop()
        if self.http is not None:
            await self.http.close()
        self.api = self.tokens = self.http = None

    async def _check_token(self) -> bool:
        assert self.tokens is not None
        try:
            await self.tokens.access_token()
        except TokenUnavailable as error:
            log.warning("Zalo OA: %s", error)
            return False
        except Exception as error:  # noqa: BLE001 - the database is unavailable
            log.warning("Zalo OA: checking the access token failed (%s)", error)
            return False
        return True

    async def _tick_forever(self, token_ok: bool) -> None:
        """Keep the token fresh; after a token outage, re-send the replies it held up."""
        ticks = 0
        while True:
            await asyncio.sleep(TICK_SECONDS)
            ticks += 1
            if not await self._check_token():
                token_ok = False
            elif not token_ok:
                token_ok = await self._resend_pending()
            if ticks % 60 == 1:
                try:
                    await self.windows.forget_closed()
                except Exception as error:  # noqa: BLE001 - tried again in an hour
                    log.warning("Zalo OA: clearing old reply windows failed (%s)", error)

    async def _resend_pending(self) -> bool:
        try:
            await self.delivery.start()
        except Exception as error:  # noqa: BLE001 - tried again at the next tick
            log.warning("Zalo OA: re-sending lost replies failed (%s)", error)
            return False
        return True

    # -- receiving ---------------------------------------------------------------------

    async def webhook(self, request: web.Request) -> web.Response:
        """An event: 401 unless signed by Zalo for our app; 200 once it is committed.

        The signature is checked on the raw bounded body before anything is parsed;
        then bounded JSON, the strict model, our app id, and the replay window (an
        authentic event too far from our clock is refused and counted).
        """
        given = ascii_header(request.headers.get(SIGNATURE_HEADER))
        if not given:
            return self._reject("no signature")
        try:
            body = await read_bounded(request, MAX_EVENT_BYTES)
        except BoundaryError as error:
            return web.json_response({"error": error.status}, status=error.status)
        timestamp = signed_timestamp(body, given, self.app_id, self._key)
        if timestamp is None:
            return self._reject("a wrong signature")
        if not self._accepting:
            return web.json_response({"error": 503}, status=503)  # not started: Zalo retries
        try:
            data = parse_json(body)
        except BoundaryError as error:
            return web.json_response({"error": error.status}, status=error.status)
        event = validate(OAEvent, data, CHANNEL)
        if event is None:
            return web.json_response({"error": 0})
        if event.app_id != self.app_id or event.timestamp != int(timestamp):
            return self._reject("another app id or timestamp than the signed ones")
        now = self.processor.clock()
        if abs((now - event.sent_at).total_seconds()) > self.config.replay_window_seconds:
            metrics.increment("zalo_oa_webhook_stale_total")
            log.warning("Zalo OA: a signed event outside the replay window refused")
            return web.json_response({"error": 403}, status=403)
        inbound = to_inbound(event)
        if inbound is None:
            ignored(CHANNEL)
            return web.json_response({"error": 0})
        try:
            await self.windows.open(inbound.chat_key, min(event.sent_at, now))
            await self.delivery.take(inbound)
        except Exception as error:  # noqa: BLE001 - 503 only if not committed
            answer = failed(CHANNEL, error)
            if answer is not None:
                return answer
        return web.json_response({"error": 0})

    def _reject(self, why: str) -> web.Response:
        metrics.increment("zalo_oa_webhook_rejected_total")
        log.warning("Zalo OA: webhook call with %s rejected", why)
        return web.json_response({"error": 401}, status=401)

    # -- sending -----------------------------------------------------------------------

    async def send(self, chat_key: str, replies: list[Outbound]) -> None:
        """Proactive messages (the outbox), through the delivery path's shaping."""
        await self.delivery.send(chat_key, replies)

    def transient(self, error: Exception) -> bool:
        return may_pass(error)

    async def chore(self, chat_key: str, chore: object) -> None:
        return None

    async def can_reach(self, chat_key: str, replies: list[Outbound]) -> bool:
        """Whether the user's free reply window holds these replies now (none is used).

        The outbox asks before a proactive send, so a notice the window cannot hold goes
        by ZNS or the counter at once instead of waiting for a window that may not open.
        """
        shown = [shaped(reply, CAPABILITIES) for reply in replies]
        return await self.windows.has_room(chat_key, max(1, len(_messages(shown))))

    async def deliver(self, chat_key: str, replies: list[Outbound], proactive: bool) -> None:
        """Customer-service messages, if the user's free reply window holds them all."""
        if self.api is None:
            raise TokenUnavailable("channel not started")
        for reply in replies:
            if reply.image is not None or reply.file is not None:
                log.info("Zalo OA: an image or file cannot be uploaded; its text is sent alone")
        messages = _messages(replies)
        if not messages:
            return
        if not await self.windows.take(chat_key, len(messages)):
            metrics.increment("zalo_oa_outside_window_total")
            log.warning(
                "Zalo OA: %d replies fall outside the user's free reply window "
                "(%d messages within %g h of their last message): not sent",
                len(messages),
                self.config.reply_window_messages,
                self.config.reply_window_hours,
            )
            raise OutsideReplyWindow("outside the free reply window")
        sent = 0
        try:
            for text, buttons in messages:
                await self.api.send_cs(
                    chat_key, text, [(_title(choice.label), choice.payload) for choice in buttons]
                )
                sent += 1
        except (TokenUnavailable, ZaloOAError) as error:
            # Not sent for sure (no token, or Zalo refused it with a code): its credits come
            # back. A network error may have delivered it, so those stay used.
            if isinstance(error, TokenUnavailable) or error.code is not None:
                await self.windows.give_back(chat_key, len(messages) - sent)
            raise


def _messages(replies: list[Outbound]) -> list[tuple[str, list[Choice]]]:
    """The platform messages of shaped replies: long texts cut, buttons on the last piece."""
    messages: list[tuple[str, list[Choice]]] = []
    for reply in replies:
        buttons = list(reply.choices)
        pieces = split_text(reply.text) or (["…"] if buttons else [])
        messages += [(piece, []) for piece in pieces[:-1]]
        if pieces:
            messages.append((pieces[-1], buttons))
    return messages


def build(settings: Settings, processor: InboundProcessor, web_app: web.Application):
    """The channel when ZALO_OA_APP_ID and its secrets are set, with its webhook route."""
    if not settings.zalo_oa.enabled:
        return None
    channel = ZaloOAChannel(settings, processor)
    web_app.router.add_post(WEBHOOK_PATH, channel.webhook)
    return channel
