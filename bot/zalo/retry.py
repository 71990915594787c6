"""Backoff for calls that failed: never a tight loop against Zalo or the database."""

from __future__ import annotations


def backoff_delay(attempt: int, *, base: float = 1.0, cap: float = 60.0) -> float:
    """Seconds to wait before retry number `attempt` (1, 2, …): base, 2·base, 4·base … cap."""
    return min(cap, base * 2 ** max(0, min(attempt, 64) - 1))
