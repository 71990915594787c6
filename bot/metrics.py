"""Process-wide event counters, served at GET /metrics in the Prometheus text format.

Some failures must not pass silently yet must not stop the bot either (a reply
outside Zalo's free window, a failed token refresh, a forged webhook call): each
is logged and counted, so an operator can alert on a number instead of reading logs.
Counting needs no web server: any module may count (the route is `bot.web.metrics`).
"""

from __future__ import annotations

import re
from collections import Counter

COUNTERS: Counter[str] = Counter()
_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


def increment(name: str, amount: int = 1) -> None:
    if not _NAME.match(name):
        raise ValueError(f"bad metric name {name!r}")
    COUNTERS[name] += amount


def value(name: str) -> int:
    return COUNTERS[name]


def render() -> str:
    lines = []
    for name in sorted(COUNTERS):
        lines += [f"# TYPE {name} counter", f"{name} {COUNTERS[name]}"]
    return "\n".join(lines) + "\n"
