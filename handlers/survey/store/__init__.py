"""Every query of the survey: this package is its store; nothing else in the feature builds SQL.

This module holds the conversation's (sessions, agencies and services offered, start
codes, ballots, the funnel of ended sessions); `responses` is the one write path of
completed responses, `rollups` their counting, `pool` the holding pool.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from datetime import date, datetime, timedelta, tzinfo

from sqlalchemy import and_, bindparam, delete, func, literal_column, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import local_date
from bot.database import insert_if_absent, install_secret
from bot.models import (
    SURVEY_FUNNEL_KEY,
    Agency,
    Ballot,
    Chat,
    Service,
    StartCode,
    SurveyFunnel,
    SurveySession,
)
from bot.states import SessionOutcome, SessionStatus
from bot.textnorm import fold
from handlers.survey.codes import CodeError, new_code, normalise_code
from handlers.survey.store.rollups import add_counts

# At most this many agencies or services are listed to pick from (more: type more words).
MAX_LISTED = 8

FunnelKey = tuple[date, int, int, str, str, str, int, str]
"""(day, agency_key, service_key, questionnaire, channel_kind, phase, step, outcome)."""


# Read on every answer, so built once. The status is written into the SQL, not bound:
# only then can the planner use the partial index on active sessions (one row).
_ACTIVE_SESSION = select(SurveySession).where(
    SurveySession.chat_id == bindparam("chat_id"),
    SurveySession.status == literal_column(f"'{SessionStatus.ACTIVE}'"),
)


class SurveyStore:
    def __init__(self, session: AsyncSession):
        self.session = session

    async def active_session(self, chat_id: int) -> SurveySession | None:
        return await self.session.scalar(_ACTIVE_SESSION, {"chat_id": chat_id})

    async def start_code(self, raw: str) -> StartCode | None:
        code = normalise_code(raw)
        if code is None:
            return None
        return await self.session.get(StartCode, code)

    async def claim_single_use_code(self, code: str, used_at: datetime) -> bool:
        """Mark a single-use code used; False if another response already took it.

        `used_at` is the start of the day (`handlers.survey.codes.used_stamp`), never the time.
        """
        result = await self.session.execute(
            update(StartCode)
            .where(StartCode.code == code, StartCode.used_at.is_(None))
            .values(used_at=used_at)
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

    async def end_sessions(
        self, ended: Sequence[tuple[SurveySession, str, date]], channel_kind: str
    ) -> None:
        """Count ended sessions (session, outcome, day) in the funnel, then delete them.

        Nothing of an ended session is kept next to the chat: not its answers, not
        its code, not when it ended. Only the funnel's counts remain.
        """
        if not ended:
            return
        counts = Counter(funnel_key(day, row, channel_kind, outcome) for row, outcome, day in ended)
        await add_funnel_counts(self.session, counts)
        # Flush the status change first: a new session of the same chat may be pending,
        # and the unit of work would insert it before deleting the old active row.
        await self.session.flush()
        for row, _, _ in ended:
            if row in self.session.new:
                self.session.expunge(row)
            else:
                await self.session.delete(row)
        await self.session.flush()


def funnel_key(day: date, row: SurveySession, channel_kind: str, outcome: str) -> FunnelKey:
    return (
        day,
        row.agency_id or 0,
        row.service_id or 0,
        row.questionnaire,
        channel_kind,
        row.phase,
        row.step,
        outcome,
    )


async def add_funnel_counts(session: AsyncSession, counts: Counter[FunnelKey]) -> None:
    await add_counts(
        session,
        SurveyFunnel.__table__,
        [(*key, count) for key, count in counts.items()],
        SURVEY_FUNNEL_KEY,
    )


async def expire_idle_sessions(
    session: AsyncSession, now: datetime, idle: timedelta, zone: tzinfo
) -> int:
    """End sessions idle for longer than `idle`: count them as expired, then delete them.

    The funnel keeps the step reached, on the day of the last answer; the answers,
    which sat next to the chat id, are gone with the row.
    """
    s = SurveySession.__table__.c
    idle_now = (s.status == SessionStatus.ACTIVE, s.updated_at < now - idle)
    # Lock their chats first, as every message does (in id order: no deadlock), so a
    # citizen returning right now is either applied before (and the session no longer
    # idle) or after (and finds it ended), never in the middle of the delete.
    locked = await session.execute(
        select(Chat.id, Chat.channel)
        .where(Chat.id.in_(select(s.chat_id).where(*idle_now)))
        .order_by(Chat.id)
        .with_for_update()
    )
    channels = {chat_id: channel for chat_id, channel in locked}
    ended = (
        await session.execute(
            delete(SurveySession.__table__)
            .where(*idle_now)
            .returning(
                s.chat_id,
                s.agency_id,
                s.service_id,
                s.questionnaire,
                s.phase,
                s.step,
                s.updated_at,
            )
        )
    ).all()
    if not ended:
        return 0
    counts = Counter(
        funnel_key(
            local_date(row.updated_at, zone),
            row,
            channels[row.chat_id],
            SessionOutcome.EXPIRED,
        )
        for row in ended
    )
    await add_funnel_counts(session, counts)
    return len(ended)


async def create_codes(
    session: AsyncSession,
    *,
    agency_code: str,
    service_code: str,
    count: int,
    single_use: bool,
    now: datetime,
    length: int,
    valid_for: timedelta | None = None,
) -> list[str]:
    """New start codes for one agency's service (`codes create`); CodeError if unknown."""
    agency = await session.scalar(select(Agency).where(Agency.code == agency_code))
    if agency is None:
        raise CodeError(f"unknown agency code {agency_code!r}")
    service = await session.scalar(select(Service).where(Service.code == service_code))
    if service is None:
        raise CodeError(f"unknown service code {service_code!r}")
    codes = [new_code(length) for _ in range(count)]
    session.add_all(
        StartCode(
            code=code,
            agency_id=agency.id,
            service_id=service.id,
            single_use=single_use,
            created_at=now,
            expires_at=now + valid_for if valid_for else None,
        )
        for code in codes
    )
    return codes


async def catalogue_codes(
    session: AsyncSession,
) -> tuple[dict[str, tuple[int, str]], dict[str, int]]:
    """Agency code -> (id, level) and service code -> id, as an import's rows name them."""
    agencies = {
        code: (agency_id, level)
        for code, agency_id, level in await session.execute(
            select(Agency.code, Agency.id, Agency.level)
        )
    }
    services = dict((await session.execute(select(Service.code, Service.id))).all())
    return agencies, services
