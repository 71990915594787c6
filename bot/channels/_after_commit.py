"""Sending replies after the commit, in order per chat, off the webhook's request.

A webhook is answered as soon as the inbound message is committed: Zalo expects
an answer within about two seconds, and a slow send must not make it deliver the
update again. The replies then go out from one worker task per chat, in the order
the messages were taken in. A delivery confirms (`processor.confirm_delivered`)
only if no later message of the chat has been taken in meanwhile; a per-chat lock,
held while a message is processed and while a delivery checks and confirms, makes
sure a later message is never committed between that check and the confirmation
(which would mark its replies delivered before they are sent).

A reply that fails for a reason that may pass (5xx, timeout, connection error:
`transient`) is sent again with back-off (0.5 s, 1 s, 2 s … capped at 8 s, for
about a minute), while later replies of that chat wait and other chats go on; a
refusal that would repeat (blocked, outside the OA window) is not retried. A
delivery that still fails is not confirmed, so the chat's current question is sent
again at the next start. Several processes serving one chat at once are not
coordinated here.

The survey refuses an answer while the reply carrying the current question is
unconfirmed (the citizen has not seen that question). A citizen can answer as soon
as the send went through, possibly before its confirmation has committed; so a
successful send is noted in memory at once (`sent`), and a message of the chat
taken in before the confirmation first confirms it, under the chat's lock, before
it is processed.

One chat's queue is bounded (REPLY_QUEUE_LIMIT): a chat that writes faster than
its replies can be sent would otherwise hold ever more memory. Past the limit the
oldest unsent replies are dropped and counted (`<channel>_replies_dropped_total`);
they answer messages the citizen has already moved past, and the newest (the
current question) is always kept. Other chats are never held up by it.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from bot import metrics
from bot.inbound import InboundProcessor
from bot.logs import describe
from handlers.messages import Outbound

log = logging.getLogger(__name__)

# Replies of one chat waiting to be sent (one entry per message taken in). A citizen
# answers a question every few seconds at most; sixteen waiting means the chat is
# far ahead of what can be sent to it (Telegram: about one message a second).
REPLY_QUEUE_LIMIT = 16

# Pauses between attempts at one reply: 0.5 s doubling to 8 s, for at most a minute.
RETRY_BASE = 0.5
RETRY_CAP = 8.0
RETRY_BUDGET = 60.0

Send = Callable[[str, list[Outbound]], Awaitable[None]]
Sleep = Callable[[float], Awaitable[None]]


def retry_delays(base: float = RETRY_BASE, cap: float = RETRY_CAP, budget: float = RETRY_BUDGET):
    """The pauses before each new attempt, adding up to at most `budget` seconds."""
    delays, total, delay = [], 0.0, base
    while total + delay <= budget:
        delays.append(delay)
        total += delay
        delay = min(cap, delay * 2)
    return delays


@dataclass
class _ChatQueue:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0
    waiting: deque[asyncio.Future[list[Outbound]]] = field(default_factory=deque)
    worker: asyncio.Task[None] | None = None
    sent: bool = False  # everything committed went out; the confirmation is still due


class AfterCommit:
    def __init__(
        self,
        processor: InboundProcessor,
        channel: str,
        send: Send,
        transient: Callable[[Exception], bool] = lambda error: False,
        sleep: Sleep = asyncio.sleep,
    ):
        self.processor = processor
        self.channel = channel
        self.send = send
        self.transient = transient
        self.sleep = sleep
        self._chats: dict[str, _ChatQueue] = {}
        processor.confirms_on_send.add(channel)

    @asynccontextmanager
    async def _chat_lock(self, chat_key: str) -> AsyncIterator[_ChatQueue]:
        chat = self._chats.get(chat_key)
        if chat is None:
            chat = self._chats[chat_key] = _ChatQueue()
        chat.users += 1
        try:
            async with chat.lock:
                yield chat
        finally:
            chat.users -= 1
            self._forget_if_idle(chat_key, chat)

    def _forget_if_idle(self, chat_key: str, chat: _ChatQueue) -> None:
        idle = chat.users == 0 and chat.worker is None and not chat.waiting
        if idle and self._chats.get(chat_key) is chat:
            del self._chats[chat_key]

    @asynccontextmanager
    async def slot(self, chat_key: str) -> AsyncIterator[Callable[[list[Outbound]], None]]:
        """Take in one message of the chat: process it in the block and call the yielded
        function with its replies. If the block raises (nothing committed) the slot is
        released empty."""
        async with self._chat_lock(chat_key) as chat:
            await self._confirm_sent(chat_key, chat)
            replies: asyncio.Future[list[Outbound]] = asyncio.get_running_loop().create_future()
            chat.waiting.append(replies)
            while len(chat.waiting) > REPLY_QUEUE_LIMIT:
                chat.waiting.popleft()  # resolved: only the newest slot is still open
                metrics.increment(f"{self.channel}_replies_dropped_total")
            if chat.worker is None:
                chat.worker = asyncio.create_task(self._work(chat_key, chat))
            try:
                yield replies.set_result
            finally:
                if not replies.done():
                    replies.set_result([])

    async def _work(self, chat_key: str, chat: _ChatQueue) -> None:
        """Send the chat's replies in order until none waits."""
        try:
            while chat.waiting:
                to_send = await chat.waiting.popleft()
                if to_send:
                    await self._deliver(chat_key, to_send)
        finally:
            chat.worker = None
            self._forget_if_idle(chat_key, chat)

    async def _confirm_sent(self, chat_key: str, chat: _ChatQueue) -> None:
        """Record a delivery that went through (under the chat's lock)."""
        if chat.sent:
            await self.processor.confirm_delivered(self.channel, chat_key)
            chat.sent = False

    async def _deliver(self, chat_key: str, to_send: list[Outbound]) -> None:
        if not await self._send_patiently(chat_key, to_send):
            return  # not confirmed: the current question is sent again at the next start
        chat = self._chats.get(chat_key)
        if chat is None or chat.waiting:
            return  # something taken in since: its own delivery confirms
        chat.sent = True  # no await since the send: a message taken in now sees it
        try:
            async with self._chat_lock(chat_key) as locked:
                await self._confirm_sent(chat_key, locked)
        except Exception as error:  # noqa: BLE001 - only means a re-send at the next start
            log.warning("%s: recording a delivery failed (%s)", self.channel, describe(error))

    async def _send_patiently(self, chat_key: str, replies: list[Outbound]) -> bool:
        """Send one message's replies, again after a failure that may pass; False if they
        did not go. (A retry sends them all again: the later restructuring of delivery
        retries each platform message on its own.)"""
        delays = retry_delays()
        for attempt in range(len(delays) + 1):
            try:
                await self.send(chat_key, replies)
                return True
            except Exception as error:  # noqa: BLE001 - reported; retried or re-sent later
                if not self.transient(error) or attempt == len(delays):
                    log.warning(
                        "%s: delivering a reply failed (%s, attempt %d); "
                        "it is sent again at the next start",
                        self.channel,
                        type(error).__name__,
                        attempt + 1,
                    )
                    return False
                metrics.increment(f"{self.channel}_reply_retries_total")
                log.info(
                    "%s: a reply failed (%s); again in %.1f s",
                    self.channel,
                    type(error).__name__,
                    delays[attempt],
                )
                await self.sleep(delays[attempt])
        return False

    async def drain(self, grace: float = 10.0) -> None:
        """Wait for the deliveries under way (at stop), cancelling what is still late."""
        workers = {chat.worker for chat in self._chats.values() if chat.worker is not None}
        if not workers:
            return
        _done, late = await asyncio.wait(workers, timeout=grace)
        for task in late:
            task.cancel()
        if late:
            await asyncio.wait(late)
