"""The one delivery path every channel uses: in order per chat, after the commit,
retried, confirmed, and sent by another process if this one dies.

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
- Each commit that produced replies numbers them (`chats.reply_seq`) and stores
  them (`last_replies`) in its own transaction, so what a process committed to send
  outlives it. A sent number is noted in memory at once; it is recorded with the
  chat's next message, in that message's own transaction before its handler runs (so
  a citizen who answers at once is never told the question was not shown), or else
  by the confirmer, in one batched transaction for every chat sent to since its last
  round (every CONFIRM_EVERY, a tenth of a second), and at stop.
- A commit whose connection broke may have stored its replies or not; the platform
  delivers the message again and finds it applied, or not. The confirmer asks, and
  sends the replies if they were stored and are still current (CommitUncertain).
- The commit also makes this process the replies' owner for a lease, which the
  confirmer renews while they are unconfirmed (bot.reply_leases). A sweeper in every
  process, every SWEEP_EVERY seconds, claims the chats whose lease
  ran out (their owner died) and sends their stored replies once, checking right
  before the send that no newer commit superseded them. A restarted process is a new
  owner: it takes nothing a live process still holds, and its predecessor's chats only
  once their lease has run out. Every process sweeps rather than only the leader: a
  claim is row-locked (SKIP LOCKED), so sweepers never share a chat, and replies lost
  by a dying leader do not wait for the next one to be elected; a sweep is one indexed
  query (`ix_chats_reply_lease_until`) that finds nothing in normal operation.

Why the latest commit's replies (`last_replies`) are the durable unit, and older
unsent ones are not kept: a chat's commits come one at a time, each answering the
citizen's newest message with everything that message needs (a refused answer comes
with the current question again, a started survey with its introduction). A newer
commit exists only because the citizen wrote again, and its replies carry the state
they wrote into; older replies answer a message they have moved past, exactly those
the bounded queue above drops. A survey question is never re-sent once another is
current. Proactive messages (a receipt link, notices) are not replies: the outbox
stores each one until sent, whatever replies come after it. A send that arrived just
before its process died, unrecorded, comes again (the same, current, question): the
sends of the confirmer's last tenth of a second at most, and those under way.

Longer than 450 lines because taking in, sending, confirming and sweeping share one
state per chat (its lock, queue and noted sends); apart, each would reach into the others.

`sleep` (the retries'), `tick` (the rounds') and `clock` are injected, so tests never
wait on the wall clock; `prepare` is the hook that renders attachments after the
commit, right before a send.
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
from bot.inbound import CommitUncertain, InboundProcessor
from bot.logs import describe
from bot.rendering import prepare as render_attachments
from bot.reply_leases import Claimed
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
# Seconds between the confirmer's rounds. A round with nothing sent costs nothing; one
# with sends records them all in one transaction. A send still unrecorded when its
# process is killed is sent again by a sweeper once the lease ends, and a citizen still
# reading the question then (often: older citizens take longer than the lease) gets it
# twice; this bounds those to the sends of the last tenth of a second. And an answer
# typed to the question on another process is taken only once this one has recorded
# sending it (bot.inbound, "question not shown"): a tenth of a second is quicker than
# anyone types.
CONFIRM_EVERY = 0.1
# A database of one process (SQLite): no other process waits for these records, and
# every write takes the file's one lock, so once a second, as before.
CONFIRM_EVERY_ALONE = 1.0
RENEW_EVERY = 1.0  # seconds between lease renewals (a tenth of bot.reply_leases.LEASE)
SWEEP_EVERY = 2.0  # seconds between sweeps for replies whose owner died
SWEEP_BATCH = 100  # chats claimed by one sweep at most; the next sweep takes more
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
    swept: bool = False  # claimed from a dead owner: sent only while still current


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
        tick: Sleep = asyncio.sleep,
        clock: Clock = time.monotonic,
        settle_wait: float = SETTLE_WAIT,
    ):
        self.processor = processor
        self.adapter = adapter
        self.prepare = prepare
        self.sleep = sleep  # the retries' back-off
        self.tick = tick  # the confirmer's and the sweeper's rounds
        self.clock = clock
        self.settle_wait = settle_wait
        self._chats: dict[str, _Chat] = {}
        self._sent: dict[str, int] = {}  # chat -> replies sent up to, not yet recorded
        # chat -> the replies of a commit whose connection broke (bot.inbound.CommitUncertain)
        self._uncertain: dict[str, _Item] = {}
        # Whether this process may hold leases of unconfirmed replies: set by each commit
        # or claim (`_owned` counts them), cleared when a renewal finds none.
        self._owning = False
        self._owned = 0
        self._confirmer: asyncio.Task[None] | None = None
        self._sweeper: asyncio.Task[None] | None = None
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
            try:
                taken = await self.processor.take(inbound, noted)
            except CommitUncertain as uncertain:
                self._uncertain[chat_key] = _Item(uncertain.seq, uncertain.replies)
                raise
            if taken.recorded and self._sent.get(chat_key) == noted:
                del self._sent[chat_key]  # recorded with the message: nothing left to do
            if taken.seq is not None:
                self._owning, self._owned = True, self._owned + 1
                self._uncertain.pop(chat_key, None)  # superseded by a commit known stored
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
            if item.swept and not await self._still_current(chat_key, item):
                return  # superseded, or sent already by this process's own worker
            sent = bool(item.replies) and await self._send_patiently(chat_key, chat, item.replies)
            if sent and item.seq is not None:
                self._sent[chat_key] = max(self._sent.get(chat_key, 0), item.seq)
            if sent and item.swept:
                metrics.increment(f"{self.name}_replies_swept_total")
                log.info("%s: sent a chat the replies a stopped process left", self.name)
        finally:
            if chore is not None:
                await chore

    async def _still_current(self, chat_key: str, item: _Item) -> bool:
        """A claimed chat's replies, right before they go: a newer commit, here or in
        another process, supersedes them (its own replies carry the current question)."""
        assert item.seq is not None
        if self._sent.get(chat_key, 0) >= item.seq:
            return False
        for delay in [*retry_delays(), None]:
            try:
                return await self.processor.still_current(self.name, chat_key, item.seq)
            except Exception as error:  # noqa: BLE001 - the database may come back
                log.warning("%s: checking a claimed reply failed (%s)", self.name, describe(error))
                if delay is None or self._closing:
                    return False  # kept (and renewed) like a failed send
                await self.sleep(delay)
        return False

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
        did not go (this process keeps their lease while it lives; once it is gone,
        another process's sweeper sends them). A retry sends them all."""
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
                        "it is sent again once this process has stopped",
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

    async def flush(self, renew: bool = True) -> int:
        """Record every noted send and (with `renew`) renew this process's leases, in one
        transaction; how many chats it recorded."""
        notes = dict(self._sent)  # kept in `_sent` until committed: a message taken in
        renew = renew and self._owning  # meanwhile must still see them
        if notes or renew:
            owned = self._owned
            try:
                held = await self.processor.confirm(self.name, notes, renew=renew)
            except Exception as error:  # noqa: BLE001 - kept for the next round
                log.warning("%s: recording deliveries failed (%s)", self.name, describe(error))
                return 0
            for chat_key, seq in notes.items():
                if self._sent.get(chat_key) == seq:
                    del self._sent[chat_key]
            if renew and held == 0 and owned == self._owned:
                self._owning = False  # nothing committed or claimed since: nothing to renew
        if self._uncertain:
            await self._settle_uncertain()
        return len(notes)

    async def _settle_uncertain(self) -> None:
        """Send the replies of commits whose connection broke, once the database says they
        were stored and are still the chat's newest (and this process's). The platform
        delivers such a message again, and finds it applied: without this its replies
        would wait, leased and renewed here, for the citizen's next message."""
        for chat_key, item in list(self._uncertain.items()):
            chat = self._chat(chat_key)
            if chat.lock.locked():
                continue  # a message of the chat is being taken in: the next round
            async with self._chat_lock(chat_key) as chat:
                if self._uncertain.get(chat_key) is not item:
                    continue
                assert item.seq is not None
                try:
                    stored = await self.processor.still_current(self.name, chat_key, item.seq)
                except Exception as error:  # noqa: BLE001 - the next round asks again
                    log.warning("%s: checking a commit failed (%s)", self.name, describe(error))
                    return
                del self._uncertain[chat_key]
                if stored:
                    metrics.increment(f"{self.name}_replies_recovered_total")
                    self._enqueue(chat_key, chat, item)

    async def _confirm_forever(self, every: float) -> None:
        renew_after = max(1, round(RENEW_EVERY / every))  # rounds
        rounds = 0
        while True:
            await self.tick(every)
            rounds += 1
            await self.flush(renew=rounds % renew_after == 0)

    async def sweep(self, limit: int = SWEEP_BATCH) -> int:
        """Claim the chats whose replies' owner died before they were known sent, and
        queue those replies once; how many chats. Raises only if the database cannot be
        written: a chat that cannot be reached fails alone, in its own worker."""
        return self.queue_claimed(await self.processor.claim_lost_replies(self.name, limit))

    def queue_claimed(self, claimed: list[Claimed]) -> int:
        """Queue the claimed chats' stored replies, behind whatever the chat has queued
        here, each checked again right before its send (a newer commit may come between
        the claim and the send)."""
        if claimed:
            self._owning, self._owned = True, self._owned + 1
        queued = 0
        for item in claimed:
            if self._sent.get(item.chat_key, 0) >= item.seq:
                continue  # sent from here, being recorded
            if not item.replies:  # nothing stored to send (an empty reply list)
                self._sent[item.chat_key] = item.seq
                continue
            chat = self._chat(item.chat_key)
            self._enqueue(item.chat_key, chat, _Item(item.seq, item.replies, swept=True))
            queued += 1
        if queued:
            log.info("%s: claimed %d chats a stopped process left unconfirmed", self.name, queued)
        return queued

    async def _sweep_forever(self, every: float) -> None:
        while True:
            await self.tick(every)
            try:
                while await self.sweep() >= SWEEP_BATCH:
                    pass  # a whole batch: there may be more
            except Exception as error:  # noqa: BLE001 - the next sweep tries again
                log.warning("%s: sweeping failed (%s)", self.name, describe(error))

    # -- life cycle ------------------------------------------------------------------------

    async def start(
        self, confirm_every: float | None = None, sweep_every: float = SWEEP_EVERY
    ) -> None:
        """Start confirming and sweeping. The first sweep comes a round after the start,
        not before: the messages the platform delivers again come first, and a press on
        a question the dead process did send supersedes its re-send (a restart slower
        than the lease would otherwise send every chat its last question again)."""
        if confirm_every is None:
            shared = self.processor.database.shared_by_processes
            confirm_every = CONFIRM_EVERY if shared else CONFIRM_EVERY_ALONE
        if self._confirmer is None:
            self._confirmer = asyncio.create_task(
                self._confirm_forever(confirm_every), name=f"{self.name}-confirm"
            )
        if self._sweeper is None:
            self._sweeper = asyncio.create_task(
                self._sweep_forever(sweep_every), name=f"{self.name}-sweep"
            )

    async def drain(self, grace: float = STOP_GRACE) -> None:
        """Wait for the sends under way, cancelling what is still late after `grace`."""
        workers = {chat.worker for chat in self._chats.values() if chat.worker is not None}
        if not workers:
            return
        _done, late = await asyncio.wait(workers, timeout=grace)
        for task in late:  # their replies stay unconfirmed: a sweeper sends them later
            task.cancel()
        if late:
            await asyncio.wait(late)

    async def stop(self, grace: float = STOP_GRACE) -> None:
        """Finish the sends under way, then record them: a clean stop re-sends nothing.
        What could not be sent is released to the other processes' sweepers at once."""
        self._closing = True
        await self._cancel(self._sweeper)
        self._sweeper = None
        await self.drain(grace)  # the confirmer goes on renewing the leases meanwhile
        await self._cancel(self._confirmer)
        self._confirmer = None
        await self.flush()
        try:
            await self.processor.release_replies(self.name)
        except Exception as error:  # noqa: BLE001 - their leases run out instead
            log.warning("%s: releasing replies failed (%s)", self.name, describe(error))

    @staticmethod
    async def _cancel(task: asyncio.Task[None] | None) -> None:
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
