"""Sending replies after the commit, in order per chat, off the webhook's request.

A webhook is answered as soon as the inbound message is committed: Zalo expects
an answer within about two seconds, and a slow send must not make it deliver the
update again. The replies then go out from one worker task per chat, in the order
the messages were taken in. A delivery confirms (`processor.confirm_delivered`)
only if no later message of the chat has been taken in meanwhile; a per-chat lock,
held while a message is processed and while a delivery checks and confirms, makes
sure a later message is never committed between that check and the confirmation
(which would mark its replies delivered before they are sent). A delivery that
fails is not confirmed, so the chat's current question is sent again at the next
start. Several processes serving one chat at once are not coordinated here.

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
from handlers.messages import Outbound

log = logging.getLogger(__name__)

# Replies of one chat waiting to be sent (one entry per message taken in). A citizen
# answers a question every few seconds at most; sixteen waiting means the chat is
# far ahead of what can be sent to it (Telegram: about one message a second).
REPLY_QUEUE_LIMIT = 16

Send = Callable[[str, list[Outbound]], Awaitable[None]]


@dataclass
class _ChatQueue:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0
    waiting: deque[asyncio.Future[list[Outbound]]] = field(default_factory=deque)
    worker: asyncio.Task[None] | None = None


class AfterCommit:
    def __init__(self, processor: InboundProcessor, channel: str, send: Send):
        self.processor = processor
        self.channel = channel
        self.send = send
        self._chats: dict[str, _ChatQueue] = {}

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

    async def _deliver(self, chat_key: str, to_send: list[Outbound]) -> None:
        try:
            await self.send(chat_key, to_send)
            async with self._chat_lock(chat_key) as chat:
                if not chat.waiting:  # nothing taken in since: all committed is sent
                    await self.processor.confirm_delivered(self.channel, chat_key)
        except Exception as error:  # noqa: BLE001 - reported; re-sent at the next start
            log.warning(
                "%s: delivering replies failed (%s); they are sent again at the next start",
                self.channel,
                type(error).__name__,
            )

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
