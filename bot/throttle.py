"""Daily per-chat counters of attempts at guessable things, kept in the database.

A limit counted in process memory would reset with every restart and differ between
processes; a row per chat, kind and local day holds across both. The chat's row is
locked for the whole message (`bot.inbound`), so one chat's increments never race;
the upsert still keeps two processes from creating the row twice.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.database import upsert
from bot.models import ChatAttempt

START_CODE = "start_code"  # a start code that matched nothing
REGISTER = "register"  # a /register with a code, right or wrong

_TABLE = ChatAttempt.__table__


async def attempts(session: AsyncSession, chat_id: int, kind: str, day: date) -> int:
    """How many attempts of this kind the chat made on `day`."""
    count = await session.scalar(
        select(ChatAttempt.count).where(
            ChatAttempt.chat_id == chat_id, ChatAttempt.kind == kind, ChatAttempt.day == day
        )
    )
    return count or 0


async def count_attempt(session: AsyncSession, chat_id: int, kind: str, day: date) -> int:
    """Add one attempt; the chat's count for the day afterwards."""
    statement = upsert(
        session,
        _TABLE,
        ["chat_id", "kind", "day"],
        {"chat_id": chat_id, "kind": kind, "day": day, "count": 1},
        increment=["count"],
    ).returning(_TABLE.c.count)
    return (await session.execute(statement)).scalar_one()


async def forget_before(session: AsyncSession, day: date) -> int:
    """Drop the counters of days before `day`; they limit nothing any more."""
    result = await session.execute(delete(ChatAttempt).where(ChatAttempt.day < day))
    return result.rowcount or 0
