"""The one delivery path every channel uses: in order per chat, after the commit,
retried, confirmed, and re-sent after a crash.

A channel adapter only translates (platform update -> `Inbound`, shaped `Outbound`
-> platform calls) and declares its `capabilities` and which failures may pass
(`transient`). Everything else is here:

- One lock per chat: its messages are processed one at a time, in arrival order
  (the database also locks the chat's row, across processes). Other chats go on.
- One worker per chat sends the replies after the commit, in order. The chat's
  queue is bounded (REPLY_QUEUE_LIMIT): past it the oldest unsent replies are
  dropped and counted; they answer messages the citizen has moved past, and the
  newest (the current question) is always kept.
- A send failing for a reason that may pass is retried with back-off (0.5 s
  doubling to 8 s, for about a minute) while later replies of that chat wait.
- Each commit that produced replies numbers them (`chats.reply_seq`). A sent number
  is noted in memory at once; it is recorded with the chat's next message, in that
  message's own transaction before its handler runs (so a citizen who answers at
  once is never told the question was not shown), or else by the confirmer, in one
  batched transaction a second for every chat, and at stop.
- At start, chats whose replies were committed but not recorded as sent get them
  again, once, before any new message of theirs is taken; a chat that cannot be
  reached is logged and the others go on.

`sleep` and `clock` are injected, so tests never wait on the wall clock; `prepare`
is the hook that renders attachments after the commit, right before a send.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import Protocol

from bot import metrics
from bot.channels.capabilities import Capabilities
from bot.delivery._text import instructed, numbered_text, shaped
from bot.inbound import InboundProcessor
from bot.logs import describe
from bot.rendering import prepare as render_attachments
from bot.sending import is_blocked
from handlers.messages import Inbound, Outbound

__all__ = ["Adapter", "Delivery", "instructed", "numbered_text", "shaped"]

log = logging.getLogger(__name__)

# Replies of one chat waiting to be sent (one entry per message taken in). A citizen
# answers a question every few seconds at most; sixteen waiting means the chat is
# far ahead of what can be sent to it (Telegram: about one message a second).
REPLY_QUEUE_LIMIT = 16

# Pauses between attempts at one reply: 0.5 s doubling to 8 s, for at most a minute.
RETRY_BASE = 0.5
RETRY_CAP = 8.0
RETRY_BUDGET = 60.0
CONFIRM_EVERY = 1.0  # seconds between the confirmer's batched transactions
# A message arriving while its chat's last reply is being sent waits this long at most
# for that send to end: the citizen is likely answering what it carries.
SETTLE_WAIT = 1.0
STOP_GRACE = 10.0  # seconds stop() waits for replies still being sent

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]
Prepare = Callable[[list[Outbound], Capabilities], Awaitable[list[Outbound]]]


class Adapter(Protocol):
    """What a channel gives the delivery path: translation and declarations only."""

    name: str
    capabilities: Capabilities

    async def deliver(self, chat_key: str, replies: list[Outbound], proactive: bool) -> None:
        """Platform calls for shaped replies; raises if they may not have arrived."""

    def transient(self, error: Exception) -> bool:
        """Whether a failed delivery is worth trying again."""

    async def chore(self, chat_key: str, chore: object) -> None:
        """Platform housekeeping of a message taken in (Telegram: a pressed button's)."""


def retry_delays(base: float = RETRY_BASE, cap: float = RETRY_CAP, budget: float = RETRY_BUDGET):
    """The pauses before each new attempt, adding up to at most `budget` seconds."""
    delays, total, delay = [], 0.0, base
    while total + delay <= budget:
        delays.append(delay)
        total += delay
        delay = min(cap, delay * 2)
    return delays


@dataclass
class _Item:
    seq: int | None  # the replies' number on the chat; None: nothing to record
    replies: list[Outbound]
    chore: object | None = None


@dataclass
class _Chat:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0
    waiting: deque[_Item] = field(default_factory=deque)
    worker: asyncio.Task[None] | None = None
    attempt: asyncio.Event | None = None  # set when the send under way ends


class Delivery:
    def __init__(
        self,
        processor: InboundProcessor,
        adapter: Adapter,
        *,
        prepare: Prepare = render_attachments,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = time.monotonic,
        settle_wait: float = SETTLE_WAIT,
    ):
        self.processor = processor
        self.adapter = adapter
        self.prepare = prepare
        self.sleep = sleep
        self.clock = clock
        self.settle_wait = settle_wait
        self._chats: dict[str, _Chat] = {}
        self._sent: dict[str, int] = {}  # chat -> replies sent up to, not yet recorded
        self._confirmer: asyncio.Task[None] | None = None
        self._closing = False

    @property
    def name(self) -> str:
        return self.adapter.name

    # -- taking a message in -------------------------------------------------------------

    async def take(self, inbound: Inbound, chore: object | None = None) -> list[Outbound]:
        """Process one message under its chat's lock and queue its replies; raises if
        nothing was committed (the platform should deliver it again)."""
        chat_key = inbound.chat_key
        async with self._chat_lock(chat_key) as chat:
            await self._settle(chat)
            noted = self._sent.get(chat_key)
            taken = await self.processor.take(inbound, noted)
            if taken.recorded and self._sent.get(chat_key) == noted:
                del self._sent[chat_key]  # recorded with the message: nothing left to do
            if taken.replies or chore is not None:
                self._enqueue(chat_key, chat, _Item(taken.seq, taken.replies, chore))
            return taken.replies

    async def _settle(self, chat: _Chat) -> None:
        """If the chat's last reply is being sent right now, let that send end first."""
        attempt = chat.attempt
        if attempt is None or chat.waiting:
            return
        with suppress(TimeoutError):
            await asyncio.wait_for(attempt.wait(), self.settle_wait)

    @asynccontextmanager
    async def _chat_lock(self, chat_key: str) -> AsyncIterator[_Chat]:
        chat = self._chat(chat_key)
        chat.users += 1
        try:
            async with chat.lock:
                yield chat
        finally:
            chat.users -= 1
            self._forget_if_idle(chat_key, chat)

    def _chat(self, chat_key: str) -> _Chat:
        chat = self._chats.get(chat_key)
        if chat is None:
            chat = self._chats[chat_key] = _Chat()
        return chat

    def _forget_if_idle(self, chat_key: str, chat: _Chat) -> None:
        idle = chat.users == 0 and chat.worker is None and not chat.waiting
        if idle and self._chats.get(chat_key) is chat:
            del self._chats[chat_key]

    def _enqueue(self, chat_key: str, chat: _Chat, item: _Item) -> None:
        chat.waiting.append(item)
        while len(chat.waiting) > REPLY_QUEUE_LIMIT:
            chat.waiting.popleft()  # a later item carries a higher number: it confirms
            metrics.increment(f"{self.name}_replies_dropped_total")
        if chat.worker is None:
            chat.worker = asyncio.create_task(self._work(chat_key, chat))

    # -- sending ---------------------------------------------------------------------------

    async def _work(self, chat_key: str, chat: _Chat) -> None:
        try:
            while chat.waiting:
                await self._deliver(chat_key, chat, chat.waiting.popleft())
        finally:
            chat.worker = None
            self._forget_if_idle(chat_key, chat)

    async def _deliver(self, chat_key: str, chat: _Chat, item: _Item) -> None:
        """Send one message's replies; its chore goes alongside, not before them (the
        next question arrives a round trip sooner)."""
        chore = None
        if item.chore is not None:
            chore = asyncio.create_task(self._chore(chat_key, item.chore))
        try:
            sent = bool(item.replies) and await self._send_patiently(chat_key, chat, item.replies)
            if sent and item.seq is not None:
                self._sent[chat_key] = max(self._sent.get(chat_key, 0), item.seq)
        finally:
            if chore is not None:
                await chore

    async def _chore(self, chat_key: str, chore: object) -> None:
        try:
            await self.adapter.chore(chat_key, chore)
        except Exception as error:  # noqa: BLE001 - housekeeping only
            log.debug("%s: a chore failed (%s)", self.name, describe(error))

    async def _shape(self, replies: list[Outbound]) -> list[Outbound]:
        capabilities = self.adapter.capabilities
        return [shaped(reply, capabilities) for reply in await self.prepare(replies, capabilities)]

    async def _send_patiently(self, chat_key: str, chat: _Chat, replies: list[Outbound]) -> bool:
        """Send one message's replies, again after a failure that may pass; False if they
        did not go (they are sent again at the next start). A retry sends them all."""
        started = self.clock()
        delays = retry_delays()
        for attempt, delay in enumerate([*delays, None], start=1):
            chat.attempt = asyncio.Event()
            try:
                await self.adapter.deliver(chat_key, await self._shape(replies), False)
                return True
            except Exception as error:  # noqa: BLE001 - reported; retried or re-sent later
                late = delay is None or self.clock() - started + delay > RETRY_BUDGET
                if late or self._closing or not self.adapter.transient(error):
                    metrics.increment(f"{self.name}_replies_failed_total")
                    if is_blocked(error):
                        await self._unreachable(chat_key)
                    log.warning(
                        "%s: delivering a reply failed (%s, attempt %d); "
                        "it is sent again at the next start",
                        self.name,
                        type(error).__name__,
                        attempt,
                    )
                    return False
                metrics.increment(f"{self.name}_reply_retries_total")
                log.info(
                    "%s: a reply failed (%s); again in %.1f s",
                    self.name,
                    type(error).__name__,
                    delay,
                )
            finally:
                chat.attempt.set()
                chat.attempt = None
            await self.sleep(delay)
        return False

    async def _unreachable(self, chat_key: str) -> None:
        """The citizen blocked the bot: mark the chat (its notices go elsewhere)."""
        try:
            await self.processor.mark_unreachable(self.name, chat_key)
        except Exception as error:  # noqa: BLE001 - the mark is worth a try, not a failure
            log.warning("%s: marking a chat unreachable failed (%s)", self.name, describe(error))

    async def send(self, chat_key: str, replies: list[Outbound]) -> None:
        """Proactive messages (the outbox): shaped like replies, sent now, not queued;
        a failure is raised for the caller to record and retry."""
        await self.adapter.deliver(chat_key, await self._shape(replies), True)

    # -- confirming ------------------------------------------------------------------------

    async def flush(self) -> int:
        """Record every noted send in one transaction; how many chats it recorded."""
        notes = dict(self._sent)  # kept in `_sent` until committed: a message taken in
        if not notes:  # meanwhile must still see them
            return 0
        try:
            await self.processor.record_delivered(self.name, notes)
        except Exception as error:  # noqa: BLE001 - kept for the next round
            log.warning("%s: recording deliveries failed (%s)", self.name, describe(error))
            return 0
        for chat_key, seq in notes.items():
            if self._sent.get(chat_key) == seq:
                del self._sent[chat_key]
        return len(notes)

    async def _confirm_forever(self, every: float) -> None:
        while True:
            await self.sleep(every)
            await self.flush()

    # -- life cycle ------------------------------------------------------------------------

    async def start(self, confirm_every: float = CONFIRM_EVERY) -> int:
        """Start confirming, and queue the replies a crash may have lost (see `resend`)."""
        if self._confirmer is None:
            self._confirmer = asyncio.create_task(
                self._confirm_forever(confirm_every), name=f"{self.name}-confirm"
            )
        return await self.resend()

    async def resend(self) -> int:
        """Queue, once, the replies committed but not known sent, for every chat of the
        channel not already being served; how many chats. Raises only if the database
        cannot be read: a chat that cannot be reached fails alone, in its own worker."""
        pending = await self.processor.pending_replies(self.name)
        queued = 0
        for item in pending:
            chat = self._chat(item.chat_key)
            if chat.waiting or chat.worker is not None or item.chat_key in self._sent:
                continue  # already on its way
            self._enqueue(item.chat_key, chat, _Item(item.seq, item.replies))
            queued += 1
        if queued:
            log.info("%s: re-sending lost replies to %d chats", self.name, queued)
        return queued

    async def drain(self, grace: float = STOP_GRACE) -> None:
        """Wait for the sends under way, cancelling what is still late after `grace`."""
        workers = {chat.worker for chat in self._chats.values() if chat.worker is not None}
        if not workers:
            return
        _done, late = await asyncio.wait(workers, timeout=grace)
        for task in late:  # their replies stay unconfirmed: re-sent at the next start
            task.cancel()
        if late:
            await asyncio.wait(late)

    async def stop(self, grace: float = STOP_GRACE) -> None:
        """Finish the sends under way, then record them: a clean stop re-sends nothing."""
        self._closing = True
        await self.drain(grace)
        if self._confirmer is not None:
            self._confirmer.cancel()
            await asyncio.gather(self._confirmer, return_exceptions=True)
            self._confirmer = None
        await self.flush()
