"""Sending replies after the commit, in order per chat, off the webhook's request.

A webhook is answered as soon as the inbound message is committed: Zalo expects
an answer within about two seconds, and a slow send must not make it deliver the
update again. The replies then go out in a task, the tasks of a chat one after
the other. A delivery confirms (`processor.confirm_delivered`) only if no later
message of the chat has been taken in meanwhile; a per-chat lock, held while a
message is processed and while a delivery checks and confirms, makes sure a later
message is never committed between that check and the confirmation (which would
mark its replies delivered before they are sent). A delivery that fails is not
confirmed, so the chat's current question is sent again at the next start.
Several processes serving one chat at once are not coordinated here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from bot.inbound import InboundProcessor
from handlers.messages import Outbound

log = logging.getLogger(__name__)

Send = Callable[[str, list[Outbound]], Awaitable[None]]


class AfterCommit:
    def __init__(self, processor: InboundProcessor, channel: str, send: Send):
        self.processor = processor
        self.channel = channel
        self.send = send
        self._tails: dict[str, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def _chat_lock(self, chat_key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(chat_key, (asyncio.Lock(), 0))
        self._locks[chat_key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[chat_key]
            if users == 1:
                del self._locks[chat_key]
            else:
                self._locks[chat_key] = (lock, users - 1)

    @asynccontextmanager
    async def slot(self, chat_key: str) -> AsyncIterator[Callable[[list[Outbound]], None]]:
        """Take in one message of the chat: process it in the block and call the yielded
        function with its replies. If the block raises (nothing committed) the slot is
        released empty."""
        async with self._chat_lock(chat_key):
            replies: asyncio.Future[list[Outbound]] = asyncio.get_running_loop().create_future()
            previous = self._tails.get(chat_key)
            task = asyncio.create_task(self._deliver(previous, chat_key, replies))
            self._tails[chat_key] = task
            self._tasks.add(task)
            task.add_done_callback(lambda done: self._forget(chat_key, done))
            try:
                yield replies.set_result
            finally:
                if not replies.done():
                    replies.set_result([])

    def _forget(self, chat_key: str, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if self._tails.get(chat_key) is task:
            del self._tails[chat_key]

    async def _deliver(
        self,
        previous: asyncio.Task[None] | None,
        chat_key: str,
        replies: asyncio.Future[list[Outbound]],
    ) -> None:
        if previous is not None:
            await asyncio.wait([previous])
        to_send = await replies
        if not to_send:
            return
        try:
            await self.send(chat_key, to_send)
            async with self._chat_lock(chat_key):
                if self._tails.get(chat_key) is asyncio.current_task():
                    await self.processor.confirm_delivered(self.channel, chat_key)
        except Exception as error:  # noqa: BLE001 - reported; re-sent at the next start
            log.warning(
                "%s: delivering replies failed (%s); they are sent again at the next start",
                self.channel,
                error,
            )

    async def drain(self, grace: float = 10.0) -> None:
        """Wait for the deliveries under way (at stop), cancelling what is still late."""
        if not self._tasks:
            return
        _done, late = await asyncio.wait(set(self._tasks), timeout=grace)
        for task in late:
            task.cancel()
        if late:
            await asyncio.wait(late)
