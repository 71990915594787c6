"""A per-chat flood guard in process memory: the excess of a burst is dropped unread.

Each chat has a token bucket: `burst` messages at once, refilled at `burst` per
window. A citizen tapping through the questionnaire as fast as a person can read
stays far below it; a script sending hundreds of messages a second is cut off before
its messages cost a transaction each. It is a guard, not a guarantee: each process
counts alone and a restart forgets. Memory stays bounded: a bucket untouched for a
whole window is full again and is forgotten, and at most `max_chats` are kept.

A platform delivering an update again (Telegram retries what was not acknowledged in
time) is not the citizen writing again: an update key this guard let through within
the window passes free, so a burst of redeliveries never costs the chat its next real
message (the database recognises the repeat as a duplicate).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable

MAX_CHATS = 100_000


class FloodGuard:
    def __init__(self, burst: int, window_seconds: float, max_chats: int = MAX_CHATS):
        self.burst = float(burst)
        self.window = window_seconds
        self.rate = burst / window_seconds
        self.max_chats = max_chats
        # chat -> (tokens left, when last seen), the least recently seen first
        self._buckets: OrderedDict[Hashable, tuple[float, float]] = OrderedDict()
        # (chat, update key) let through -> when, the oldest first
        self._let_through: OrderedDict[tuple[Hashable, Hashable], float] = OrderedDict()

    def allow(self, chat: Hashable, now: float, update_key: Hashable | None = None) -> bool:
        """True if this message of `chat`, arriving at `now` (seconds), may be handled;
        a redelivery of an update let through within the window always may."""
        self._forget_let_through(now)
        if update_key is not None and (chat, update_key) in self._let_through:
            return True
        tokens, seen = self._buckets.pop(chat, (self.burst, now))
        tokens = min(self.burst, tokens + max(0.0, now - seen) * self.rate)
        allowed = tokens >= 1
        self._buckets[chat] = (tokens - 1 if allowed else tokens, now)
        self._forget_idle(now)
        if allowed and update_key is not None:
            self._let_through[(chat, update_key)] = now
        return allowed

    def _forget_let_through(self, now: float) -> None:
        keys = self._let_through
        while keys:
            seen = next(iter(keys.values()))
            if now - seen < self.window and len(keys) <= self.max_chats:
                return
            keys.popitem(last=False)

    def _forget_idle(self, now: float) -> None:
        while self._buckets:
            _, seen = next(iter(self._buckets.values()))
            if now - seen < self.window and len(self._buckets) <= self.max_chats:
                return
            # Full again (idle a window), or over the cap: forgetting the least recently
            # seen chat can only make the guard more lenient, never drop a good message.
            self._buckets.popitem(last=False)

    @property
    def tracked(self) -> int:
        """How many chats are remembered (for tests and metrics)."""
        return len(self._buckets)
