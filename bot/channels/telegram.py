"""Telegram channel: updates in by polling or webhook, replies out, nothing lost.

An update is acknowledged to Telegram only once its effects are committed: the
webhook route answers 2xx after `processor.process` returned (non-2xx while the
database cannot commit, so Telegram delivers it again), and in polling mode the
offset passes an update only after its commit. PTB's Updater confirms offsets
before the handlers run, so the polling loop here calls getUpdates itself; PTB
is used for its client and types, not its Application.

Updates of one chat are applied one at a time in arrival order (a lock per
chat; the database also locks the chat's row); different chats run concurrently.
Replies are sent after the commit by one worker per chat, in order, and the
chat's delivery is confirmed (`processor.confirm_delivered`) only when nothing
committed for that chat is still unsent, and only once the chat has been quiet
for a few seconds (one transaction per pause, not per answer); what a crash
loses is re-sent at the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial

from aiohttp import web
from pydantic import ValidationError
from telegram import Bot, Update
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, NetworkError, RetryAfter

from bot import metrics
from bot.boundary import BoundaryError, describe_errors, parse_json, secret_equals
from bot.channels import instructed
from bot.channels._after_commit import REPLY_QUEUE_LIMIT
from bot.channels._telegram_api import (
    ALLOWED_UPDATES,
    CHANNEL,
    MAX_CAPTION,
    Press,
    Received,
    bot_commands,
    guard_logs,
    keyboard,
    make_bot,
    split_text,
    to_inbound,
)
from bot.channels._telegram_flood import FloodControl, patiently, retry_seconds
from bot.channels._telegram_update import TelegramUpdate
from bot.channels._webhook import failed, ignored, unusable, validate
from bot.channels.capabilities import TELEGRAM
from bot.inbound import InboundProcessor
from bot.rendering import prepare
from bot.settings import Settings, TelegramMode
from bot.web import read_bounded
from handlers.messages import Outbound

log = logging.getLogger("bot.channels.telegram")

WEBHOOK_PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_UPDATE_BYTES = 256 * 1024  # a Telegram update is a few KiB; anything larger is not one
POLL_TIMEOUT = 25  # seconds a getUpdates call waits for updates
STOP_GRACE = 10.0  # seconds stop() waits for replies still being sent
# A delivery is recorded (confirm_delivered, one transaction) once the chat has been
# quiet this long; an answer that comes sooner makes it moot, as its own delivery will
# be recorded. Most answers come within seconds, so this saves a transaction per answer;
# the price is that a crash re-sends the current question to chats active just before.
CONFIRM_WHEN_QUIET = 10.0
CONFIRM_TICK = 1.0


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


@dataclass
class _Delivery:
    replies: list[Outbound]
    press: Press | None = None


@dataclass
class _Chat:
    """One chat's turn to be processed, and its replies not yet delivered (oldest first)."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    queue: deque[_Delivery] = field(default_factory=deque)
    worker: asyncio.Task | None = None
    users: int = 0
    confirm: bool = False


class TelegramChannel:
    name = CHANNEL

    def __init__(self, settings: Settings, processor: InboundProcessor, bot: Bot):
        self.settings = settings.telegram
        self.public_base_url = settings.public_base_url
        self.processor = processor
        self.bot = bot
        self.flood = FloodControl(
            self.settings.chat_rate,
            self.settings.chat_burst,
            self.settings.global_rate,
            self.settings.bulk_rate,
        )
        self._chats: dict[str, _Chat] = {}
        # SQLite has one writer at a time, and a transaction that finds the file locked
        # sleeps in SQLite's busy handler (1 ms, 2 ms, … 100 ms): queueing ours here
        # instead keeps the waits short and in order. PostgreSQL needs no such turn.
        self._database_turn: contextlib.AbstractAsyncContextManager = (
            asyncio.Lock() if processor.database.is_sqlite else contextlib.nullcontext()
        )
        self._accepting = False
        self._closing = False
        self._poller: asyncio.Task | None = None
        self._unconfirmed: dict[str, float] = {}  # chat -> when to record its delivery
        self._confirmer: asyncio.Task | None = None

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
        self._confirmer = asyncio.create_task(self._confirm_quiet_chats(), name="telegram-confirm")
        resent = await self._resend_pending()
        if resent:
            log.info("re-sending the current question to %d chats", resent)
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
        workers = [chat.worker for chat in self._chats.values() if chat.worker is not None]
        if workers:
            _, late = await asyncio.wait(workers, timeout=STOP_GRACE)
            for task in late:  # their replies stay pending: re-sent at the next start
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        if self._confirmer is not None:
            self._confirmer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._confirmer
        await self._confirm(due_by=None)  # a clean stop leaves nothing to re-send
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

    # -- one chat at a time ------------------------------------------------------------

    def _chat(self, chat_key: str) -> _Chat:
        chat = self._chats.get(chat_key)
        if chat is None:
            chat = self._chats[chat_key] = _Chat()
        return chat

    def _forget_if_idle(self, chat_key: str, chat: _Chat) -> None:
        idle = chat.users == 0 and chat.worker is None and not chat.queue
        if idle and self._chats.get(chat_key) is chat:
            del self._chats[chat_key]

    async def _apply(self, received: Received) -> None:
        """Commit one update; its replies wait in the chat's queue. Raises if not committed."""
        chat_key = received.inbound.chat_key
        chat = self._chat(chat_key)
        chat.users += 1
        try:
            async with chat.lock:
                async with self._database_turn:
                    replies = await self.processor.process(received.inbound)
                if replies or received.press is not None:
                    self._enqueue(chat_key, chat, _Delivery(replies, received.press))
        finally:
            chat.users -= 1
            self._forget_if_idle(chat_key, chat)

    def _enqueue(self, chat_key: str, chat: _Chat, delivery: _Delivery) -> None:
        """Queue one update's replies; past the limit the oldest unsent are dropped.

        A chat that writes faster than its replies can go out (about one a second)
        would otherwise grow its queue without bound. The dropped replies answer
        updates the citizen has already moved past; the newest, the current
        question, is always kept. Other chats have queues of their own.
        """
        chat.queue.append(delivery)
        while len(chat.queue) > REPLY_QUEUE_LIMIT:
            chat.queue.popleft()
            metrics.increment("telegram_replies_dropped_total")
        if chat.worker is None:
            chat.worker = asyncio.create_task(self._drain(chat_key, chat))

    async def _resend_pending(self) -> int:
        """Queue the current question for chats whose last reply may have been lost.

        Queued before any new update is taken, so it reaches the citizen before
        the replies to whatever they send next.
        """
        pending = await self.processor.pending_replies(CHANNEL)
        for item in pending:
            self._enqueue(item.chat_key, self._chat(item.chat_key), _Delivery(item.replies))
        return len(pending)

    async def _drain(self, chat_key: str, chat: _Chat) -> None:
        """Deliver the chat's queue in order; confirm once nothing committed is unsent."""
        try:
            while True:
                while chat.queue:
                    delivery = chat.queue.popleft()  # the worker itself marks the chat busy
                    delivered = await self._deliver(chat_key, delivery)
                    if delivery.replies:
                        chat.confirm = delivered
                if chat.confirm:
                    chat.confirm = False
                    self._unconfirmed[chat_key] = time.monotonic() + CONFIRM_WHEN_QUIET
                return
        finally:
            chat.worker = None
            self._forget_if_idle(chat_key, chat)

    async def _confirm_quiet_chats(self) -> None:
        while True:
            await asyncio.sleep(CONFIRM_TICK)
            await self._confirm(due_by=time.monotonic())

    async def _confirm(self, due_by: float | None) -> None:
        """Record the deliveries of chats quiet since (all of them if `due_by` is None).

        Under the chat's lock, and only if nothing of the chat waits to be sent:
        then every update it committed has had its replies delivered.
        """
        due = [k for k, at in self._unconfirmed.items() if due_by is None or at <= due_by]
        for chat_key in due:
            del self._unconfirmed[chat_key]
            chat = self._chat(chat_key)
            chat.users += 1
            try:
                async with chat.lock:
                    if chat.queue or chat.worker is not None:
                        continue  # that delivery will ask again
                    try:
                        async with self._database_turn:
                            await self.processor.confirm_delivered(CHANNEL, chat_key)
                    except Exception as error:  # noqa: BLE001 - only means a re-send later
                        log.warning("could not record a delivery: %r", type(error))
            finally:
                chat.users -= 1
                self._forget_if_idle(chat_key, chat)

    # -- sending -------------------------------------------------------------------------

    async def _deliver(self, chat_key: str, delivery: _Delivery) -> bool:
        """Send one update's replies; False if they may not have reached the citizen.

        A pressed button's chores (answering the query, removing the keyboard) go
        alongside the replies rather than before them: the next question arrives a
        round trip sooner, which through a proxy to Telegram is a noticeable wait.
        """
        chat_id = int(chat_key)
        chores = None
        if delivery.press is not None:
            chores = asyncio.gather(
                self._answer(delivery.press), self._remove_keyboard(chat_id, delivery.press)
            )
        try:
            return await self._send_replies(chat_key, chat_id, delivery.replies)
        finally:
            if chores is not None:
                await chores

    async def _send_replies(self, chat_key: str, chat_id: int, replies: list[Outbound]) -> bool:
        for reply in replies:
            try:
                await self._send(chat_id, reply, partial(self.flood.message, chat_key))
            except Forbidden:
                log.info("a citizen has blocked the bot; their replies are dropped")
                return True  # nothing to re-send: it would be refused again
            except BadRequest as error:
                log.error("Telegram refused a reply: %s", error)
            except Exception as error:  # noqa: BLE001 - network down or a bug: re-send later
                log.warning("a reply could not be sent (%r); re-sent at next start", error)
                return False
        return True

    async def _answer(self, press: Press) -> None:
        """Stop the button's spinner. A query too old to answer is no matter."""
        try:
            await patiently(
                partial(self.bot.answer_callback_query, press.query_id),
                giving_up=lambda: self._closing,
            )
        except Exception as error:  # noqa: BLE001
            log.debug("answerCallbackQuery failed: %s", error)

    async def _remove_keyboard(self, chat_id: int, press: Press) -> None:
        """The pressed message's buttons go, so an old question cannot be answered twice."""
        if press.message_id is None:
            return
        try:
            await patiently(
                partial(
                    self.bot.edit_message_reply_markup,
                    chat_id=chat_id,
                    message_id=press.message_id,
                    reply_markup=None,
                ),
                self.flood.edit,
                giving_up=lambda: self._closing,
            )
        except Exception as error:  # noqa: BLE001 - already removed, too old: no matter
            log.debug("removing a keyboard failed: %s", error)

    async def _send(
        self, chat_id: int, reply: Outbound, pace: Callable[[], Awaitable[None]]
    ) -> None:
        (reply,) = await prepare([reply], TELEGRAM)  # an attachment drawn, after the commit
        markup = keyboard(reply)
        text = instructed(reply, len(reply.choices))  # every choice is an inline button
        send = partial(patiently, pace=pace, giving_up=lambda: self._closing)
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

        They pass the bulk bucket before the overall one, so they join the overall
        queue no faster than TELEGRAM_BULK_RATE and replies keep the rest. A 429 is
        waited out here, so a message of several parts is never restarted; Forbidden
        (blocked), BadRequest and, after retries, NetworkError are raised for the
        caller to record.
        """
        for reply in replies:
            await self._send(int(chat_key), reply, partial(self.flood.bulk_message, chat_key))
