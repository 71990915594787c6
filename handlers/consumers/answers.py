"""What the reports API answers a consumer: `bot report`'s JSON and the QĐ 766 figures.

Each answer is the very text the command line prints for the same filters
(`bot report --format json`, `bot dossiers timeliness --format json`), so the
operations centre and an official at a terminal read one set of numbers.

Scope: a province consumer reads any agency; an agency consumer reads its own agency
only (without agencies named, the answer is about it). An agency outside the scope is
answered exactly as an unknown one (`NotFound`), so a key cannot probe the catalogue.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import local_today
from bot.questionnaire import Questionnaire
from bot.settings import Settings
from handlers.consumers.keys import Consumer
from handlers.consumers.requests import DossiersQuery, ReportQuery
from handlers.dossiers.timeliness import UnknownAgency, agency_ids_for, timeliness_report
from handlers.dossiers.timeliness_text import render_json as timeliness_json
from handlers.reports import (
    MONTH,
    QUARTER,
    Period,
    ReportError,
    ReportFilters,
    build_report,
    render_json,
)


class NotFound(LookupError):
    """Something named in the query does not exist for this consumer; safe to show."""


def _unknown_agencies(codes: list[str]) -> NotFound:
    return NotFound(f"unknown agency code {', '.join(codes)}")


def scoped_agencies(consumer: Consumer, asked: list[str]) -> tuple[str, ...]:
    """The agency codes to report on; `NotFound` for codes outside the consumer's scope."""
    asked = list(dict.fromkeys(asked))
    if consumer.agency_code is None:
        return tuple(asked)
    outside = [code for code in asked if code != consumer.agency_code]
    if outside:
        raise _unknown_agencies(outside)
    return (consumer.agency_code,)


async def report_answer(
    session: AsyncSession,
    consumer: Consumer,
    query: ReportQuery,
    *,
    questionnaires: Mapping[str, Questionnaire],
    settings: Settings,
    now: datetime,
) -> str:
    """`bot report --format json` for the query's filters, within the consumer's scope."""
    period = query.period or Period.containing(local_today(now, settings), QUARTER)
    filters = ReportFilters(
        questionnaire=settings.survey.questionnaire,
        period=period,
        agencies=scoped_agencies(consumer, query.agency),
        services=tuple(query.service),
        channel_kind=query.channel,
    )
    try:
        report = await build_report(
            session, questionnaires, filters, query.grouping, settings.scoring
        )
    except ReportError as error:
        raise NotFound(str(error)) from None
    return render_json(report, query.lang)


async def dossiers_answer(
    session: AsyncSession,
    consumer: Consumer,
    query: DossiersQuery,
    *,
    settings: Settings,
    now: datetime,
) -> str:
    """`bot dossiers timeliness --format json` for the query, within the consumer's scope."""
    period = query.period or Period.containing(local_today(now, settings), MONTH)
    codes = scoped_agencies(consumer, query.agency)
    try:
        ids = await agency_ids_for(session, codes) if codes else None
    except UnknownAgency as error:
        raise _unknown_agencies([str(error)]) from None
    figures = await timeliness_report(
        session, ids, period, now, settings.dossier, zone=settings.zone
    )
    return timeliness_json(figures)
