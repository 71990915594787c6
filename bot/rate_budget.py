"""Rate budgets shared by every process on one database: a platform's limits hold for
its token and for each chat, not for one process.

Each limited thing (a bot token, its bulk share, one chat; a `Limit`) is a token
bucket kept as the time its tokens are spent up to (GCRA): a reservation of n tokens
moves that time n/rate later, in one upsert on PostgreSQL (`reserve_tokens`), and
says when each token may be used. The caller sleeps until then: nobody retries, nobody
polls, and two processes draw from one bucket whatever their clocks (the database's
clock decides).

Round trips are kept low by reserving for every caller of this process waiting on
the same bucket at once (up to `BATCH_SECONDS` worth of its rate), by reserving for
every bucket waiting at once in one statement (the chat buckets of fifty replies: one
round trip; the next carries what came meanwhile), and by reserving the next batch of
a bucket only when the previous one is due: a process never holds more than a batch of
future tokens, so another process's callers (replies) queue behind at most that, never
behind a whole flood. A caller that gives up after its reservation wastes its token;
nothing else is ever reserved unused.

SQLite has one process: the same buckets live in memory (`LocalTokens`). Should the
database be unreachable, each process goes on with buckets of its own, warning once a
minute: a reply is not held back because the bucket's row cannot be read.

`use()` is what this process took from each named limit over the last window, beside
the limit's capacity in that window (for gauges; the processes' values add up).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hashlib
import logging
import time
import weakref
from dataclasses import dataclass, field

from bot.database import Database, LocalTokens, forget_idle_tokens, reserve_tokens

log = logging.getLogger(__name__)

BATCH_SECONDS = 0.1  # a process reserves at most this much of a bucket's rate at once
USE_WINDOW = 60.0  # seconds over which `use()` counts
FORGET_EVERY = 60.0  # seconds between deletions of idle buckets' rows
_WARN_EVERY = 60.0


@dataclass(frozen=True)
class Limit:
    """`rate` tokens a second, `burst` at once after a pause; `name` meters it in `use()`
    (None for limits of one chat: there are too many to report)."""

    key: str
    rate: float
    burst: float = 1.0
    name: str | None = None


@dataclass(frozen=True)
class Use:
    name: str
    taken: int  # tokens this process took over the window
    capacity: float  # tokens the limit allows over the window (all processes together)
    window: float


def chat_part(chat_key: str) -> str:
    """A chat as it appears in a bucket's key: a short hash, not the platform's id."""
    return hashlib.sha256(chat_key.encode()).hexdigest()[:20]


@dataclass(frozen=True)
class _Wanted:
    """Tokens one bucket's server waits for, and the future of its `ahead` seconds."""

    key: str
    count: int
    rate: float
    ahead: asyncio.Future[float]


@dataclass
class _Queue:
    waiting: collections.deque[asyncio.Future[None]] = field(default_factory=collections.deque)
    server: asyncio.Task[None] | None = None


class RateBudget:
    """Every limit of one database, for every caller in this process."""

    def __init__(self, database: Database | None, *, batch_seconds: float = BATCH_SECONDS):
        self.database = database
        self.batch_seconds = batch_seconds
        self.round_trips = 0  # reservations made (statements on PostgreSQL, each for all)
        self._wanted: list[_Wanted] = []
        self._reserving: asyncio.Task[None] | None = None
        self._queues: dict[str, _Queue] = {}
        self._fallback = LocalTokens()
        self._warned_at = -_WARN_EVERY
        self._forgot_at = time.monotonic()
        self._forgetting: asyncio.Task[None] | None = None
        self._taken: dict[str, collections.deque[list[float]]] = {}
        self._limits: dict[str, Limit] = {}

    async def take(self, limit: Limit) -> None:
        """Wait for one token of `limit` (shared with every process on the database)."""
        loop = asyncio.get_running_loop()
        queue = self._queues.get(limit.key)
        if queue is None or (queue.server is not None and queue.server.get_loop() is not loop):
            # New, or left by an event loop that is gone (its waiters with it).
            queue = self._queues[limit.key] = _Queue()
        future: asyncio.Future[None] = loop.create_future()
        queue.waiting.append(future)
        if queue.server is None or queue.server.done():
            queue.server = loop.create_task(self._serve(limit, queue))
        await future
        self._meter(limit)

    async def _serve(self, limit: Limit, queue: _Queue) -> None:
        """Reserve for the waiting callers, batch after batch, each when the last is due."""
        loop = asyncio.get_running_loop()
        largest = max(1, int(limit.rate * self.batch_seconds))
        try:
            while True:
                while queue.waiting and queue.waiting[0].done():  # gave up before a token
                    queue.waiting.popleft()
                if not queue.waiting:
                    return
                count = min(len(queue.waiting), largest)
                ahead = await self._reserve(limit.key, count, limit.rate)
                started = loop.time()
                last = 0.0
                for index in range(1, count + 1):
                    # The bucket is spent up to `ahead`; the index-th token of the batch
                    # may be used once it is no more than `burst` tokens ahead of now.
                    last = max(0.0, ahead - (count - index + limit.burst) / limit.rate)
                    future = queue.waiting.popleft()
                    if last == 0.0:
                        _release(future)
                    else:
                        loop.call_later(last, _release, future)
                due = started + last - loop.time()
                if due > 0:
                    await asyncio.sleep(due)
        finally:
            queue.server = None
            if not queue.waiting and self._queues.get(limit.key) is queue:
                del self._queues[limit.key]
            self._forget_now_and_then()

    async def _reserve(self, key: str, count: int, rate: float) -> float:
        """Seconds from now the bucket is spent up to once `count` tokens are reserved.

        On PostgreSQL the reservation waits for the statement of every bucket waiting
        (`_reserve_waiting`): one round trip serves them all, however many chats."""
        if self.database is None:
            self.round_trips += 1
            return self._fallback.reserve(key, count, rate)
        loop = asyncio.get_running_loop()
        wanted = _Wanted(key, count, rate, loop.create_future())
        reserving = self._reserving
        if reserving is None or reserving.done() or reserving.get_loop() is not loop:
            self._wanted = [wanted]  # what an event loop that is gone left waits no more
            self._reserving = loop.create_task(self._reserve_waiting())
        else:
            self._wanted.append(wanted)
        return await wanted.ahead

    async def _reserve_waiting(self) -> None:
        """Reserve for every bucket waiting in one statement, again for those that came
        meanwhile, until none waits. A bucket appears once in a statement: each has one
        server (`_serve`), so a second wish of one bucket only waits for the next."""
        assert self.database is not None
        batch: dict[str, _Wanted] = {}
        try:
            while self._wanted:
                batch, later = {}, []
                for wanted in self._wanted:
                    if batch.setdefault(wanted.key, wanted) is not wanted:
                        later.append(wanted)
                self._wanted = later
                self.round_trips += 1
                buckets = {key: (wanted.count, wanted.rate) for key, wanted in batch.items()}
                try:
                    ahead = await reserve_tokens(self.database, buckets)
                except Exception as error:  # noqa: BLE001 - pace alone rather than hold sends back
                    self._warn_unreachable(error)
                    ahead = {
                        key: self._fallback.reserve(key, *bucket) for key, bucket in buckets.items()
                    }
                for key, wanted in batch.items():
                    if not wanted.ahead.done():  # its caller gave up: the token is wasted
                        wanted.ahead.set_result(ahead[key])
                batch = {}
        finally:  # cancelled (a stop): nobody is left waiting for ever
            for wanted in [*batch.values(), *self._wanted]:
                wanted.ahead.cancel()
            self._wanted = []

    def _warn_unreachable(self, error: Exception) -> None:
        now = time.monotonic()
        if now - self._warned_at >= _WARN_EVERY:
            self._warned_at = now
            log.warning(
                "rate budget unreachable (%s): this process paces alone meanwhile",
                type(error).__name__,
            )

    def _forget_now_and_then(self) -> None:
        now = time.monotonic()
        busy = self._forgetting is not None and not self._forgetting.done()
        if now - self._forgot_at < FORGET_EVERY or busy:
            return
        self._forgot_at = now
        self._fallback.forget(FORGET_EVERY)
        if self.database is not None:
            self._forgetting = asyncio.create_task(self._forget())

    async def _forget(self) -> None:
        assert self.database is not None
        try:
            await forget_idle_tokens(self.database, FORGET_EVERY)
        except Exception as error:  # noqa: BLE001 - the next round deletes them
            log.debug("forgetting idle rate buckets failed (%s)", type(error).__name__)
        finally:
            self._forgetting = None

    # -- use ---------------------------------------------------------------------------

    def _meter(self, limit: Limit) -> None:
        if limit.name is None:
            return
        self._limits[limit.name] = limit
        seconds = self._taken.setdefault(limit.name, collections.deque())
        second = float(int(time.monotonic()))
        if seconds and seconds[-1][0] == second:
            seconds[-1][1] += 1
        else:
            seconds.append([second, 1.0])
            while seconds and seconds[0][0] <= second - USE_WINDOW:
                seconds.popleft()

    def use(self, window: float = USE_WINDOW) -> list[Use]:
        """Per named limit: tokens this process took in the last `window` seconds (at most
        USE_WINDOW), and the limit's capacity over that window."""
        window = min(window, USE_WINDOW)
        since = time.monotonic() - window
        return [
            Use(
                name,
                int(sum(count for second, count in self._taken.get(name, ()) if second >= since)),
                limit.rate * window + limit.burst,
                window,
            )
            for name, limit in sorted(self._limits.items())
        ]


def _release(future: asyncio.Future[None]) -> None:
    with contextlib.suppress(asyncio.InvalidStateError):  # its caller gave up
        future.set_result(None)


_budgets: weakref.WeakKeyDictionary[Database, RateBudget] = weakref.WeakKeyDictionary()


def budget_of(database: Database) -> RateBudget:
    """The process's one budget for a database, shared by the channels and the outbox."""
    budget = _budgets.get(database)
    if budget is None:
        budget = _budgets[database] = RateBudget(database)
    return budget
