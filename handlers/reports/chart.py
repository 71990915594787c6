"""The five factor indices of a report as a chart, described: plain data from the report,
cheap to make inside a transaction. `bot.rendering` draws it after the commit (and for
`python -m bot report --format png`); this room never imports a drawing library.
"""

from __future__ import annotations

import textwrap

from bot.i18n import count, number
from handlers.messages import ChartAttachment
from handlers.reports.build import Report
from handlers.reports.render import factor_name, heading, target_text


def chart_of(report: Report, lang: str = "vi", file_name: str = "", fallback: str = ""):
    """The report's chart as a description (what the bars, labels and title say)."""
    total = report.total.indices
    previous = report.total.previous
    factors = total.factors
    labels = tuple(
        f"{f.factor}\n" + textwrap.fill(factor_name(report.questionnaire, f.factor, lang), 22)
        for f in factors
    )
    sipas = "—" if total.overall.index is None else f"{number(total.overall.index, lang)}%"
    title = (
        f"{heading(lang, 'chart_title')} — {report.filters.period.label}\n"
        f"SIPAS {sipas}; {heading(lang, 'respondents').lower()}: "
        f"{count(total.respondents, lang)}"
        + (f" ({count(previous.respondents, lang)})" if previous else "")
    )
    return ChartAttachment(
        title=title,
        labels=labels,
        current=tuple(f.index or 0.0 for f in factors),
        current_low=tuple(max(0.0, (f.index or 0) - (f.ci_low or f.index or 0)) for f in factors),
        current_high=tuple(max(0.0, (f.ci_high or f.index or 0) - (f.index or 0)) for f in factors),
        annotations=tuple(number(f.index, lang) for f in factors),
        previous=tuple(
            (f.index - f.comparison.change)
            if f.comparison.change is not None and f.index is not None
            else 0.0
            for f in factors
        ),
        current_label=f"{heading(lang, 'this_period')} ({report.filters.period.label})",
        previous_label=(
            f"{heading(lang, 'previous').capitalize()} ({report.previous_period.label})"
        ),
        target=report.target,
        target_label=f"{heading(lang, 'target')} {target_text(report.target, lang)}",
        y_label=f"{heading(lang, 'index')} (%)",
        file_name=file_name,
        fallback=fallback,
    )
