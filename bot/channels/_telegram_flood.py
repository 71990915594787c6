"""Pacing of Telegram calls, and patience when Telegram says 429.

Telegram allows about one message a second in one chat (short bursts are
tolerated) and about thirty a second in all; beyond that it answers 429 with
`retry_after`. PTB's AIORateLimiter has no per-private-chat limit and pauses
every request of the bot on a 429, so a broadcast would stall the replies:
here each chat has its own bucket, all share one overall bucket, and bulk sends
first pass a slower bucket of their own, so they join the overall queue no
faster than the bulk rate and replies keep the rest. A 429 makes only its
caller wait.
"""

from __future__ import annotations

import asyncio
import logging
import time
import warnings
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter

log = logging.getLogger("bot.channels.telegram")

T = TypeVar("T")

NETWORK_ATTEMPTS = 6
_PRUNE_AT = 10_000  # chat buckets kept before idle ones are forgotten


class TokenBucket:
    """`rate` tokens a second, at most `burst` saved up; waiters are served in turn."""

    def __init__(self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic):
        self.rate = rate
        self.burst = max(1.0, burst)
        self.clock = clock
        self.tokens = self.burst
        self.stamp = clock()
        self._turn = asyncio.Lock()

    def _refill(self) -> None:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    async def take(self) -> None:
        async with self._turn:
            self._refill()
            while self.tokens < 1:
                await asyncio.sleep((1 - self.tokens) / self.rate)
                self._refill()
            self.tokens -= 1

    def idle(self) -> bool:
        """Full and unused: forgetting it changes nothing."""
        self._refill()
        return self.tokens >= self.burst and not self._turn.locked()


class FloodControl:
    def __init__(
        self, chat_rate: float, chat_burst: int, global_rate: float, bulk_rate: float
    ) -> None:
        self.chat_rate = chat_rate
        self.chat_burst = chat_burst
        self.overall = TokenBucket(global_rate, global_rate)
        self.bulk = TokenBucket(bulk_rate, 1)
        self._chats: dict[str, TokenBucket] = {}

    def _chat(self, chat_key: str) -> TokenBucket:
        bucket = self._chats.get(chat_key)
        if bucket is None:
            if len(self._chats) >= _PRUNE_AT:
                for key in [k for k, b in self._chats.items() if b.idle()]:
                    del self._chats[key]
            bucket = self._chats[chat_key] = TokenBucket(self.chat_rate, self.chat_burst)
        return bucket

    async def message(self, chat_key: str) -> None:
        """Before a new message in a chat."""
        await self._chat(chat_key).take()
        await self.overall.take()

    async def bulk_message(self, chat_key: str) -> None:
        await self.bulk.take()
        await self.message(chat_key)


def retry_seconds(error: RetryAfter) -> float:
    with warnings.catch_warnings():  # PTB 22 warns that the type will become timedelta
        warnings.simplefilter("ignore")
        value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


async def patiently(
    call: Callable[[], Awaitable[T]],
    pace: Callable[[], Awaitable[None]] | None = None,
    *,
    giving_up: Callable[[], bool] = lambda: False,
) -> T:
    """Run a Bot API call; on 429 wait `retry_after` and call again, for as long as it takes.

    Network failures are retried a few times with growing pauses (a send that timed out
    may have arrived: delivery is at least once). Errors Telegram will repeat
    (bad request, blocked by the user, wrong token) are raised at once.
    """
    failures = 0
    while True:
        if pace is not None:
            await pace()
        try:
            return await call()
        except RetryAfter as error:
            delay = retry_seconds(error)
            log.info("Telegram asked to wait %.0f s (flood control)", delay)
            await asyncio.sleep(delay)
        except (BadRequest, Forbidden, InvalidToken):
            raise
        except NetworkError as error:
            failures += 1
            if failures >= NETWORK_ATTEMPTS or giving_up():
                raise
            delay = min(0.25 * 2**failures, 8.0)
            log.warning("Telegram call failed (%s); again in %.1f s", error, delay)
            await asyncio.sleep(delay)
