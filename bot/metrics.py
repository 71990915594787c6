"""Process-wide metrics, served at GET /metrics in the Prometheus text format (0.0.4).

Some failures must not pass silently yet must not stop the bot either (a reply
outside Zalo's free window, a failed token refresh, a forged webhook call): each
is logged and counted, so an operator can alert on a number instead of reading logs.
Counting needs no web server: any module may count (the route is `bot.web.metrics`).

Three kinds, all in plain dicts of this process (the event loop is one thread, so
nothing is locked and recording an event is one dict update):

- counters: `increment(name, **labels)`; names end in `_total`;
- histograms: `HISTOGRAMS[name].observe(value, **labels)`, declared with `histogram`;
- gauges: `set_gauge(name, value, **labels)` for a value known when it changes, or
  `register_gauge(name, help, read)` for one read at scrape time. `read()` returns a
  number, or pairs of (labels, number); it must be cheap and must not await. Another
  part of the bot registers its own this way, e.g. the shared rate budgets:

      metrics.register_gauge(
          "sipas_rate_budget_use",
          "Share of each platform lane's rate budget used in the last second (0-1).",
          lambda: [({"lane": lane}, use) for lane, use in budgets.use().items()],
      )

`describe(name, help)` gives a family its HELP line (else a generic one). Label
values come from a small fixed set (a channel, an outcome): never an id, a code or
text, which would leak who talks to the bot and grow the page without bound.
"""

from __future__ import annotations

import logging
import math
import re
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

log = logging.getLogger(__name__)

Labels = tuple[tuple[str, str], ...]
GaugeReading = float | Iterable[tuple[Mapping[str, Any], float]]

# The families every process serves (see README "Deployment" for what to alert on).
UPDATES = "sipas_updates_total"
UPDATE_SECONDS = "sipas_update_handling_seconds"
SENDS = "sipas_sends_total"
LEADER = "sipas_leader"
OUTBOX_BACKLOG = "sipas_outbox_backlog"
OUTBOX_OLDEST_DUE = "sipas_outbox_oldest_due_age_seconds"
RATE_BUDGET_USE = "sipas_rate_budget_use"
JOBS = "sipas_scheduled_jobs_total"

# Handling one message takes milliseconds; seconds mean a database in trouble.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_GENERIC_HELP = "Events counted by the bot (see the module that counts them)."

COUNTERS: Counter[tuple[str, Labels]] = Counter()
GAUGES: dict[str, dict[Labels, float]] = {}
HISTOGRAMS: dict[str, Histogram] = {}
_GAUGE_READERS: dict[str, Callable[[], GaugeReading]] = {}
_HELP: dict[str, str] = {}
_CHECKED: set[str] = set()
_CHECKED_LABELS: set[str] = set()
_SERIES: dict[tuple[str, tuple[tuple[str, Any], ...]], tuple[str, Labels]] = {}


def _check(name: str) -> str:
    if name not in _CHECKED:
        if not _NAME.match(name):
            raise ValueError(f"bad metric name {name!r}")
        _CHECKED.add(name)
    return name


def _labels(labels: Mapping[str, Any]) -> Labels:
    if not labels:
        return ()
    for key in labels:
        if key not in _CHECKED_LABELS:
            if not _LABEL.match(key) or key == "le" or key.startswith("__"):
                raise ValueError(f"bad label name {key!r}")
            _CHECKED_LABELS.add(key)
    return tuple(sorted((key, str(value)) for key, value in labels.items()))


def describe(name: str, help_text: str) -> None:
    _HELP[_check(name)] = help_text


def _series(name: str, labels: Mapping[str, Any]) -> tuple[str, Labels]:
    """The series' key: checked and sorted once, then found by the call's own order."""
    raw = (name, tuple(labels.items()))
    key = _SERIES.get(raw)
    if key is None:
        key = _SERIES[raw] = (_check(name), _labels(labels))
    return key


def increment(name: str, amount: int = 1, **labels: Any) -> None:
    COUNTERS[_series(name, labels)] += amount


def value(name: str, **labels: Any) -> int:
    return COUNTERS[(name, _labels(labels))]


def count_send(platform: str, outcome: str) -> None:
    """One message handed to a platform: sent, 429, failed, or uncertain (timed out)."""
    increment(SENDS, platform=platform, outcome=outcome)


def set_gauge(name: str, number: float, **labels: Any) -> None:
    GAUGES.setdefault(_check(name), {})[_labels(labels)] = number


def clear_gauge(name: str) -> None:
    """Forget a gauge's samples (absent is more honest than stale)."""
    GAUGES.pop(name, None)


def register_gauge(name: str, help_text: str, read: Callable[[], GaugeReading]) -> None:
    """A gauge read at each scrape; registering the name again replaces the reader."""
    describe(name, help_text)
    _GAUGE_READERS[name] = read


class Histogram:
    """Counts per bucket (upper bounds, inclusive), their sum and count, per label set."""

    def __init__(self, name: str, buckets: Sequence[float]):
        self.name = name
        self.buckets = tuple(sorted(buckets))
        self.series: dict[Labels, list[float]] = {}  # bucket counts..., +Inf, sum

    def observe(self, number: float, **labels: Any) -> None:
        key = _series(self.name, labels)[1]
        series = self.series.get(key)
        if series is None:
            series = self.series[key] = [0] * (len(self.buckets) + 1) + [0.0]
        series[bisect_left(self.buckets, number)] += 1
        series[-1] += number

    def count(self, **labels: Any) -> int:
        series = self.series.get(_labels(labels))
        return int(sum(series[:-1])) if series else 0


def histogram(name: str, help_text: str, buckets: Sequence[float]) -> Histogram:
    """The histogram of that name, made once (a second call returns the same one)."""
    describe(name, help_text)
    if name not in HISTOGRAMS:
        HISTOGRAMS[name] = Histogram(name, buckets)
    return HISTOGRAMS[name]


# -- the exposition ----------------------------------------------------------------------


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _escape_value(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(number: float) -> str:
    if isinstance(number, bool):
        return str(int(number))
    if isinstance(number, int):
        return str(number)
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "+Inf" if number > 0 else "-Inf"
    return repr(float(number))


def _sample(name: str, labels: Labels, number: float) -> str:
    if not labels:
        return f"{name} {_number(number)}"
    inner = ",".join(f'{key}="{_escape_value(text)}"' for key, text in labels)
    return f"{name}{{{inner}}} {_number(number)}"


def _head(name: str, kind: str) -> list[str]:
    return [
        f"# HELP {name} {_escape_help(_HELP.get(name, _GENERIC_HELP))}",
        f"# TYPE {name} {kind}",
    ]


def _read_gauges() -> dict[str, dict[Labels, float]]:
    families = {name: dict(samples) for name, samples in GAUGES.items()}
    for name, read in _GAUGE_READERS.items():
        try:
            reading = read()
            if isinstance(reading, int | float):
                samples = {(): reading}
            else:
                samples = {_labels(labels): number for labels, number in reading}
        except Exception as error:  # noqa: BLE001 - one broken reader must not fail a scrape
            log.warning("metrics: reading gauge %s failed (%s)", name, type(error).__name__)
            continue
        families.setdefault(name, {}).update(samples)
    return families


def _histogram_lines(histogram_: Histogram) -> list[str]:
    lines = _head(histogram_.name, "histogram")
    bounds = [*(_number(bound) for bound in histogram_.buckets), "+Inf"]
    for labels, series in sorted(histogram_.series.items()):
        running = 0
        for bound, count in zip(bounds, series[:-1], strict=True):
            running += count
            with_le = tuple(sorted((*labels, ("le", bound))))
            lines.append(_sample(f"{histogram_.name}_bucket", with_le, running))
        lines.append(_sample(f"{histogram_.name}_sum", labels, series[-1]))
        lines.append(_sample(f"{histogram_.name}_count", labels, running))
    return lines


def render() -> str:
    """Every family once, HELP and TYPE first, samples sorted (a stable, valid page)."""
    counters: dict[str, list[tuple[Labels, int]]] = {}
    for (name, labels), count in COUNTERS.items():
        counters.setdefault(name, []).append((labels, count))
    lines: list[str] = []
    for name in sorted(counters):
        lines += _head(name, "counter")
        lines += [_sample(name, labels, count) for labels, count in sorted(counters[name])]
    gauges = _read_gauges()
    for name in sorted(gauges):
        if gauges[name]:
            lines += _head(name, "gauge")
            lines += [_sample(name, labels, n) for labels, n in sorted(gauges[name].items())]
    for name in sorted(HISTOGRAMS):
        if HISTOGRAMS[name].series:
            lines += _histogram_lines(HISTOGRAMS[name])
    return "\n".join(lines) + "\n"


describe(UPDATES, "Inbound updates taken in, by channel and outcome.")
describe(
    SENDS, "Messages sent to a platform, by platform and outcome (sent, 429, failed, uncertain)."
)
describe(JOBS, "Scheduled job runs in this process, by job and outcome (done, failed).")
describe(LEADER, "1 while this process holds the scheduled-jobs lock (runs the ticks).")
describe(OUTBOX_BACKLOG, "Outbox rows not yet delivered, by status (read every few seconds).")
describe(OUTBOX_OLDEST_DUE, "Seconds the oldest due pending outbox row has waited (0: none).")
describe(
    RATE_BUDGET_USE,
    "Share of each shared rate limit this process used over the last minute (sum over processes).",
)
UPDATE_LATENCY = histogram(
    UPDATE_SECONDS,
    "Seconds to take one inbound update in (transaction and handler).",
    LATENCY_BUCKETS,
)
