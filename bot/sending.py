"""How a proactive send is paced, and what its failure means (for the outbox sender).

Apart from `bot.outbox` so that the sender stays one readable module; nothing here
touches a platform, and the database only through the shared rate budget.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from datetime import timedelta

from bot.rate_budget import Limit, RateBudget

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


@dataclass
class SendReport:
    sent: int = 0
    failed: int = 0
    counter: int = 0
    retried: int = 0
    rate_limited: int = 0
    uncertain: int = 0
    cancelled: int = 0  # not needed any more, or not allowed (a reminder at night…)
    postponed: int = 0  # not allowed yet: due again later (a reminder at night)

    def add(self, other: SendReport) -> None:
        for name in vars(self):
            setattr(self, name, getattr(self, name) + getattr(other, name))


class Pacer:
    """Sends at a limit's rate, shared by every process on the database: the lane's
    workers here and every other process's draw from one bucket (bot.rate_budget)."""

    def __init__(self, budget: RateBudget, limit: Limit):
        self.budget = budget
        self.limit = limit

    async def wait(self) -> None:
        await self.budget.take(self.limit)
