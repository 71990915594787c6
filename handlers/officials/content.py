"""What an official's digest and /scores say: the report's numbers in the official's words.

Numbers come from `build_report`, the function behind `python -m bot report`, with
the official's agencies as explicit codes (see `access` for the scope), so a digest
says exactly what `bot report --agency … --group-by none` says for the same days.
`compose` reads in the caller's transaction and returns text and *descriptions* of
the chart and the workbook; they are drawn after the commit (`bot.rendering`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot import i18n
from bot.clock import local_today
from bot.i18n import Translator
from bot.models import Official
from bot.questionnaire import Questionnaire
from bot.settings import Settings
from handlers.dossiers import Timeliness, agencies_without_signer, code_list, timeliness_report
from handlers.messages import ChartAttachment, WorkbookAttachment
from handlers.officials import late, links
from handlers.officials.access import Scope
from handlers.officials.schedule import MONTHLY, WEEKLY
from handlers.reports import (
    MONTH,
    QUARTER,
    YEAR,
    Dropoff,
    Period,
    Report,
    ReportError,
    ReportFilters,
    build_report,
    chart_of,
    criterion_name,
    factor_name,
    target_text,
    to_json,
    workbook_of,
)
from scoring import weakest_criteria

WEAKEST = 3


class Words:
    """The translator in one language, with numbers and dates as that language writes them."""

    def __init__(self, translator: Translator, language: str | None):
        self.translator = translator
        self.lang = translator.language(language)

    def __call__(self, key: str, **params: object) -> str:
        return self.translator(self.lang, key, **params)

    def number(self, value: float | None, sign: bool = False, decimals: int | None = None) -> str:
        if decimals is None:
            return i18n.number(value, self.lang, sign=sign)
        return i18n.number(value, self.lang, decimals=decimals, sign=sign)

    def count(self, value: int) -> str:
        return i18n.count(value, self.lang)

    def target(self, value: float) -> str:
        return target_text(value, self.lang).removesuffix("%")

    @staticmethod
    def date(day: date) -> str:
        return i18n.day(day)

    def period(self, period: Period) -> str:
        start = period.start
        if period.kind == MONTH:
            return self("official_period_month", month=start.month, year=start.year)
        if period.kind == QUARTER:
            quarter = (start.month - 1) // 3 + 1
            return self("official_period_quarter", quarter=quarter, year=start.year)
        if period.kind == YEAR:
            return self("official_period_year", year=start.year)
        return self("official_period_range", start=self.date(start), end=self.date(period.end))

    def scope(self, scope: Scope) -> str:
        if scope.agency_ids is None:
            return self("official_scope_province")
        text = self("official_scope_agency", agency=scope.root_name, code=scope.root_code)
        others = len(scope.codes) - 1
        return text + (" " + self("official_scope_more", count=others) if others > 0 else "")

    def schedule(self, official: Official) -> str:
        at = f"{official.digest_minute // 60:02d}:{official.digest_minute % 60:02d}"
        if official.digest_frequency == WEEKLY:
            weekday = self(f"official_weekday_{official.digest_weekday}")
            return self("official_schedule_weekly", weekday=weekday, time=at)
        if official.digest_frequency == MONTHLY:
            return self("official_schedule_monthly", day=official.digest_month_day, time=at)
        return self("official_schedule_off")


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


async def scope_report(
    session: AsyncSession,
    questionnaires: Mapping[str, Questionnaire],
    settings: Settings,
    scope: Scope,
    period: Period,
    grouping: tuple[str, ...] = ("agency",),
) -> Report:
    """`build_report` over the scope's agencies (all of them for the province)."""
    if scope.agency_ids is not None and not scope.codes:
        raise ReportError("no agency in scope")
    filters = ReportFilters(
        questionnaire=settings.survey.questionnaire, period=period, agencies=scope.codes
    )
    return await build_report(session, questionnaires, filters, grouping, settings.scoring)


def score_lines(report: Report, words: Words) -> list[str]:
    """SIPAS against the previous period and the target, responses, reliability."""
    total = report.total.indices
    previous_n = report.total.previous.respondents if report.total.previous else 0
    if total.respondents == 0:
        return [words("official_no_responses", previous=previous_n)]
    overall = total.overall
    comparison = overall.comparison
    common = {
        "index": words.number(overall.index),
        "target": words.target(report.target),
        "to_target": words.number(comparison.to_target, sign=True),
    }
    if comparison.change is None or overall.index is None:
        lines = [words("official_sipas_first", **common)]
    else:
        lines = [
            words(
                "official_sipas",
                **common,
                change=words.number(comparison.change, sign=True),
                previous=words.number(overall.index - comparison.change),
            )
        ]
    lines.append(
        words(
            "official_responses",
            count=words.count(total.respondents),
            previous=words.count(previous_n),
        )
    )
    if not total.reliable:
        lines.append(words("official_small_sample", min=report.min_sample))
    return lines


def dropoff_line(dropoff: Dropoff, words: Words) -> str:
    """One line: completed of started chat surveys, the rate, and the question most left at.

    The rate (one decimal) only from the report's minimum sample up, as for the indices."""
    if not dropoff.started:
        return words("official_dropoff_none")
    if dropoff.completion_rate is None:
        rate = words("official_dropoff_small")
    else:
        rate = f"{i18n.number(dropoff.completion_rate, words.lang, decimals=1)}%"
    common = {
        "completed": words.count(dropoff.completed),
        "started": words.count(dropoff.started),
        "rate": rate,
    }
    worst = dropoff.worst
    if worst is None:
        return words("official_dropoff_no_leaver", **common)
    return words(
        "official_dropoff",
        **common,
        number=worst.number,
        code=worst.question_id,
        left=words.count(worst.left_total),
    )


def factor_lines(report: Report, words: Words) -> list[str]:
    total = report.total.indices
    lines = [words("official_factors")]
    for factor in total.factors:
        name = _cut(factor_name(report.questionnaire, factor.factor, words.lang), 48)
        if factor.index is None:
            missing = words("official_factor_missing_tail")
            lines.append(f"• {factor.factor} {name}: {missing}")
            continue
        lines.append(
            words(
                "official_factor_line",
                code=factor.factor,
                name=name,
                index=words.number(factor.index),
                change=words.number(factor.comparison.change, sign=True),
            )
        )
    weakest = weakest_criteria(total, WEAKEST)
    if weakest:
        lines.append(words("official_weakest", count=len(weakest)))
        for rank, criterion in enumerate(weakest, start=1):
            name = _cut(criterion_name(report.questionnaire, criterion.item_id, words.lang), 70)
            lines.append(
                words(
                    "official_weakest_line",
                    rank=rank,
                    code=criterion.item_id,
                    name=name,
                    index=words.number(criterion.index),
                    count=words.count(criterion.valid_n),
                )
            )
    return lines


def dossier_lines(figures: late.DossierFigures, words: Words) -> list[str]:
    return [
        words("official_dossiers", new=figures.new_late, open=figures.open_late),
        words("official_escalations", new=figures.escalations_new, open=figures.escalations_open),
        words(
            "official_apologies",
            sent=figures.apologies_sent,
            undeliverable=figures.apologies_undeliverable,
        ),
    ]


def timeliness_line(figures: Timeliness, words: Words) -> str | None:
    """QĐ 766's figure in one line, or None when the scope has no dossier figure at all."""
    if not figures.units:
        return None
    total = figures.total
    share = total.on_time_share
    return words(
        "official_timeliness",
        share=f"{words.number(share * 100, decimals=1)}%" if share is not None else "—",
        finished=words.count(total.finished),
        overdue=words.count(total.overdue_now),
        sent=words.count(total.apologies_sent),
        undelivered=words.count(total.apologies_undelivered),
        owed=words.count(total.apologies_owed),
    )


@dataclass(frozen=True)
class Digest:
    """A digest's text and figures, and its files described (None without responses)."""

    text: str
    figures: dict[str, Any]
    period: Period
    chart: ChartAttachment | None
    workbook: WorkbookAttachment | None


def report_files(
    report: Report, lang: str, prefix: str, period: Period
) -> tuple[ChartAttachment, WorkbookAttachment]:
    """The chart and the workbook of a report, described; their fallback is set later."""
    return (
        chart_of(report, lang, file_name(prefix, period, "png")),
        workbook_of(report, lang, file_name(prefix, period, "xlsx")),
    )


async def compose(
    session: AsyncSession,
    *,
    questionnaires: Mapping[str, Questionnaire],
    settings: Settings,
    words: Words,
    scope: Scope,
    title: str,
    period: Period,
    now: datetime,
) -> Digest:
    """A digest read in the session: text, numbers, and its files as descriptions."""
    report = await scope_report(session, questionnaires, settings, scope, period)
    today = local_today(now, settings)
    dossiers = await late.dossier_figures(session, scope, period, today, settings.zone)
    timeliness = await timeliness_report(
        session, scope.agency_ids, period, now, settings.dossier, zone=settings.zone
    )
    unsigned = await agencies_without_signer(session, scope.agency_ids)
    responded = report.total.indices.respondents > 0
    lines = [
        title,
        words.scope(scope),
        "",
        *score_lines(report, words),
        dropoff_line(report.dropoff, words),
    ]
    if responded:
        lines += ["", *factor_lines(report, words)]
    lines += ["", *dossier_lines(dossiers, words)]
    on_time = timeliness_line(timeliness, words)
    if on_time:
        lines.append(on_time)
    if unsigned:
        lines.append(words("official_digest_unsigned", agencies=code_list(unsigned)))
    data = to_json(report, words.lang)
    figures = {
        "language": words.lang,
        "period": report.filters.to_dict(),
        "previous_period": report.previous_period.label,
        "total": data["total"],
        "dropoff": data["dropoff"],
        "dossiers": dossiers.to_dict(),
        "timeliness": timeliness.total.to_dict() if timeliness.units else None,
        "agencies_without_signer": unsigned,
    }
    chart, workbook = (
        report_files(report, words.lang, "sipas-digest", period) if responded else (None, None)
    )
    return Digest("\n".join(lines), figures, period, chart, workbook)


def digest_title(words: Words, frequency: str, period: Period) -> str:
    key = "official_digest_monthly" if frequency == MONTHLY else "official_digest_weekly"
    return words(key, period=words.period(period))


def file_name(prefix: str, period: Period, extension: str) -> str:
    return f"{prefix}-{period.label.replace('..', '_')}.{extension}"


def link_lines(
    words: Words, settings: Settings, payloads: list[tuple[str, dict[str, Any]]], now: datetime
) -> str:
    """Download links (label key, payload) for where files cannot go, or why there are none."""
    made = [(label, links.make_link(settings, payload, now)) for label, payload in payloads]
    if not made or any(link is None for _, link in made):
        return words("official_links_unavailable")
    lines = [f"{words(label)}: {link}" for label, link in made]
    expires = links.expiry(settings, now).astimezone(settings.zone)
    lines.append(words("official_link_expires", time=expires.strftime("%H:%M %d/%m/%Y")))
    return "\n".join(lines)
