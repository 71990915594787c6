"""The holding pool: a day's chat responses are stored only once the day is over, shuffled.

A response written by the transaction that completes a survey would carry that
transaction's traces: on PostgreSQL its id (xmin), which the same transaction leaves on
the chat row it locked, and on both databases its place in the id and physical order,
which follows the order in which citizens finished. So completion only puts the answers
in `response_pool` (no chat, code or time finer than the day; `store.pool`), and
`publish_due`, in a transaction of its own, moves every pool row of the days before
today into `responses` in a random order through the one write path
(`store.responses.store_responses`, which keeps the rollups right). Every published
response then carries the publication's transaction id, shared with its whole batch,
and sits in the order of a shuffle. README, "Anonymity", states what this protects
against and what it does not.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta

from bot.clock import local_today
from bot.database import Database
from bot.questionnaire import Questionnaire
from bot.settings import Settings
from handlers.survey.store.pool import pool_size, publish_pool

log = logging.getLogger(__name__)


def local_day(now: datetime, settings: Settings) -> date:
    return local_today(now, settings)


async def publish_due(
    database: Database,
    settings: Settings,
    questionnaires: Mapping[str, Questionnaire],
    now: datetime | None = None,
    *,
    include_today: bool = False,
) -> int:
    """Publish the pool of every local day before today (TIMEZONE), in one transaction.

    The bot runs it every hour and once at start; `now` is for tests (default: the clock).

    `include_today` publishes today's pool too; only for an operator who knows why
    (README, "Anonymity": it splits the day into batches by the time of publication).
    """
    today = local_day(now or datetime.now(UTC), settings)
    before = today + timedelta(days=1) if include_today else today
    async with database.transaction() as session:
        published = await publish_pool(session, questionnaires, before=before)
    if published:
        log.info("published %d held chat responses", published)
    return published


async def held_count(database: Database) -> int:
    """How many completed chat responses wait in the pool."""
    async with database.transaction() as session:
        return await pool_size(session)
