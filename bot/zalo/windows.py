"""The OA's free reply window: replies allowed for a while after the user's last message.

Zalo allows customer-service replies only within a window after the user's last
message (reported: 8 messages within 48 h; both are settings). The count is kept in
the database so that every process draws on the same allowance; credits are taken
for a whole batch of replies at once, so a citizen never gets a reminder without
the question that should follow it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update

from bot.database import Database, upsert
from bot.models import ZaloOAReplyWindow


class ReplyWindows:
    def __init__(
        self, database: Database, hours: float, messages: int, clock: Callable[[], datetime]
    ):
        self.database = database
        self.length = timedelta(hours=hours)
        self.messages = messages
        self.clock = clock

    async def open(self, user_id: str, at: datetime) -> None:
        """The user wrote at `at`: a new window, unless a later message already opened one."""
        table = ZaloOAReplyWindow.__table__
        async with self.database.transaction() as session:
            await session.execute(
                upsert(
                    session,
                    table,
                    ["user_id"],
                    {"user_id": user_id, "opened_at": at, "sent": 0},
                    replace=["opened_at"],
                    assign={"sent": 0},
                    where=lambda new: table.c.opened_at < new.opened_at,
                )
            )

    async def take(self, user_id: str, count: int) -> bool:
        """Use `count` free replies; False (nothing used) if the window cannot hold them."""
        window = ZaloOAReplyWindow
        async with self.database.transaction() as session:
            result = await session.execute(
                update(window)
                .where(
                    window.user_id == user_id,
                    window.opened_at > self.clock() - self.length,
                    window.sent + count <= self.messages,
                )
                .values(sent=window.sent + count)
            )
            return result.rowcount == 1

    async def has_room(self, user_id: str, count: int) -> bool:
        """Whether `count` free replies fit in the user's window now (nothing is used).

        Only a hint: another process may use the room before `take` does, which then
        refuses; the outbox asks this to route a notice elsewhere at once.
        """
        window = ZaloOAReplyWindow
        async with self.database.transaction() as session:
            found = await session.scalar(
                select(window.user_id).where(
                    window.user_id == user_id,
                    window.opened_at > self.clock() - self.length,
                    window.sent + count <= self.messages,
                )
            )
            return found is not None

    async def give_back(self, user_id: str, count: int) -> None:
        """Return credits taken for replies that certainly did not reach Zalo (no token,
        or refused), so that retrying them does not use up the citizen's window."""
        window = ZaloOAReplyWindow
        async with self.database.transaction() as session:
            await session.execute(
                update(window)
                .where(window.user_id == user_id, window.sent >= count)
                .values(sent=window.sent - count)
            )

    async def forget_closed(self) -> int:
        """Delete windows that closed long ago (the table stays as small as the active users)."""
        async with self.database.transaction() as session:
            result = await session.execute(
                delete(ZaloOAReplyWindow).where(
                    ZaloOAReplyWindow.opened_at < self.clock() - self.length
                )
            )
            return result.rowcount
