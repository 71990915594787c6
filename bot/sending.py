"""How a proactive send is paced, and what its failure means (for the outbox sender).

Apart from `bot.outbox` so that the sender stays one readable module; nothing here
touches the database or a platform.
"""

from __future__ import annotations

import asyncio
import re
import warnings
from datetime import timedelta

# Exception class names that mean "retrying will not help" (PTB's, Zalo clients').
_PERMANENT = {"Forbidden", "BadRequest", "InvalidToken", "ChatNotFound", "PermanentError"}
_TIMEOUTS = {"TimedOut", "ServerTimeoutError", "ReadTimeout", "WriteTimeout"}
BLOCKED = "Forbidden"  # the citizen blocked the bot (Telegram 403): the chat is unreachable


def is_permanent(error: BaseException) -> bool:
    return type(error).__name__ in _PERMANENT


def is_blocked(error: BaseException) -> bool:
    return type(error).__name__ == BLOCKED


def retry_after_of(error: BaseException) -> float | None:
    """Seconds a platform asked us to wait (PTB's RetryAfter, a 429), else None."""
    with warnings.catch_warnings():  # PTB 22 warns that the type will become timedelta
        warnings.simplefilter("ignore")
        value = getattr(error, "retry_after", None)
    if value is None:
        return None
    if isinstance(value, timedelta):
        return value.total_seconds()
    try:
        return max(0.0, float(value))
    except (TypeError, ValueError):
        return 1.0


def is_timeout(error: BaseException) -> bool:
    """A send whose outcome is unknown: the platform may have accepted it."""
    return isinstance(error, TimeoutError) or type(error).__name__ in _TIMEOUTS


def describe(error: BaseException) -> str:
    """A failure reason safe to store: long numbers (chat ids, phones) and tokens blanked."""
    text = f"{type(error).__name__}: {error}"
    text = re.sub(r"\d{3,20}:[A-Za-z0-9_-]{20,}", "[token]", text)
    text = re.sub(r"\+?\d[\d .-]{5,}\d", "[number]", text)
    return text[:300]


class Pacer:
    """Evenly spaced sends at `rate` per second, shared by a platform's workers.

    A send that started late (the event loop was busy) may be caught up within a
    few intervals, so the achieved rate stays at the target instead of drifting
    below it, without ever allowing more than a tiny burst.
    """

    def __init__(self, rate: float, catch_up: int = 5):
        self.interval = 1.0 / rate
        self.slack = catch_up * self.interval
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        loop = asyncio.get_running_loop()
        async with self._lock:
            now = loop.time()
            if self._next > now:
                await asyncio.sleep(self._next - now)
            self._next = max(self._next, now - self.slack) + self.interval
