"""Which process sends a chat's committed replies: the one that committed them, for a lease.

Several bot processes share one database. The commit that stores a chat's replies
(bot.inbound) also makes its process their owner (`chats.reply_owner`, a random id per
process) until `reply_lease_until`. The owner's confirmer renews the lease each second
while the replies are not recorded as sent, and clears it when they are. A lease that
ran out means its owner is gone (killed, or cut off from the database for longer than
`LEASE`): a sweeper claims the chat, row by row and skipping rows another claimer holds,
and becomes the owner in that same transaction, so one process alone sends the stored
replies again. No process ever takes a chat whose owner still renews its lease.

The lease runs on the processes' clocks: they must agree to well within `LEASE` (NTP).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot import stored_replies
from bot.database import skip_locked
from bot.models import Chat
from handlers.messages import Outbound

# Ten renewals may fail (a slow transaction, a database restart) before another process
# takes over; a crash costs the citizens about this long before their reply comes.
LEASE = timedelta(seconds=10)


def new_owner() -> str:
    """A process's id as a reply owner: random, so a restarted process is a new owner."""
    return secrets.token_hex(8)


def own(chat: Chat, owner: str, now: datetime) -> None:
    """In the transaction that stores the chat's replies: they are this owner's to send."""
    chat.reply_owner = owner
    chat.reply_lease_until = now + LEASE


def held_elsewhere(chat: Chat, owner: str, now: datetime) -> bool:
    """Whether the chat's replies are another process's, under a lease still running."""
    return (
        chat.reply_owner is not None
        and chat.reply_owner != owner
        and chat.reply_lease_until is not None
        and chat.reply_lease_until > now
    )


@dataclass(frozen=True)
class Claimed:
    """A chat whose owner died before its replies were known sent: what to send again."""

    chat_key: str
    seq: int
    replies: list[Outbound]


async def renew(session: AsyncSession, channel: str, owner: str, now: datetime) -> int:
    """Extend the owner's leases of chats still unconfirmed; how many it holds."""
    result = await session.execute(
        update(Chat)
        .where(
            Chat.channel == channel,
            Chat.reply_owner == owner,
            Chat.reply_lease_until.is_not(None),
            Chat.reply_seq > Chat.delivered_seq,
        )
        .values(reply_lease_until=now + LEASE)
    )
    return result.rowcount or 0


async def release(session: AsyncSession, channel: str, owner: str, now: datetime) -> int:
    """At a clean stop: what the owner could not send is anyone's at once."""
    result = await session.execute(
        update(Chat)
        .where(
            Chat.channel == channel,
            Chat.reply_owner == owner,
            Chat.reply_lease_until > now,
            Chat.reply_seq > Chat.delivered_seq,
        )
        .values(reply_lease_until=now)
    )
    return result.rowcount or 0


async def claim_expired(
    session: AsyncSession, channel: str, owner: str, now: datetime, limit: int
) -> list[Claimed]:
    """Take over up to `limit` chats whose replies are unconfirmed and whose lease ran out.

    A chat the platform refused as blocked is left: it would refuse again (the citizen's
    next message, once unblocked, gets a reply of its own).
    """
    rows = (
        await session.execute(
            skip_locked(
                select(Chat.id, Chat.chat_key, Chat.reply_seq, Chat.last_replies)
                .where(
                    Chat.channel == channel,
                    Chat.reply_lease_until <= now,
                    Chat.reply_seq > Chat.delivered_seq,
                    Chat.unreachable_at.is_(None),
                )
                .order_by(Chat.reply_lease_until)
                .limit(limit)
            )
        )
    ).all()
    if rows:
        await session.execute(
            update(Chat)
            .where(Chat.id.in_([row.id for row in rows]))
            .values(reply_owner=owner, reply_lease_until=now + LEASE)
        )
    return [
        Claimed(row.chat_key, row.reply_seq, stored_replies.decode(row.last_replies))
        for row in rows
    ]


async def is_current(
    session: AsyncSession, channel: str, chat_key: str, seq: int, owner: str
) -> bool:
    """Whether replies number `seq` are still the chat's newest, unsent, and this owner's:
    a newer commit (anywhere) supersedes them, and a question no longer current is never
    sent again."""
    found = await session.scalar(
        select(Chat.id).where(
            Chat.channel == channel,
            Chat.chat_key == chat_key,
            Chat.reply_seq == seq,
            Chat.delivered_seq < seq,
            Chat.reply_owner == owner,
        )
    )
    return found is not None
