"""Officials' digests: `run_due(now)` that queues the due ones, and their outbox renderer.

`run_due` reads what is due (`schedule`) and each digest's content (`content`: text and
descriptions of its files) in short transactions, draws the files with no transaction
open, then, in one short transaction, inserts the digest unless its (official, period)
already exists and queues it in the outbox; two processes racing create it once. The
sender delivers it like any other outbox message: the renderer below addresses the
official's chat and attaches the stored files, each with a signed link as its fallback
where the channel cannot carry files (`bot.rendering.prepare` decides, not this module).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from bot.database import Database, insert_if_absent
from bot.i18n import Translator
from bot.models import Chat, Official, OfficialDigest, OutboxMessage
from bot.outbox import enqueue
from bot.questionnaire import Questionnaire
from bot.rendering import render
from bot.settings import Settings
from bot.states import OutboxKind
from handlers.messages import Outbound, Rendered, StoredFile
from handlers.officials import links
from handlers.officials.access import scope_of
from handlers.officials.content import Digest, Words, compose, digest_title, file_name, link_lines
from handlers.officials.schedule import OFF, Due, due_digest
from handlers.reports.build import ReportError
from handlers.reports.periods import Period

log = logging.getLogger(__name__)

DIGEST = OutboxKind.DIGEST


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
    cache: dict[tuple[Any, ...], tuple[Digest, bytes | None, bytes | None]] = {}
    for item, agency_id, language in plans:
        key = (agency_id, item.frequency, item.period, language)
        if key not in cache:
            try:
                content = await _prepare(
                    database, settings, questionnaires, translator, item, agency_id, language, now
                )
                cache[key] = (content, *await _draw(content))  # no transaction open
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
    """One digest's content read in a short transaction; its files are only described."""
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
    return content


async def _draw(content: Digest) -> tuple[bytes | None, bytes | None]:
    """The digest's files, drawn off the event loop and outside any transaction."""
    chart = workbook = None
    if content.chart is not None:
        chart = await asyncio.to_thread(render, content.chart)
    if content.workbook is not None:
        workbook = await asyncio.to_thread(render, content.workbook)
    return chart, workbook


async def _store(database: Database, item: Due, language: str, drawn, now: datetime) -> bool:
    content, chart, workbook = drawn
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
                "chart": chart,
                "workbook": workbook,
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


def digest_replies(
    digest: OfficialDigest, settings: Settings, words: Words, now: datetime
) -> list[Outbound]:
    """The digest's text, then its stored chart and workbook, each with its link fallback."""
    replies = [Outbound(digest.text)]
    period = Period(digest.period_start, digest.period_end)
    for content, image, caption, label, kind, extension in (
        (digest.chart, True, "official_chart_caption", "official_link_chart", links.CHART, "png"),
        (
            digest.workbook,
            False,
            "official_workbook_caption",
            "official_link_workbook",
            links.WORKBOOK,
            "xlsx",
        ),
    ):
        if content is None:
            continue
        payload = {"k": kind, "o": digest.official_id, "d": digest.id}
        fallback = link_lines(words, settings, [(label, payload)], now)
        name = file_name("sipas-digest", period, extension)
        attachment = StoredFile(content, image, name, fallback)
        replies.append(Outbound(words(caption), attachment=attachment))
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
        replies = digest_replies(row, settings, words, clock())
        return Rendered(replies, chat=(chat.channel, chat.chat_key))

    return {DIGEST: digest}
