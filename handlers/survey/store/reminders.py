"""The reminders' queries: surveys left unfinished, their one outbox row, what a reminder needs.

The row is unique per (kind, session id), so two processes, or one process before and
after a restart, create one reminder. SQLite may give a deleted session's id to a new
session (a rowid is reused when the highest row is deleted): a reminder row made before
the session started is that earlier session's and is taken over, once, by the new one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, exists, literal_column, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.database import insert_if_absent
from bot.models import Chat, OutboxMessage, SurveySession, ZaloOAReplyWindow
from bot.states import OutboxKind, OutboxStatus, SessionStatus

OA_CHANNEL = "zalo_oa"  # whose free window is counted in the database (bot.zalo.windows)


@dataclass(frozen=True)
class Unfinished:
    """A survey left unfinished, with what decides whether a reminder may go now."""

    session_id: int
    started_at: datetime
    channel: str
    last_activity: datetime  # the citizen's last message in this survey
    window_opened_at: datetime | None = None  # Zalo OA only: the reply window
    window_sent: int = 0


def _window_join():
    return and_(Chat.channel == OA_CHANNEL, ZaloOAReplyWindow.user_id == Chat.chat_key)


async def unfinished_since(
    session: AsyncSession, before: datetime, phase: str, limit: int = 1000
) -> list[Unfinished]:
    """Active sessions in `phase`, untouched since `before`, of chats that may be reminded,
    with no reminder of their own yet."""
    reminded = exists().where(
        OutboxMessage.kind == OutboxKind.REMINDER,
        OutboxMessage.ref_id == SurveySession.id,
        OutboxMessage.created_at >= SurveySession.started_at,
    )
    rows = await session.execute(
        select(
            SurveySession.id,
            SurveySession.started_at,
            Chat.channel,
            SurveySession.updated_at,
            ZaloOAReplyWindow.opened_at,
            ZaloOAReplyWindow.sent,
        )
        .join(Chat, Chat.id == SurveySession.chat_id)
        .outerjoin(ZaloOAReplyWindow, _window_join())
        .where(
            SurveySession.status == literal_column(f"'{SessionStatus.ACTIVE}'"),
            SurveySession.phase == phase,
            SurveySession.updated_at <= before,
            Chat.stopped_at.is_(None),
            Chat.unreachable_at.is_(None),
            ~reminded,
        )
        .order_by(SurveySession.id)
        .limit(limit)
    )
    return [Unfinished(*row[:5], row[5] or 0) for row in rows]


async def add_reminder(
    session: AsyncSession,
    session_id: int,
    started_at: datetime,
    now: datetime,
    *,
    at: datetime | None,
    reason: str | None,
) -> bool:
    """The session's one reminder, due at `at` (None: decided not to send, for `reason`).

    True when this call created it (or took over a reused id's old row)."""
    values = OutboxMessage.new_row(OutboxKind.REMINDER, session_id, None, now)
    if at is None:
        values.update(status=OutboxStatus.CANCELLED, last_error=reason)
    else:
        values["next_attempt_at"] = at
    if await insert_if_absent(session, OutboxMessage.__table__, values):
        return True
    result = await session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.kind == OutboxKind.REMINDER,
            OutboxMessage.ref_id == session_id,
            OutboxMessage.created_at < started_at,
        )
        .values(**values, lease_until=None, sent_at=None, route=None, channel=None)
    )
    return bool(result.rowcount)


async def reminder_target(
    session: AsyncSession, session_id: int
) -> tuple[SurveySession, Chat, ZaloOAReplyWindow | None] | None:
    """The session a reminder is for, its chat, and (Zalo OA) the chat's reply window."""
    row = (
        await session.execute(
            select(SurveySession, Chat, ZaloOAReplyWindow)
            .join(Chat, Chat.id == SurveySession.chat_id)
            .outerjoin(ZaloOAReplyWindow, _window_join())
            .where(SurveySession.id == session_id)
        )
    ).first()
    return None if row is None else (row[0], row[1], row[2])
