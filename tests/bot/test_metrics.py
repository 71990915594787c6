"""bot.metrics: counters with labels, the latency histogram, gauges set or read at scrape
time, and a page a strict parser of the exposition format accepts."""

from __future__ import annotations

import logging
import math

import pytest

from bot import metrics
from bot.database import Database
from handlers.messages import Inbound, InboundKind
from tests.builders import FakeClock, make_processor, seed_catalog
from tests.prometheus_text import ExpositionError, parse


def page() -> dict:
    return parse(metrics.render())


def test_labelled_counters_render_escaped_and_parse_back():
    hostile = 'say "hi"\\ then\nnewline'
    metrics.increment("test_metrics_events_total", kind=hostile)
    metrics.increment("test_metrics_events_total", 2, kind="plain")
    metrics.describe("test_metrics_events_total", "Events\nof a test \\ (two lines).")
    family = page()["test_metrics_events_total"]
    assert family.type == "counter" and family.help == "Events\nof a test \\ (two lines)."
    assert family.value(kind=hostile) == metrics.value("test_metrics_events_total", kind=hostile)
    assert family.value(kind="plain") == metrics.value("test_metrics_events_total", kind="plain")
    assert metrics.value("test_metrics_events_total", kind="plain") >= 2


def test_a_family_without_description_still_has_help_and_type():
    metrics.increment("test_metrics_undescribed_total")
    family = page()["test_metrics_undescribed_total"]
    assert family.help and family.type == "counter"


@pytest.mark.parametrize("name", ["", "2fast", "has-dash", "space name", "é"])
def test_bad_metric_names_are_refused(name):
    with pytest.raises(ValueError, match="bad metric name"):
        metrics.increment(name)


@pytest.mark.parametrize("label", ["le", "__reserved", "has-dash", "0zero"])
def test_bad_label_names_are_refused(label):
    with pytest.raises(ValueError, match="bad label name"):
        metrics.increment("test_metrics_labels_total", **{label: "x"})


def test_histogram_buckets_are_inclusive_cumulative_and_summed():
    histogram = metrics.histogram("test_metrics_seconds", "A test histogram.", (0.1, 1.0))
    assert metrics.histogram("test_metrics_seconds", "Again.", (5.0,)) is histogram
    for value in (0.05, 0.1, 0.5, 1.0, 3.0):
        histogram.observe(value, channel="a")
    histogram.observe(0.2, channel="b")
    family = page()["test_metrics_seconds"]
    assert family.type == "histogram"
    bucket = "test_metrics_seconds_bucket"
    assert family.value(bucket, channel="a", le="0.1") == 2  # 0.1 itself is in "le 0.1"
    assert family.value(bucket, channel="a", le="1.0") == 4
    assert family.value(bucket, channel="a", le="+Inf") == 5
    assert family.value("test_metrics_seconds_count", channel="a") == 5
    assert family.value("test_metrics_seconds_sum", channel="a") == pytest.approx(4.65)
    assert family.value(bucket, channel="b", le="0.1") == 0
    assert histogram.count(channel="b") == 1


def test_gauges_set_and_read_at_scrape_time(caplog):
    metrics.set_gauge("test_metrics_level", 3.5, lane="x")
    calls = []

    def budget():
        calls.append(1)
        return [({"lane": "telegram"}, 0.25), ({"lane": "zns"}, 1)]

    metrics.register_gauge("test_metrics_budget_use", "Budget used (0-1).", budget)
    metrics.register_gauge("test_metrics_one", "A single number.", lambda: 7)
    metrics.register_gauge("test_metrics_broken", "Raises.", lambda: 1 / 0)
    with caplog.at_level(logging.WARNING, logger="bot.metrics"):
        families = page()
    assert families["test_metrics_level"].value(lane="x") == 3.5
    use = families["test_metrics_budget_use"]
    assert use.type == "gauge" and use.help == "Budget used (0-1)."
    assert (use.value(lane="telegram"), use.value(lane="zns")) == (0.25, 1)
    assert families["test_metrics_one"].value() == 7
    assert "test_metrics_broken" not in families  # skipped, the rest of the page served
    assert "reading gauge test_metrics_broken failed (ZeroDivisionError)" in caplog.text
    page()
    assert len(calls) == 2  # read at every scrape, never cached
    metrics.clear_gauge("test_metrics_level")
    assert "test_metrics_level" not in page()


def test_special_values_render_as_the_format_spells_them():
    metrics.set_gauge("test_metrics_special", math.inf, kind="inf")
    metrics.set_gauge("test_metrics_special", math.nan, kind="nan")
    metrics.set_gauge("test_metrics_special", True, kind="bool")
    text = metrics.render()
    assert 'test_metrics_special{kind="inf"} +Inf' in text
    assert 'test_metrics_special{kind="nan"} NaN' in text
    assert 'test_metrics_special{kind="bool"} 1' in text
    assert math.isnan(parse(text)["test_metrics_special"].value(kind="nan"))


@pytest.mark.parametrize(
    "broken",
    [
        "# TYPE a counter\na 1",  # no final newline
        "a 1\n",  # no TYPE
        "# HELP a x\n# TYPE a counter\na 1\n# HELP b y\n# TYPE b gauge\nb 1\na 2\n",
        '# HELP a x\n# TYPE a counter\na{l="\\t"} 1\n',  # unknown escape
        "# HELP a x\n# TYPE a counter\na 1\na 1\n",  # the same series twice
        "# HELP a x\n# TYPE a counter\na -1\n",
        '# HELP h x\n# TYPE h histogram\nh_bucket{le="1.0"} 2\nh_bucket{le="+Inf"} 1\n'
        "h_sum 1\nh_count 1\n",  # not cumulative
    ],
)
def test_the_parser_is_strict(broken):
    with pytest.raises(ExpositionError):
        parse(broken)


def inbound(key: str, text: str = "/help") -> Inbound:
    return Inbound("metrics_test", "61", InboundKind.TEXT, text, key)


async def test_updates_are_counted_by_channel_and_outcome_and_timed(database):
    await seed_catalog(database)
    processor = make_processor(database, FakeClock(), flood_messages=5, flood_window_seconds=60)

    def counted(outcome: str) -> int:
        return metrics.value(metrics.UPDATES, channel="metrics_test", outcome=outcome)

    before = {outcome: counted(outcome) for outcome in ("handled", "duplicate", "flooded")}
    timed = metrics.UPDATE_LATENCY.count(channel="metrics_test")
    assert await processor.process(inbound("m:1"))
    assert await processor.process(inbound("m:1")) == []  # redelivered: costs no token
    for key in ("m:2", "m:3", "m:4", "m:5"):
        assert await processor.process(inbound(key))
    assert await processor.process(inbound("m:6")) == []  # the sixth message within a minute
    assert {outcome: counted(outcome) - before[outcome] for outcome in before} == {
        "handled": 5,
        "duplicate": 1,
        "flooded": 1,
    }
    assert metrics.UPDATE_LATENCY.count(channel="metrics_test") == timed + 6  # not the flood
    family = page()[metrics.UPDATE_SECONDS]
    assert family.value(f"{metrics.UPDATE_SECONDS}_count", channel="metrics_test") == timed + 6


async def test_an_update_on_an_unavailable_database_is_counted_as_such():
    unreachable = Database("postgresql+asyncpg://postgres@127.0.0.1:9/none")
    processor = make_processor(unreachable, FakeClock())
    before = metrics.value(metrics.UPDATES, channel="metrics_test", outcome="unavailable")
    try:
        with pytest.raises(Exception):  # noqa: B017 - the platform must redeliver it
            await processor.process(inbound("m:down"))
    finally:
        await unreachable.dispose()
    after = metrics.value(metrics.UPDATES, channel="metrics_test", outcome="unavailable")
    assert after == before + 1
