"""Officials' digests: what is in them, when they are due, and how they are queued.

Numbers come from `build_report`, the function behind `python -m bot report`, with
the official's agencies as explicit codes (see `access` for the scope), so a digest
says exactly what `bot report --agency … --group-by none` says for the same days.

Schedule. Each official has a frequency (weekly, monthly, off), a weekday or a day of
the month and a local time, in the database. The latest occurrence at or before
`now` is due unless the official changed the schedule (or registered) after it, or
its digest already exists. A weekly digest covers the 7 days before its day (Monday
08:00 covers Monday..Sunday of the week before), a monthly one the calendar month
before. Only the latest occurrence can be due, so a bot that was down for three
weeks sends one digest on start, not three, and ticks in between find nothing.

`run_due(now)` renders each due digest (text, chart, workbook) outside any
transaction, then, in one short transaction, inserts it unless its (official,
period) already exists and queues it in the outbox; two processes racing create it
once. The sender delivers it like any other outbox message; the renderer below
chooses the official's chat and, on channels that cannot carry files, signed links.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from bot import i18n
from bot.database import Database, insert_if_absent
from bot.dossiers.apologies import agencies_without_signer, code_list
from bot.i18n import Translator
from bot.models import Chat, Official, OfficialDigest, OutboxMessage
from bot.officials import late, links
from bot.officials.access import Scope, scope_of
from bot.outbox import Rendered, enqueue
from bot.questionnaire import Questionnaire
from bot.reports.build import Report, ReportError, ReportFilters, build_report
from bot.reports.periods import MONTH, QUARTER, YEAR, Period
from bot.reports.render import criterion_name, factor_name, target_text, to_json
from bot.settings import Settings
from bot.states import DigestFrequency, OutboxKind
from handlers.messages import Outbound
from scoring import weakest_criteria

log = logging.getLogger(__name__)

DIGEST = OutboxKind.DIGEST
WEEKLY, MONTHLY, OFF = DigestFrequency.WEEKLY, DigestFrequency.MONTHLY, DigestFrequency.OFF
FILE_CHANNELS = frozenset({"telegram"})  # channels whose adapter sends images and files
WEAKEST = 3
_render_lock = threading.Lock()  # matplotlib's pyplot keeps global state


# --------------------------------------------------------------------------- schedule


def _at(day: date, minute: int, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(minute // 60, minute % 60), zone)


def _month_day(year: int, month: int, day: int) -> date:
    return date(year + (month - 1) // 12, (month - 1) % 12 + 1, day)


def latest_occurrence(
    frequency: str, weekday: int, month_day: int, minute: int, now: datetime, zone: ZoneInfo
) -> datetime | None:
    """The last scheduled instant at or before `now` (UTC), None when off."""
    local = now.astimezone(zone)
    today = local.date()
    if frequency == WEEKLY:
        day = today - timedelta(days=(local.isoweekday() - weekday) % 7)
        at = _at(day, minute, zone)
        if at > local:
            at = _at(day - timedelta(days=7), minute, zone)
    elif frequency == MONTHLY:
        at = _at(today.replace(day=month_day), minute, zone)
        if at > local:
            at = _at(_month_day(today.year, today.month - 1, month_day), minute, zone)
    else:
        return None
    return at.astimezone(UTC)


def next_occurrence(
    frequency: str, weekday: int, month_day: int, minute: int, now: datetime, zone: ZoneInfo
) -> datetime:
    """The first scheduled instant after `now` (weekly when off, for a preview)."""
    frequency = frequency if frequency in (WEEKLY, MONTHLY) else WEEKLY
    latest = latest_occurrence(frequency, weekday, month_day, minute, now, zone)
    assert latest is not None
    local = latest.astimezone(zone)
    if frequency == WEEKLY:
        following = _at(local.date() + timedelta(days=7), minute, zone)
    else:
        following = _at(_month_day(local.year, local.month + 1, month_day), minute, zone)
    return following.astimezone(UTC)


def covered_period(frequency: str, day: date) -> Period:
    """The days a digest sent on `day` reports: the 7 days before, or the month before."""
    if frequency == MONTHLY:
        previous = day.replace(day=1) - timedelta(days=1)
        return Period.month(previous.year, previous.month)
    return Period(day - timedelta(days=7), day - timedelta(days=1))


def period_key(frequency: str, period: Period) -> str:
    return f"{frequency}:{period.start.isoformat()}"


@dataclass(frozen=True)
class Due:
    official_id: int
    frequency: str
    at: datetime
    period: Period
    key: str


def due_digest(official: Official, now: datetime, zone: ZoneInfo) -> Due | None:
    """The digest this official should have by `now`, if any (existing or not)."""
    if official.revoked_at is not None or official.registered_at is None:
        return None
    at = latest_occurrence(
        official.digest_frequency,
        official.digest_weekday,
        official.digest_month_day,
        official.digest_minute,
        now,
        zone,
    )
    if at is None or (official.schedule_from is not None and at < official.schedule_from):
        return None
    period = covered_period(official.digest_frequency, at.astimezone(zone).date())
    return Due(
        official.id,
        official.digest_frequency,
        at,
        period,
        period_key(official.digest_frequency, period),
    )


def upcoming_period(official: Official, now: datetime, zone: ZoneInfo) -> tuple[str, Period]:
    """The frequency and days of the official's next digest (what `/digest` previews)."""
    frequency = official.digest_frequency if official.digest_frequency != OFF else WEEKLY
    at = next_occurrence(
        frequency,
        official.digest_weekday,
        official.digest_month_day,
        official.digest_minute,
        now,
        zone,
    )
    return frequency, covered_period(frequency, at.astimezone(zone).date())


# --------------------------------------------------------------------------- words


class Words:
    """The translator in one language, with numbers and dates as that language writes them."""

    def __init__(self, translator: Translator, language: str | None):
        self.translator = translator
        self.lang = translator.language(language)

    def __call__(self, key: str, **params: object) -> str:
        return self.translator(self.lang, key, **params)

    def number(self, value: float | None, sign: bool = False) -> str:
        return i18n.number(value, self.lang, sign=sign)

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


# --------------------------------------------------------------------------- content


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


def _render_sync(report: Report, lang: str, chart: bool, workbook: bool):
    from bot.reports.chart import write_chart
    from bot.reports.workbook import write_workbook

    png = xlsx = None
    with tempfile.TemporaryDirectory() as folder, _render_lock:
        if chart:
            path = Path(folder) / "chart.png"
            write_chart(report, path, lang)
            png = path.read_bytes()
        if workbook:
            path = Path(folder) / "report.xlsx"
            write_workbook(report, path, lang)
            xlsx = path.read_bytes()
    return png, xlsx


async def render_files(
    report: Report, lang: str, *, chart: bool = True, workbook: bool = True
) -> tuple[bytes | None, bytes | None]:
    """The chart (PNG) and the workbook (XLSX) of a report, drawn off the event loop."""
    return await asyncio.to_thread(_render_sync, report, lang, chart, workbook)


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


@dataclass
class Digest:
    text: str
    figures: dict[str, Any]
    period: Period
    report: Report
    chart: bytes | None = None
    workbook: bytes | None = None

    @property
    def responded(self) -> bool:
        return self.report.total.indices.respondents > 0

    async def draw(self) -> Digest:
        """Add the chart and the workbook (none for a period without responses)."""
        if self.responded:
            self.chart, self.workbook = await render_files(self.report, self.figures["language"])
        return self


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
    """A digest's text and numbers, read in the session; `draw()` adds the files later,
    so a caller can end its transaction before the slow drawing."""
    report = await scope_report(session, questionnaires, settings, scope, period)
    today = now.astimezone(settings.zone).date()
    dossiers = await late.dossier_figures(session, scope, period, today, settings.zone)
    unsigned = await agencies_without_signer(session, scope.agency_ids)
    lines = [title, words.scope(scope), "", *score_lines(report, words)]
    if report.total.indices.respondents > 0:
        lines += ["", *factor_lines(report, words)]
    lines += ["", *dossier_lines(dossiers, words)]
    if unsigned:
        lines.append(words("official_digest_unsigned", agencies=code_list(unsigned)))
    figures = {
        "language": words.lang,
        "period": report.filters.to_dict(),
        "previous_period": report.previous_period.label,
        "total": to_json(report, words.lang)["total"],
        "dossiers": dossiers.to_dict(),
        "agencies_without_signer": unsigned,
    }
    return Digest("\n".join(lines), figures, period, report)


def digest_title(words: Words, frequency: str, period: Period) -> str:
    key = "official_digest_monthly" if frequency == MONTHLY else "official_digest_weekly"
    return words(key, period=words.period(period))


def file_name(prefix: str, period: Period, extension: str) -> str:
    return f"{prefix}-{period.label.replace('..', '_')}.{extension}"


# --------------------------------------------------------------------------- run_due


async def _official_language(session: AsyncSession, official: Official) -> str | None:
    if official.chat_id is None:
        return None
    return await session.scalar(select(Chat.language).where(Chat.id == official.chat_id))


@dataclass(frozen=True)
class Planned:
    """A digest due at some moment: for whom, in which language, and whether it exists."""

    due: Due
    agency_id: int | None
    language: str
    exists: bool


async def plan_due(
    database: Database, settings: Settings, translator: Translator, now: datetime
) -> list[Planned]:
    """Every digest due at `now`, created already or not (one short read transaction)."""
    zone = settings.zone
    async with database.transaction() as session:
        officials = (
            await session.scalars(
                select(Official)
                .where(
                    Official.revoked_at.is_(None),
                    Official.registered_at.is_not(None),
                    Official.digest_frequency != OFF,
                )
                .order_by(Official.id)
            )
        ).all()
        due = [d for official in officials if (d := due_digest(official, now, zone))]
        if not due:
            return []
        existing = set(
            (
                await session.execute(
                    select(OfficialDigest.official_id, OfficialDigest.period_key).where(
                        tuple_(OfficialDigest.official_id, OfficialDigest.period_key).in_(
                            [(d.official_id, d.key) for d in due]
                        )
                    )
                )
            ).all()
        )
        by_id = {official.id: official for official in officials}
        plans = []
        for item in due:
            official = by_id[item.official_id]
            language = translator.language(await _official_language(session, official))
            exists = (item.official_id, item.key) in existing
            plans.append(Planned(item, official.agency_id, language, exists))
    return plans


async def run_due(
    database: Database,
    settings: Settings,
    questionnaires: Mapping[str, Questionnaire],
    translator: Translator,
    now: datetime,
) -> int:
    """Create and queue every digest due at `now` and not created yet; returns how many."""
    plans = [
        (plan.due, plan.agency_id, plan.language)
        for plan in await plan_due(database, settings, translator, now)
        if not plan.exists
    ]
    created = 0
    cache: dict[tuple[Any, ...], Digest] = {}
    for item, agency_id, language in plans:
        key = (agency_id, item.frequency, item.period, language)
        if key not in cache:
            try:
                cache[key] = await _prepare(
                    database, settings, questionnaires, translator, item, agency_id, language, now
                )
            except ReportError as error:  # the official's agency left the catalogue
                log.warning("digest for official %d skipped: %s", item.official_id, error)
                continue
            except Exception:  # noqa: BLE001 - one broken digest must not hold up the others
                log.exception("digest for official %d failed; retried next tick", item.official_id)
                continue
        if await _store(database, item, language, cache[key], now):
            created += 1
    if created:
        log.info("officials: %d digests queued", created)
    return created


async def _prepare(
    database: Database,
    settings: Settings,
    questionnaires: Mapping[str, Questionnaire],
    translator: Translator,
    item: Due,
    agency_id: int | None,
    language: str,
    now: datetime,
) -> Digest:
    """One digest's content: read in a short transaction, then drawn outside it."""
    words = Words(translator, language)
    async with database.transaction() as session:
        content = await compose(
            session,
            questionnaires=questionnaires,
            settings=settings,
            words=words,
            scope=await scope_of(session, agency_id),
            title=digest_title(words, item.frequency, item.period),
            period=item.period,
            now=now,
        )
    return await content.draw()  # no lock is held while drawing


async def _store(database: Database, item: Due, language: str, content: Digest, now: datetime):
    async with database.transaction() as session:
        inserted = await insert_if_absent(
            session,
            OfficialDigest.__table__,
            {
                "official_id": item.official_id,
                "period_key": item.key,
                "period_start": item.period.start,
                "period_end": item.period.end,
                "due_at": item.at,
                "language": language,
                "text": content.text,
                "figures": content.figures,
                "chart": content.chart,
                "workbook": content.workbook,
                "created_at": now,
            },
        )
        if not inserted:
            return False
        digest_id = await session.scalar(
            select(OfficialDigest.id).where(
                OfficialDigest.official_id == item.official_id,
                OfficialDigest.period_key == item.key,
            )
        )
        assert digest_id is not None
        await enqueue(session, DIGEST, digest_id, dossier_id=None, now=now)
        return True


# --------------------------------------------------------------------------- delivery


def link_lines(
    words: Words, settings: Settings, payloads: list[tuple[str, dict[str, Any]]], now: datetime
) -> str:
    """Download links (label key, payload) for a channel without files, or why there are none."""
    made = [(label, links.make_link(settings, payload, now)) for label, payload in payloads]
    if not made or any(link is None for _, link in made):
        return words("official_links_unavailable")
    lines = [f"{words(label)}: {link}" for label, link in made]
    expires = links.expiry(settings, now).astimezone(settings.zone)
    lines.append(words("official_link_expires", time=expires.strftime("%H:%M %d/%m/%Y")))
    return "\n".join(lines)


def digest_replies(
    digest: OfficialDigest, channel: str, settings: Settings, words: Words, now: datetime
) -> list[Outbound]:
    """The digest as a channel can carry it: files on Telegram, signed links elsewhere."""
    replies = [Outbound(digest.text)]
    if digest.chart is None and digest.workbook is None:
        return replies
    period = Period(digest.period_start, digest.period_end)
    if channel in FILE_CHANNELS:
        if digest.chart is not None:
            replies.append(Outbound(words("official_chart_caption"), image=digest.chart))
        if digest.workbook is not None:
            replies.append(
                Outbound(
                    words("official_workbook_caption"),
                    file=digest.workbook,
                    file_name=file_name("sipas-digest", period, "xlsx"),
                )
            )
        return replies
    payloads = [
        (label, {"k": kind, "o": digest.official_id, "d": digest.id})
        for label, kind, present in (
            ("official_link_chart", links.CHART, digest.chart is not None),
            ("official_link_workbook", links.WORKBOOK, digest.workbook is not None),
        )
        if present
    ]
    replies.append(Outbound(link_lines(words, settings, payloads, now)))
    return replies


def renderers(
    settings: Settings, translator: Translator, clock: Callable[[], datetime]
) -> dict[str, Any]:
    """The outbox renderer of digests: to the official's chat, while still active."""

    async def digest(session: AsyncSession, message: OutboxMessage, dossier, language):
        row = await session.get(OfficialDigest, message.ref_id)
        official = await session.get(Official, row.official_id) if row is not None else None
        if row is None or official is None or official.revoked_at is not None:
            return None
        chat = await session.get(Chat, official.chat_id) if official.chat_id else None
        if chat is None:
            return None
        words = Words(translator, row.language)
        replies = digest_replies(row, chat.channel, settings, words, clock())
        return Rendered(replies, chat=(chat.channel, chat.chat_key))

    return {DIGEST: digest}
