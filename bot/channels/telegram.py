"""Telegram channel: updates in by polling or webhook, replies out, nothing lost.

An update is acknowledged to Telegram only once its effects are committed: the
webhook route answers 2xx after `processor.process` returned (non-2xx while the
database cannot commit, so Telegram delivers it again), and in polling mode the
offset passes an update only after its commit. PTB's Updater confirms offsets
before the handlers run, so the polling loop here calls getUpdates itself; PTB
is used for its client and types, not its Application.

Order per chat, sending after the commit, retries, confirmation and the re-send
after a crash are the one delivery path's (bot.delivery); this module translates:
updates to `Inbound`, shaped replies to Bot API calls, and a pressed button's
chore (answering its query).

One message call per answer: the next question is a new message, and the answered
question keeps its keyboard (it used to lose it, by an edit: two message calls per
answer, so a token carried about 15 answers/s under Telegram's ~30 messages/s). Of
the designs costing one call, this reads best on a phone: every question stays in
the chat as it was asked, the new one arrives below with the usual notification,
nothing changes under the citizen's thumb. Editing the answered question into the
next one would leave the chat without its history and change a message that older
citizens may be reading or about to press, with no sign that anything new came.
A press on an older keyboard changes nothing: its payload names its session and
step, and the survey answers it politely ("that button belongs to an earlier
question") with the current question again. answerCallbackQuery still answers
every press, at once, so the spinner stops; it is not counted as a message call
(it sends nothing to the chat, and Telegram's per-second limits are on messages),
and the benchmark prints it apart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from functools import partial

from aiohttp import web
from pydantic import ValidationError
from telegram import Bot, Update
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, NetworkError, RetryAfter

from bot import metrics
from bot.boundary import BoundaryError, describe_errors, parse_json, secret_equals
from bot.channels._telegram_api import (
    ALLOWED_UPDATES,
    CHANNEL,
    MAX_CAPTION,
    MAX_TEXT,
    Press,
    Received,
    bot_commands,
    guard_logs,
    keyboard,
    make_bot,
    split_text,
    to_inbound,
)
from bot.channels._telegram_flood import FloodControl, patiently, retry_seconds, scope_of
from bot.channels._telegram_update import TelegramUpdate
from bot.channels._webhook import failed, ignored, unusable, validate
from bot.channels.capabilities import Capabilities
from bot.delivery import Delivery
from bot.inbound import InboundProcessor
from bot.rate_budget import budget_of
from bot.settings import Settings, TelegramMode
from bot.web import read_bounded
from handlers.messages import Outbound

log = logging.getLogger("bot.channels.telegram")

WEBHOOK_PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_UPDATE_BYTES = 256 * 1024  # a Telegram update is a few KiB; anything larger is not one
POLL_TIMEOUT = 25  # seconds a getUpdates call waits for updates
CAPABILITIES = Capabilities(buttons=100, files=True, max_text=MAX_TEXT)


def build(
    settings: Settings, processor: InboundProcessor, web_app: web.Application
) -> TelegramChannel | None:
    if not settings.telegram.enabled:
        return None
    guard_logs(
        [
            secret.get_secret_value()
            for secret in (settings.telegram.bot_token, settings.telegram.webhook_secret)
            if secret is not None
        ]
    )
    channel = TelegramChannel(settings, processor, make_bot(settings.telegram))
    if settings.telegram.mode is TelegramMode.WEBHOOK:
        web_app.router.add_post(WEBHOOK_PATH, channel.webhook)
    return channel


class TelegramChannel:
    name = CHANNEL
    capabilities = CAPABILITIES

    def __init__(self, settings: Settings, processor: InboundProcessor, bot: Bot):
        self.settings = settings.telegram
        self.public_base_url = settings.public_base_url
        self.processor = processor
        self.bot = bot
        self.flood = FloodControl(
            self.settings.chat_rate,
            self.settings.chat_burst,
            self.settings.global_rate,
            min(self.settings.bulk_rate, settings.outbox.rate(CHANNEL)),
            budget=budget_of(processor.database),
            scope=scope_of(self.settings.bot_token),
        )
        self.delivery = Delivery(processor, self)
        self._accepting = False
        self._closing = False
        self._poller: asyncio.Task | None = None

    # -- life cycle ------------------------------------------------------------------

    async def start(self) -> None:
        await patiently(self.bot.initialize)  # getMe: fails here on a wrong token
        await self._register_commands()
        if self.settings.mode is TelegramMode.WEBHOOK:
            await patiently(
                partial(
                    self.bot.set_webhook,
                    f"{self.public_base_url}{WEBHOOK_PATH}",
                    allowed_updates=ALLOWED_UPDATES,
                    secret_token=self._secret(),
                )
            )
        else:
            await patiently(partial(self.bot.delete_webhook, drop_pending_updates=False))
        await self.delivery.start()  # confirming, and sweeping for what dead processes left
        if self.settings.mode is TelegramMode.WEBHOOK:
            self._accepting = True
        else:
            self._poller = asyncio.create_task(self._poll(), name="telegram-polling")

    async def stop(self) -> None:
        self._accepting = False
        self._closing = True
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
        await self.delivery.stop()  # a clean stop leaves nothing to re-send
        await self.bot.shutdown()

    async def _register_commands(self) -> None:
        for language, commands in bot_commands().items():
            try:
                await patiently(partial(self.bot.set_my_commands, commands, language_code=language))
            except Exception as error:  # noqa: BLE001 - a menu is not worth failing the start
                log.warning("setMyCommands (%s) failed: %s", language or "default", error)

    def _secret(self) -> str:
        assert self.settings.webhook_secret is not None
        return self.settings.webhook_secret.get_secret_value()

    # -- receiving -----------------------------------------------------------------------

    async def webhook(self, request: web.Request) -> web.Response:
        """Answer 2xx only once the update is committed; Telegram re-sends anything else.

        The secret header first (bytes, constant time; a header that is not ASCII is
        simply wrong), then a bounded body, bounded JSON and the strict model. An
        authentic update that does not fit the model is acknowledged and counted.
        """
        if not secret_equals(request.headers.get(SECRET_HEADER), self._secret()):
            metrics.increment("telegram_webhook_rejected_total")
            return web.Response(status=403, text="forbidden")
        if not self._accepting:
            return web.Response(status=503, text="not started")  # Telegram retries
        if request.content_type != "application/json":
            return web.Response(status=415, text="JSON expected")
        try:
            data = parse_json(await read_bounded(request, MAX_UPDATE_BYTES))
        except BoundaryError as error:
            return web.Response(status=error.status, text=error.reason)
        update = validate(TelegramUpdate, data, CHANNEL)
        if update is None:
            return web.Response(status=200)
        received = to_inbound(update)
        if received is None:
            ignored(CHANNEL)
            return web.Response(status=200)
        try:
            await self._apply(received)
        except Exception as error:  # noqa: BLE001 - 503 only if not committed
            answer = failed(CHANNEL, error)
            if answer is not None:
                return answer
        return web.Response(status=200)

    async def _poll(self) -> None:
        """getUpdates ourselves: the offset moves past an update only after its commit."""
        offset: int | None = None
        failures = 0
        while True:
            try:
                updates = await self.bot.get_updates(
                    offset=offset, timeout=POLL_TIMEOUT, allowed_updates=ALLOWED_UPDATES
                )
            except RetryAfter as error:
                await asyncio.sleep(retry_seconds(error))
                continue
            except InvalidToken:
                log.error("Telegram rejected the bot token: polling stopped")
                return
            except Conflict:
                log.warning("another getUpdates or a webhook is active for this bot; retrying")
                await asyncio.sleep(5)
                continue
            except NetworkError as error:
                failures += 1
                log.warning("getUpdates failed (%s)", error)
                await asyncio.sleep(min(0.5 * 2**failures, 30))
                continue
            failures = 0
            if updates:
                offset = await self._apply_batch(updates)

    async def _apply_batch(self, updates: tuple[Update, ...]) -> int:
        """Apply a batch, chats concurrently; the offset to confirm it with.

        If an update cannot be committed, the offset stops at it: it and the
        updates after it come again (those already applied are recognised by
        their update key and change nothing).
        """
        by_chat: dict[str, list[tuple[int, Received]]] = {}
        for update in updates:
            try:
                received = to_inbound(update)
            except ValidationError as error:  # fetched again, it would not fit again
                unusable("telegram_polling", "; ".join(describe_errors(error)[:3]))
                continue
            if received is not None:
                by_chat.setdefault(received.inbound.chat_key, []).append(
                    (update.update_id, received)
                )

        async def apply_in_order(items: list[tuple[int, Received]]) -> int | None:
            for update_id, received in items:
                try:
                    await self._apply(received)
                except Exception as error:  # noqa: BLE001 - not committed: fetch it again
                    if failed(CHANNEL, error) is None:
                        continue  # not the database: handled like a handler failure
                    return update_id
            return None

        unapplied = [
            update_id
            for update_id in await asyncio.gather(*map(apply_in_order, by_chat.values()))
            if update_id is not None
        ]
        if unapplied:
            await asyncio.sleep(1)
            return min(unapplied)
        return max(update.update_id for update in updates) + 1

    async def _apply(self, received: Received) -> None:
        """Commit one update through the delivery path. Raises if not committed."""
        await self.delivery.take(received.inbound, received.press)

    # -- sending -------------------------------------------------------------------------

    def transient(self, error: Exception) -> bool:
        """Network failures and timeouts may pass (429 is waited out in `patiently`);
        Forbidden (blocked) and BadRequest would be refused again."""
        return isinstance(error, NetworkError) and not isinstance(error, (Forbidden, BadRequest))

    async def deliver(self, chat_key: str, replies: list[Outbound], proactive: bool) -> None:
        """Shaped replies as messages; proactive ones (the outbox) at the bulk pace.

        Those pass the bulk bucket before the overall one, so they join the overall
        queue no faster than TELEGRAM_BULK_RATE and replies keep the rest.
        """
        pace = self.flood.bulk_message if proactive else self.flood.message
        for reply in replies:
            await self._send(int(chat_key), reply, partial(pace, chat_key), proactive)

    async def chore(self, chat_key: str, chore: object) -> None:
        """A pressed button's: stop its spinner. Its keyboard stays (module docstring)."""
        assert isinstance(chore, Press)
        await self._answer(chore)

    async def _answer(self, press: Press) -> None:
        """Stop the button's spinner. A query too old to answer is no matter."""
        try:
            await patiently(
                partial(self.bot.answer_callback_query, press.query_id),
                giving_up=lambda: self._closing,
            )
        except Exception as error:  # noqa: BLE001
            log.debug("answerCallbackQuery failed: %s", error)

    async def _send(
        self,
        chat_id: int,
        reply: Outbound,
        pace: Callable[[], Awaitable[None]],
        proactive: bool = False,
    ) -> None:
        markup = keyboard(reply)
        text = reply.text  # shaped: instruction appended, the choices are the buttons
        # A proactive send that timed out goes back to the outbox, which counts it as
        # uncertain (it may have arrived) before trying again.
        send = partial(
            patiently, pace=pace, giving_up=lambda: self._closing, retry_timeouts=not proactive
        )
        if reply.image is not None or reply.file is not None:
            caption = text if len(text) <= MAX_CAPTION else None
            with_markup = markup if caption is not None else None
            if reply.image is not None:
                await send(
                    partial(
                        self.bot.send_photo,
                        chat_id,
                        reply.image,
                        caption=caption,
                        reply_markup=with_markup,
                    )
                )
            else:
                await send(
                    partial(
                        self.bot.send_document,
                        chat_id,
                        reply.file,
                        filename=reply.file_name or "file",
                        caption=caption,
                        reply_markup=with_markup,
                    )
                )
            if caption is not None:
                return
        pieces = split_text(text)
        for index, piece in enumerate(pieces):
            last = index == len(pieces) - 1
            with_markup = markup if last else None
            await send(partial(self.bot.send_message, chat_id, piece, reply_markup=with_markup))

    async def send(self, chat_key: str, replies: list[Outbound]) -> None:
        """Deliver proactive messages (the outbox: notices, invitations) at the bulk pace.

        A 429 is waited out, so a message of several parts is never restarted;
        Forbidden (blocked), BadRequest and, after retries, NetworkError are raised
        for the caller to record.
        """
        await self.delivery.send(chat_key, replies)
