"""The five factor indices as a PNG bar chart: this period, the previous one, the target.

Drawn with matplotlib's Agg backend (no display) in DejaVu Sans, which has every
Vietnamese letter; texts are NFC-normalised so each letter is one glyph.
"""

from __future__ import annotations

import textwrap
import unicodedata
from pathlib import Path

from bot.i18n import count, number
from bot.reports.build import Report
from bot.reports.render import factor_name, heading, target_text


def write_chart(report: Report, path: Path, lang: str = "vi") -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    def nfc(text: str) -> str:
        return unicodedata.normalize("NFC", text)

    total = report.total.indices
    previous = report.total.previous
    factors = total.factors
    labels = [
        nfc(f"{f.factor}\n" + textwrap.fill(factor_name(report.questionnaire, f.factor, lang), 22))
        for f in factors
    ]
    now = [f.index or 0.0 for f in factors]
    before = [
        (f.index - f.comparison.change) if f.comparison.change is not None else None
        for f in factors
    ]
    errors = [
        [max(0.0, (f.index or 0) - (f.ci_low or f.index or 0)) for f in factors],
        [max(0.0, (f.ci_high or f.index or 0) - (f.index or 0)) for f in factors],
    ]
    with pyplot.rc_context({"font.family": "DejaVu Sans", "font.size": 9}):
        figure, axes = pyplot.subplots(figsize=(11, 6), dpi=110)
        positions = range(len(factors))
        width = 0.38
        axes.bar(
            [p - width / 2 for p in positions],
            [b or 0.0 for b in before],
            width,
            color="#b0bec5",
            label=nfc(f"{heading(lang, 'previous').capitalize()} ({report.previous_period.label})"),
        )
        bars = axes.bar(
            [p + width / 2 for p in positions],
            now,
            width,
            yerr=errors,
            capsize=3,
            color="#1565c0",
            label=nfc(f"{heading(lang, 'this_period')} ({report.filters.period.label})"),
        )
        for bar, factor in zip(bars, factors, strict=True):
            text = number(factor.index, lang)
            axes.annotate(
                text,
                (bar.get_x() + bar.get_width() / 2, factor.ci_high or bar.get_height()),
                xytext=(0, 3),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontweight="bold",
            )
        axes.axhline(
            report.target,
            color="#c62828",
            linestyle="--",
            label=nfc(f"{heading(lang, 'target')} {target_text(report.target, lang)}"),
        )
        axes.set_xticks(list(positions), labels)
        axes.set_ylim(0, 115)
        axes.set_yticks(range(0, 101, 20))
        axes.set_ylabel(nfc(f"{heading(lang, 'index')} (%)"))
        sipas = "—" if total.overall.index is None else f"{number(total.overall.index, lang)}%"
        axes.set_title(
            nfc(
                f"{heading(lang, 'chart_title')} — {report.filters.period.label}\n"
                f"SIPAS {sipas}; {heading(lang, 'respondents').lower()}: "
                f"{count(total.respondents, lang)}"
                + (f" ({count(previous.respondents, lang)})" if previous else "")
            )
        )
        axes.legend(loc="upper center", ncol=3, frameon=False)
        axes.grid(axis="y", alpha=0.3)
        figure.tight_layout()
        figure.savefig(path, format="png")
        pyplot.close(figure)
