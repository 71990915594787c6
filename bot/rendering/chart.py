"""A `ChartAttachment` drawn as a PNG bar chart: this period, the one before, the target.

Drawn with matplotlib's Agg backend (no display) in DejaVu Sans, which has every
Vietnamese letter; texts are NFC-normalised so each letter is one glyph. pyplot keeps
global state, so one drawing at a time (`_lock`) whatever thread asks.
"""

from __future__ import annotations

import io
import threading
import unicodedata

from handlers.messages import ChartAttachment

_lock = threading.Lock()


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def draw_chart(chart: ChartAttachment) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    with _lock, pyplot.rc_context({"font.family": "DejaVu Sans", "font.size": 9}):
        figure, axes = pyplot.subplots(figsize=(11, 6), dpi=110)
        positions = range(len(chart.labels))
        width = 0.38
        axes.bar(
            [p - width / 2 for p in positions],
            chart.previous,
            width,
            color="#b0bec5",
            label=_nfc(chart.previous_label),
        )
        bars = axes.bar(
            [p + width / 2 for p in positions],
            chart.current,
            width,
            yerr=[chart.current_low, chart.current_high],
            capsize=3,
            color="#1565c0",
            label=_nfc(chart.current_label),
        )
        for bar, text, high in zip(bars, chart.annotations, chart.current_high, strict=True):
            axes.annotate(
                text,
                (bar.get_x() + bar.get_width() / 2, bar.get_height() + high),
                xytext=(0, 3),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontweight="bold",
            )
        axes.axhline(chart.target, color="#c62828", linestyle="--", label=_nfc(chart.target_label))
        axes.set_xticks(list(positions), [_nfc(label) for label in chart.labels])
        axes.set_ylim(0, 115)
        axes.set_yticks(range(0, 101, 20))
        axes.set_ylabel(_nfc(chart.y_label))
        axes.set_title(_nfc(chart.title))
        axes.legend(loc="upper center", ncol=3, frameon=False)
        axes.grid(axis="y", alpha=0.3)
        figure.tight_layout()
        out = io.BytesIO()
        figure.savefig(out, format="png")
        pyplot.close(figure)
    return out.getvalue()
