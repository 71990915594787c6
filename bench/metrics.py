"""Benchmark: the cost of recording one event in bot.metrics, against a bare dict update.

The hot path counts every update (a labelled counter and a histogram observation) and
every send. This times each against the same number of `Counter[key] += 1` on a
prebuilt key (the cheapest thing an event could cost), in the same run, and prints
nanoseconds per event and the ratio; then one render of a page with as many series
as a busy process has.

    .venv/bin/python bench/metrics.py            # 1,000,000 events
    .venv/bin/python bench/metrics.py --events 100000
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot import metrics  # noqa: E402


def timed(events: int, record) -> float:
    started = time.perf_counter()
    for _ in range(events):
        record()
    return (time.perf_counter() - started) / events * 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    events = parser.parse_args().events
    bare: Counter = Counter()
    key = ("sipas_updates_total", (("channel", "telegram"), ("outcome", "handled")))

    def baseline() -> None:
        bare[key] += 1

    def counter() -> None:
        metrics.increment(metrics.UPDATES, channel="telegram", outcome="handled")

    def observe() -> None:
        metrics.UPDATE_LATENCY.observe(0.012, channel="telegram")

    def unlabelled() -> None:
        metrics.increment("bench_events_total")

    base = timed(events, baseline)
    print(f"baseline  Counter[key] += 1          {base:7.0f} ns/event")
    for name, record in (
        ("counter   increment(name)", unlabelled),
        ("counter   increment(name, 2 labels)", counter),
        ("histogram observe(value, 1 label)", observe),
    ):
        cost = timed(events, record)
        print(f"{name:38s}{cost:5.0f} ns/event  x{cost / base:.1f} baseline")
    for channel in ("telegram", "zalo_bot", "zalo_oa", "console"):
        for outcome in ("handled", "duplicate", "flooded", "failed", "unavailable"):
            metrics.increment(metrics.UPDATES, channel=channel, outcome=outcome)
        metrics.UPDATE_LATENCY.observe(0.02, channel=channel)
    started = time.perf_counter()
    text = metrics.render()
    elapsed_ms = (time.perf_counter() - started) * 1e3
    print(f"render    {len(text.splitlines())} lines in {elapsed_ms:.2f} ms")


if __name__ == "__main__":
    main()
