"""Database reads and writes of the survey conversation, kept apart from its dialogue."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import date, datetime, timedelta

from sqlalchemy import and_, func, literal_column, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.codes import normalise_code
from bot.database import insert_if_absent, install_secret
from bot.models import (
    Agency,
    Ballot,
    Service,
    StartCode,
    SurveySession,
)
from bot.textnorm import fold

ACTIVE = "active"
COMPLETED = "completed"
PARTIAL = "partial"
CANCELLED = "cancelled"
MAX_LISTED = 8


class SurveyStore:
    def __init__(self, session: AsyncSession):
        self.session = session

    async def active_session(self, chat_id: int) -> SurveySession | None:
        # The status is written into the SQL, not bound: only then can the planner use
        # the partial index on active sessions (one row) instead of walking them all.
        return await self.session.scalar(
            select(SurveySession).where(
                SurveySession.chat_id == chat_id,
                SurveySession.status == literal_column(f"'{ACTIVE}'"),
            )
        )

    async def start_code(self, raw: str) -> StartCode | None:
        code = normalise_code(raw)
        if code is None:
            return None
        return await self.session.get(StartCode, code)

    async def claim_single_use_code(self, code: str, now: datetime) -> bool:
        """Mark a single-use code used; False if another response already took it."""
        result = await self.session.execute(
            update(StartCode)
            .where(StartCode.code == code, StartCode.used_at.is_(None))
            .values(used_at=now)
        )
        return bool(result.rowcount)

    async def agency(self, agency_id: int | None) -> Agency | None:
        return None if agency_id is None else await self.session.get(Agency, agency_id)

    async def service(self, service_id: int | None) -> Service | None:
        return None if service_id is None else await self.session.get(Service, service_id)

    async def search_agencies(self, query: str, today: date) -> tuple[list[Agency], int]:
        """Agencies in force whose folded name has every word of the query, or whose code it is."""
        words = fold(query).split()[:6]
        if not words:
            return [], 0
        in_force = and_(
            or_(Agency.valid_to.is_(None), Agency.valid_to >= today),
            or_(Agency.valid_from.is_(None), Agency.valid_from <= today),
        )
        matches = or_(
            and_(*(Agency.name_folded.contains(word, autoescape=True) for word in words)),
            func.lower(Agency.code) == query.strip().lower(),
        )
        condition = and_(in_force, matches)
        total = await self.session.scalar(select(func.count()).select_from(Agency).where(condition))
        rows = await self.session.scalars(
            select(Agency).where(condition).order_by(Agency.name).limit(MAX_LISTED)
        )
        return list(rows), total or 0

    async def services_for(self, agency: Agency, query: str | None = None) -> list[Service]:
        condition = and_(
            or_(Service.level.is_(None), Service.level == agency.level),
            # a procedure created from an agency's dossiers is offered to that agency only
            or_(Service.owner_agency_id.is_(None), Service.owner_agency_id == agency.id),
        )
        if query:
            for word in fold(query).split()[:6]:
                condition = and_(condition, Service.name_folded.contains(word, autoescape=True))
        rows = await self.session.scalars(
            select(Service).where(condition).order_by(Service.name).limit(MAX_LISTED)
        )
        return list(rows)

    async def named(self, model: type[Agency] | type[Service], ids: Sequence[int]) -> list:
        """Rows by id, in the order of `ids` (the order they were offered in)."""
        rows = {
            row.id: row
            for row in await self.session.scalars(select(model).where(model.id.in_(ids)))
        }
        return [rows[i] for i in ids if i in rows]

    async def _ballot_hash(self, channel: str, chat_key: str, service_id: int, day: date) -> str:
        salt = await install_secret(self.session, "ballot_salt")
        material = f"{salt}|{channel}|{chat_key}|{service_id}|{day.isoformat()}"
        return hashlib.sha256(material.encode()).hexdigest()

    async def ballot_cast(self, channel: str, chat_key: str, service_id: int, day: date) -> bool:
        token = await self._ballot_hash(channel, chat_key, service_id, day)
        return await self.session.get(Ballot, token) is not None

    async def cast_ballot(self, channel: str, chat_key: str, service_id: int, day: date) -> bool:
        """Record today's ballot; False when this chat already rated this service today."""
        token = await self._ballot_hash(channel, chat_key, service_id, day)
        return await insert_if_absent(
            self.session, Ballot.__table__, {"token_hash": token, "day": day}
        )


async def expire_idle_sessions(session: AsyncSession, now: datetime, idle: timedelta) -> int:
    """Close sessions idle for longer than `idle` as partial, dropping their answers.

    The step reached is kept for drop-off figures; the answers, which sit next
    to the chat id, are not.
    """
    result = await session.execute(
        update(SurveySession)
        .where(SurveySession.status == ACTIVE, SurveySession.updated_at < now - idle)
        .values(status=PARTIAL, answers=None, offered=None, closed_at=now, reply_pending=False)
    )
    return result.rowcount or 0
