"""The Zalo Bot platform channel: the Telegram-like Zalo bot API, by webhook or polling.

Only translates. An update becomes an `Inbound` keyed on event name + message id,
so a redelivered update is applied once. Zalo Bot has no buttons, so questions go
out as text with numbered options and answers come back typed; it has no start
payload either, so the receipt's code is typed as the first message (the survey
accepts that). Stickers, images and the like become `InboundKind.OTHER`.

Webhook: the secret header is compared in constant time; the update is committed
by the processor before the 2xx, and the replies are sent after it. Polling:
getUpdates returns one update per call with nothing to acknowledge, so an update
whose transaction fails is retried here with backoff; dedupe covers a redelivery.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from typing import Annotated, Any

import aiohttp
from aiohttp import web
from pydantic import Field, ValidationError, model_validator

from bot import metrics
from bot.boundary import BoundaryError, SafeText, parse_json, secret_equals
from bot.channels._webhook import (
    MAX_ID,
    EventName,
    Payload,
    PlatformId,
    failed,
    ignored,
    validate,
)
from bot.channels.capabilities import Capabilities
from bot.delivery import Delivery
from bot.inbound import InboundProcessor
from bot.settings import Settings, ZaloBotMode
from bot.web import read_bounded
from bot.zalo.bot_api import ZaloBotApi, ZaloBotError
from bot.zalo.retry import backoff_delay
from bot.zalo.text import ZALO_TEXT_LIMIT
from handlers.messages import Inbound, InboundKind, Outbound

log = logging.getLogger(__name__)

CHANNEL = "zalo_bot"
WEBHOOK_PATH = "/zalo-bot/webhook"
SECRET_HEADER = "X-Bot-Api-Secret-Token"
TEXT_EVENT = "message.text.received"
MAX_UPDATE_BYTES = 64 * 1024  # an update is well under 10 KiB (texts are at most 2,000)
MAX_TEXT = 4096
CAPABILITIES = Capabilities(buttons=0, files=False, max_text=ZALO_TEXT_LIMIT)


class ZaloSender(Payload):
    id: PlatformId
    is_bot: bool = False


class ZaloChat(Payload):
    id: PlatformId


class ZaloMessage(Payload):
    message_id: PlatformId | None = None
    sender: ZaloSender | None = Field(default=None, alias="from")
    chat: ZaloChat | None = None
    date: Annotated[int, Field(ge=0, lt=MAX_ID)] | None = None
    text: SafeText(MAX_TEXT) | None = None

    @model_validator(mode="after")
    def _has_a_chat(self) -> ZaloMessage:
        if self.chat is None and self.sender is None:
            raise ValueError("names neither a chat nor a sender")
        return self


class ZaloUpdate(Payload):
    event_name: EventName
    message: ZaloMessage | None = None


class ZaloEnvelope(Payload):
    """What Zalo posts: the update, bare or wrapped in {ok, result}."""

    update: ZaloUpdate

    @model_validator(mode="before")
    @classmethod
    def _unwrap(cls, data: Any) -> Any:
        if isinstance(data, dict) and "event_name" not in data and "result" in data:
            data = data["result"]
        return {"update": data}


def to_inbound(update: ZaloUpdate) -> Inbound | None:
    """The `Inbound` of a validated update; None if it is not a user's message."""
    event, message = update.event_name, update.message
    if not event.startswith("message.") or message is None:
        return None
    if message.sender is not None and message.sender.is_bot:
        return None
    party = message.chat or message.sender
    assert party is not None  # the model requires one of them
    chat_id = party.id
    if message.message_id is not None:
        update_key = f"{CHANNEL}:{event}:{message.message_id}"
    else:  # no usable id: an identical redelivery is still recognised
        canonical = json.dumps(update.model_dump(mode="json", by_alias=True), sort_keys=True)
        update_key = f"{CHANNEL}:sha256:{hashlib.sha256(canonical.encode()).hexdigest()}"
    if event == TEXT_EVENT and message.text is not None:
        return Inbound(CHANNEL, str(chat_id), InboundKind.TEXT, message.text, update_key)
    return Inbound(CHANNEL, str(chat_id), InboundKind.OTHER, "", update_key)


def parse_update(data: Any) -> Inbound | None:
    """The `Inbound` of an update (bare or wrapped in {ok, result}); None if it is not a
    user's message or does not fit the model (polling, where there is no one to answer)."""
    try:
        envelope = ZaloEnvelope.model_validate(data)
    except ValidationError:
        return None
    return to_inbound(envelope.update)


def may_pass(error: Exception) -> bool:
    """A send failure worth retrying: network, timeout, Zalo's 5xx or 429, not a refusal."""
    if not isinstance(error, ZaloBotError):
        return False
    return error.code is None or error.code == 429 or 500 <= error.code < 600


class ZaloBotChannel:
    name = CHANNEL
    capabilities = CAPABILITIES

    def __init__(self, settings: Settings, processor: InboundProcessor):
        self.settings = settings
        self.config = settings.zalo_bot
        self.processor = processor
        token = self.config.token
        assert token is not None
        self._token = token.get_secret_value()
        secret = self.config.webhook_secret
        self._secret = secret.get_secret_value() if secret is not None else None
        self.http: aiohttp.ClientSession | None = None
        self.api: ZaloBotApi | None = None
        self.delivery = Delivery(processor, self)
        self._task: asyncio.Task[None] | None = None
        self._accepting = False

    @property
    def webhook_mode(self) -> bool:
        return self.config.mode is ZaloBotMode.WEBHOOK

    async def start(self) -> None:
        """Connect (getMe; in polling mode delete any webhook), re-send lost replies, accept
        updates, and only then register the webhook, so that Zalo's first call finds the
        channel ready instead of a 503. If Zalo is unreachable, keep trying in the
        background rather than holding up the other channels."""
        self.http = aiohttp.ClientSession()
        self.api = ZaloBotApi(self.http, self.config.api_base_url, self._token)
        connected = await self._connect() and await self._resend_pending()
        self._accepting = connected
        registered = connected and await self._register()
        self._task = asyncio.create_task(self._run(connected, registered), name="zalo-bot")

    async def stop(self) -> None:
        self._accepting = False
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.delivery.stop()
        if self.http is not None:
            await self.http.close()
        self.api = self.http = None

    async def _run(self, connected: bool, registered: bool) -> None:
        attempt = 0
        while not connected:
            attempt += 1
            await asyncio.sleep(backoff_delay(attempt, cap=300))
            connected = await self._connect() and await self._resend_pending()
        self._accepting = True
        while not registered:
            attempt += 1
            await asyncio.sleep(backoff_delay(attempt, cap=300))
            registered = await self._register()
        if not self.webhook_mode:
            await self._poll()

    async def _resend_pending(self) -> bool:
        try:
            await self.delivery.start()
        except Exception as error:  # noqa: BLE001 - tried again
            log.warning("Zalo Bot: re-sending lost replies failed (%s)", error)
            return False
        return True

    async def _connect(self) -> bool:
        assert self.api is not None
        try:
            me = await self.api.get_me()
            if not self.webhook_mode:
                await self.api.delete_webhook()
        except ZaloBotError as error:
            log.error("Zalo Bot: cannot connect (%s); trying again later", error)
            return False
        name = (me.get("account_name") or me.get("display_name")) if isinstance(me, dict) else ""
        log.info("Zalo Bot: connected as %s (%s)", name or "?", self.config.mode.value)
        return True

    async def _register(self) -> bool:
        """In webhook mode, tell Zalo where to post, once updates are accepted here."""
        if not self.webhook_mode:
            return True
        assert self.api is not None
        assert self._secret is not None and self.settings.public_base_url
        try:
            await self.api.set_webhook(self.settings.public_base_url + WEBHOOK_PATH, self._secret)
        except ZaloBotError as error:
            log.error("Zalo Bot: cannot set the webhook (%s); trying again later", error)
            return False
        return True

    # -- receiving ---------------------------------------------------------------------

    async def _poll(self) -> None:
        assert self.api is not None
        failures = 0
        while True:
            try:
                updates = await self.api.get_updates(self.config.poll_timeout)
            except ZaloBotError as error:
                failures += 1
                delay = backoff_delay(failures)
                log.warning("Zalo Bot: getUpdates failed (%s); retrying in %.0f s", error, delay)
                await asyncio.sleep(delay)
                continue
            failures = 0
            for update in updates:
                envelope = validate(ZaloEnvelope, update, "zalo_bot_polling")
                inbound = to_inbound(envelope.update) if envelope is not None else None
                if inbound is not None:
                    await self._apply_polled(inbound)

    async def _apply_polled(self, inbound: Inbound) -> None:
        """Commit one polled update, retrying while the database is unavailable.

        A polled update is not offered again by Zalo, so it is kept here until its
        transaction succeeds (a crash in between loses it: use webhooks in production).
        """
        attempt = 0
        while True:
            try:
                await self.delivery.take(inbound)
                return
            except Exception as error:  # noqa: BLE001 - retried only if not committed
                if failed(CHANNEL, error) is None:
                    return  # not the database: handled like a handler failure
                attempt += 1
                delay = backoff_delay(attempt, cap=30)
                log.warning("Zalo Bot: storing a polled update failed; retry in %.0f s", delay)
                await asyncio.sleep(delay)

    async def webhook(self, request: web.Request) -> web.Response:
        """Zalo's call: 403 unless the secret matches; 200 only once the update is committed.

        The secret first (bytes, constant time), then a bounded body, bounded JSON and the
        strict model; an authentic update that does not fit is acknowledged and counted.
        """
        if not secret_equals(request.headers.get(SECRET_HEADER), self._secret or ""):
            metrics.increment("zalo_bot_webhook_rejected_total")
            log.warning("Zalo Bot: webhook call with a wrong secret token rejected")
            return web.json_response({"ok": False}, status=403)
        if not self._accepting:
            return web.json_response({"ok": False}, status=503)  # not started yet: Zalo retries
        if request.content_type != "application/json":
            return web.json_response({"ok": False}, status=415)
        try:
            data = parse_json(await read_bounded(request, MAX_UPDATE_BYTES))
        except BoundaryError as error:
            return web.json_response({"ok": False}, status=error.status)
        envelope = validate(ZaloEnvelope, data, CHANNEL)
        if envelope is None:
            return web.json_response({"ok": True})
        inbound = to_inbound(envelope.update)
        if inbound is None:
            ignored(CHANNEL)
            return web.json_response({"ok": True})
        try:
            await self.delivery.take(inbound)
        except Exception as error:  # noqa: BLE001 - 503 only if not committed
            answer = failed(CHANNEL, error)
            if answer is not None:
                return answer
        return web.json_response({"ok": True})

    # -- sending -----------------------------------------------------------------------

    async def send(self, chat_key: str, replies: list[Outbound]) -> None:
        """Proactive messages (the outbox), through the delivery path's shaping."""
        await self.delivery.send(chat_key, replies)

    async def deliver(self, chat_key: str, replies: list[Outbound], proactive: bool) -> None:
        """Each shaped reply as one text (no buttons: its choices are numbered lines)."""
        if self.api is None:
            raise ZaloBotError("sendMessage", None, "channel not started")
        for reply in replies:
            if reply.image is not None or reply.file is not None:
                log.info("Zalo Bot: an image or file cannot be uploaded; its text is sent alone")
            await self.api.send_message(chat_key, reply.text)

    def transient(self, error: Exception) -> bool:
        return may_pass(error)

    async def chore(self, chat_key: str, chore: object) -> None:
        return None


def build(settings: Settings, processor: InboundProcessor, web_app: web.Application):
    """The channel when ZALO_BOT_TOKEN is set; in webhook mode its route on our server."""
    if not settings.zalo_bot.enabled:
        return None
    channel = ZaloBotChannel(settings, processor)
    if channel.webhook_mode:
        web_app.router.add_post(WEBHOOK_PATH, channel.webhook)
    return channel
