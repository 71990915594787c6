"""Every query of the officials' room: officials and invitations, dashboard sign-in links
and sessions, the catalogue a scope is drawn from, and the late-dossier figures an
official reads.

The other modules decide (`access` who sees what, `late` what a reply lists); this one
only reads and writes. A scope arrives as agency ids (None: the whole province), so the
store needs nothing from `access`. Late-dossier queries select codes, procedures, dates
and statuses only: citizens' names and phone numbers are never read here.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import (
    Agency,
    ApologyNotice,
    Chat,
    DashboardSession,
    DashboardSignin,
    Dossier,
    Escalation,
    Official,
    OfficialDigest,
    OutboxMessage,
)
from bot.states import OPEN_STATES, OutboxKind, OutboxStatus

AgencyIds = Iterable[int] | None
UNDELIVERABLE = (OutboxStatus.FAILED, OutboxStatus.COUNTER)

# -- the catalogue ----------------------------------------------------------------------


async def agency_links(session: AsyncSession) -> list[Any]:
    """Every agency as (id, code, name, parent_code, successor_code): what scopes follow."""
    return list(
        await session.execute(
            select(Agency.id, Agency.code, Agency.name, Agency.parent_code, Agency.successor_code)
        )
    )


async def agency_by_code(session: AsyncSession, code: str) -> Agency | None:
    return await session.scalar(select(Agency).where(Agency.code == code))


# -- officials --------------------------------------------------------------------------


async def add_official(session: AsyncSession, official: Official) -> None:
    session.add(official)
    await session.flush()


async def official(session: AsyncSession, official_id: Any) -> Official | None:
    return await session.get(Official, official_id)


async def invitation_locked(session: AsyncSession, invite_hash: str) -> Official | None:
    """The official row of an invitation, locked: two chats racing for one code bind one."""
    return await session.scalar(
        select(Official).where(Official.invite_hash == invite_hash).with_for_update()
    )


async def revoke_bound(session: AsyncSession, chat_id: int, now: datetime) -> None:
    """Revoke whichever official is bound to this chat now (one chat, one role), and end
    their dashboard sessions."""
    bound = await session.scalars(
        update(Official)
        .where(Official.chat_id == chat_id, Official.revoked_at.is_(None))
        .values(revoked_at=now)
        .returning(Official.id)
    )
    await end_dashboard_access(session, bound.all())


async def active_official(session: AsyncSession, chat_id: int) -> Official | None:
    """The registered, unrevoked official bound to this chat, if any."""
    return await session.scalar(
        select(Official).where(
            Official.chat_id == chat_id,
            Official.revoked_at.is_(None),
            Official.registered_at.is_not(None),
        )
    )


async def revoke(session: AsyncSession, official_id: int, now: datetime) -> bool:
    """Revoke an official or an unused invitation, ending their dashboard sessions; False if
    none or already revoked."""
    result = await session.execute(
        update(Official)
        .where(Official.id == official_id, Official.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    await end_dashboard_access(session, [official_id])
    return bool(result.rowcount)


# -- dashboard sign-in links and sessions (hashes only) ----------------------------------


async def add_row(session: AsyncSession, row: DashboardSignin | DashboardSession) -> None:
    session.add(row)
    await session.flush()


async def signin_locked(session: AsyncSession, token_hash: str) -> DashboardSignin | None:
    """A sign-in link's row, locked: two browsers racing for one link open one session."""
    return await session.scalar(
        select(DashboardSignin).where(DashboardSignin.token_hash == token_hash).with_for_update()
    )


async def signin_state(session: AsyncSession, token_hash: str) -> DashboardSignin | None:
    return await session.scalar(
        select(DashboardSignin).where(DashboardSignin.token_hash == token_hash)
    )


async def session_official(
    session: AsyncSession, token_hash: str, now: datetime
) -> Official | None:
    """The official of an unexpired session, while registered and not revoked: one query."""
    return await session.scalar(
        select(Official)
        .join(DashboardSession, DashboardSession.official_id == Official.id)
        .where(
            DashboardSession.token_hash == token_hash,
            DashboardSession.expires_at > now,
            Official.revoked_at.is_(None),
            Official.registered_at.is_not(None),
        )
    )


async def delete_session(session: AsyncSession, token_hash: str) -> None:
    await session.execute(delete(DashboardSession).where(DashboardSession.token_hash == token_hash))


async def end_dashboard_access(session: AsyncSession, official_ids: Any) -> None:
    """Delete the officials' sessions and sign-in links (revocation)."""
    ids = sorted(official_ids)
    for table in (DashboardSession, DashboardSignin):
        await session.execute(delete(table).where(table.official_id.in_(ids)))


async def prune_dashboard_access(session: AsyncSession, now: datetime) -> None:
    """Drop expired sessions and sign-in links: they open nothing any more."""
    for table in (DashboardSession, DashboardSignin):
        await session.execute(delete(table).where(table.expires_at <= now))


async def roster(session: AsyncSession) -> list[tuple[Official, str | None, str | None]]:
    """Every official with its agency's code and its chat's channel, oldest first."""
    rows = await session.execute(
        select(Official, Agency.code, Chat.channel)
        .outerjoin(Agency, Agency.id == Official.agency_id)
        .outerjoin(Chat, Chat.id == Official.chat_id)
        .order_by(Official.id)
    )
    return [tuple(row) for row in rows]


async def digest(session: AsyncSession, digest_id: Any) -> OfficialDigest | None:
    return await session.get(OfficialDigest, digest_id)


# -- late dossiers ----------------------------------------------------------------------


def _in_scope(column, agency_ids: AgencyIds):
    return true() if agency_ids is None else column.in_(sorted(agency_ids))


def _late(today: date):
    """Open, and apologised for or escalated (stage 1 or 2), or past its due date."""
    return and_(
        Dossier.state.in_(sorted(OPEN_STATES)),
        Dossier.purged_at.is_(None),
        or_(Dossier.stage >= 1, Dossier.due_date < today),
    )


_LISTED = (
    Dossier.code,
    Dossier.procedure_name,
    Dossier.due_date,
    Dossier.new_due_date,
    Dossier.stage,
    Dossier.delay_reason,
)
"""What a listed dossier shows: code, procedure, dates, stage and whether a reason exists."""


async def _count(session: AsyncSession, table, *where) -> int:
    return await session.scalar(select(func.count()).select_from(table).where(*where)) or 0


async def notices_issued(
    session: AsyncSession, agency_ids: AgencyIds, first: date, last: date
) -> int:
    """Apology notices issued on these days: the dossiers that went late then."""
    where = ApologyNotice.issued_on.between(first, last)
    return await _count(
        session, ApologyNotice, where, _in_scope(ApologyNotice.agency_id, agency_ids)
    )


async def late_count(
    session: AsyncSession, agency_ids: AgencyIds, today: date, *, escalated: bool = False
) -> int:
    """Dossiers late and still open today; with `escalated`, those at stage 2 only."""
    stage = [Dossier.stage == 2] if escalated else []
    return await _count(
        session, Dossier, _late(today), *stage, _in_scope(Dossier.agency_id, agency_ids)
    )


async def escalations_between(
    session: AsyncSession, agency_ids: AgencyIds, start: datetime, end: datetime
) -> int:
    """Escalations to officials created in [start, end)."""
    return await _count(
        session,
        Escalation,
        Escalation.created_at >= start,
        Escalation.created_at < end,
        _in_scope(Escalation.agency_id, agency_ids),
    )


async def notice_deliveries(
    session: AsyncSession, agency_ids: AgencyIds, first: date, last: date
) -> tuple[int, int]:
    """(sent, undeliverable) among the apology notices issued on these days."""
    rows = await session.execute(
        select(OutboxMessage.status, func.count())
        .join(ApologyNotice, ApologyNotice.id == OutboxMessage.ref_id)
        .where(
            OutboxMessage.kind == OutboxKind.APOLOGY,
            ApologyNotice.issued_on.between(first, last),
            _in_scope(ApologyNotice.agency_id, agency_ids),
        )
        .group_by(OutboxMessage.status)
    )
    statuses = dict(rows.all())
    undeliverable = sum(statuses.get(status, 0) for status in UNDELIVERABLE)
    return statuses.get(OutboxStatus.SENT, 0), undeliverable


async def late_dossiers(
    session: AsyncSession, agency_ids: AgencyIds, today: date, limit: int
) -> list[tuple]:
    """The first `limit` late open dossiers: escalated first, then the oldest due date."""
    rows = await session.execute(
        select(*_LISTED)
        .where(_late(today), _in_scope(Dossier.agency_id, agency_ids))
        .order_by(Dossier.stage.desc(), Dossier.due_date, Dossier.code)
        .limit(limit)
    )
    return [tuple(row) for row in rows]


async def undelivered_notices(
    session: AsyncSession, agency_ids: AgencyIds, limit: int
) -> tuple[int, list[tuple[str, int, str]]]:
    """How many apology notices of open dossiers no chat or ZNS message could deliver,
    and the first `limit` of them, oldest first, as (dossier code, number, status)."""
    undelivered = and_(
        OutboxMessage.kind == OutboxKind.APOLOGY,
        OutboxMessage.status.in_(UNDELIVERABLE),
        Dossier.closed_at.is_(None),
        Dossier.purged_at.is_(None),
        _in_scope(ApologyNotice.agency_id, agency_ids),
    )

    def joined(*columns):
        return (
            select(*columns)
            .select_from(OutboxMessage)
            .join(ApologyNotice, ApologyNotice.id == OutboxMessage.ref_id)
            .join(Dossier, Dossier.id == ApologyNotice.dossier_id)
            .where(undelivered)
        )

    total = await session.scalar(joined(func.count()))
    rows = await session.execute(
        joined(ApologyNotice.dossier_code, ApologyNotice.number_seq, OutboxMessage.status)
        .order_by(ApologyNotice.issued_on, ApologyNotice.id)
        .limit(limit)
    )
    return total or 0, [tuple(row) for row in rows]


async def unexplained_dossiers(
    session: AsyncSession, agency_ids: AgencyIds, today: date, horizon: date, limit: int
) -> tuple[int, list[tuple]]:
    """Open dossiers not apologised for, with no reason and not paused, due between today
    and `horizon` or with a new date announced: how many, and the first `limit`."""
    where = and_(
        Dossier.state.in_(sorted(OPEN_STATES)),
        Dossier.purged_at.is_(None),
        Dossier.stage == 0,
        Dossier.delay_reason.is_(None),
        Dossier.watch_date.is_not(None),  # not paused
        or_(Dossier.due_date.between(today, horizon), Dossier.agency_new_date.is_not(None)),
        _in_scope(Dossier.agency_id, agency_ids),
    )
    total = await _count(session, Dossier, where)
    rows = await session.execute(
        select(*_LISTED).where(where).order_by(Dossier.due_date, Dossier.code).limit(limit)
    )
    return total, [tuple(row) for row in rows]
