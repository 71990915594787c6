"""Pacing of Telegram calls, and patience when Telegram says 429.

Telegram allows about one message a second in one chat (short bursts are
tolerated) and about thirty a second in all; beyond that it answers 429 with
`retry_after`. PTB's AIORateLimiter has no per-private-chat limit and pauses
every request of the bot on a 429, so a broadcast would stall the replies:
here each chat has its own bucket, all share one overall bucket, and bulk sends
first pass a slower bucket of their own, so they join the overall queue no
faster than the bulk rate and replies keep the rest. The buckets are shared by
every process on the database (bot.rate_budget). A 429 makes only its caller wait.
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

from pydantic import SecretStr
from telegram.error import (
    BadRequest,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)

from bot.rate_budget import Limit, RateBudget, chat_part

log = logging.getLogger("bot.channels.telegram")

T = TypeVar("T")

NETWORK_ATTEMPTS = 6


class FloodControl:
    """Telegram's limits as shared rate budgets: one per chat, one for the bot token over
    all chats (replies and notices together) and the bulk share, so every process on
    the database draws from the same buckets (bot.rate_budget).

    The overall bucket saves up a tenth of a second's worth: Telegram counts about 30
    a second, and a full second's burst on top of the rate would be 60 in one second.
    Bulk sends wait for the overall bucket one at a time in each process: held up
    behind replies, they would otherwise pile up there and then leave it faster than
    the bulk rate.
    """

    def __init__(
        self,
        chat_rate: float,
        chat_burst: int,
        global_rate: float,
        bulk_rate: float,
        *,
        budget: RateBudget | None = None,
        scope: str = "telegram",
    ) -> None:
        self.budget = budget if budget is not None else RateBudget(None)
        self.scope = scope
        self.chat_rate = chat_rate
        self.chat_burst = chat_burst
        self.overall = Limit(scope, global_rate, max(1.0, global_rate / 10), name="telegram")
        self.bulk = Limit(f"{scope}:bulk", bulk_rate, 1.0, name="telegram_bulk")
        self._bulk_turn = asyncio.Lock()

    def _chat(self, chat_key: str) -> Limit:
        return Limit(f"{self.scope}:chat:{chat_part(chat_key)}", self.chat_rate, self.chat_burst)

    async def message(self, chat_key: str) -> None:
        """Before a new message in a chat."""
        await self.budget.take(self._chat(chat_key))
        await self.budget.take(self.overall)

    async def bulk_message(self, chat_key: str) -> None:
        await self.budget.take(self._chat(chat_key))
        async with self._bulk_turn:
            await self.budget.take(self.bulk)
            await self.budget.take(self.overall)


def scope_of(token: SecretStr | None) -> str:
    """The budget key of a bot token: its bot id (public), never the secret part."""
    bot_id = token.get_secret_value().partition(":")[0] if token is not None else ""
    return f"telegram:{bot_id}"


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
    retry_timeouts: bool = True,
) -> T:
    """Run a Bot API call; on 429 wait `retry_after` and call again, for as long as it takes.

    Network failures are retried a few times with growing pauses (a send that timed out
    may have arrived: delivery is at least once). Without `retry_timeouts` a time-out is
    raised instead, so that the outbox can count the send as uncertain before it tries
    again. Errors Telegram will repeat (bad request, blocked by the user, wrong token)
    are raised at once.
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
            uncertain = isinstance(error, TimedOut) and not retry_timeouts
            if uncertain or failures >= NETWORK_ATTEMPTS or giving_up():
                raise
            delay = min(0.25 * 2**failures, 8.0)
            log.warning("Telegram call failed (%s); again in %.1f s", error, delay)
            await asyncio.sleep(delay)
