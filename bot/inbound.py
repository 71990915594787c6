"""The one path every inbound message takes, whatever the channel.

Each message is handled in a single transaction that (a) records its update
key, so a redelivered update changes nothing, (b) locks the chat's row, so two
messages of one chat are applied one after the other even across processes,
and (c) lets the handler store the answer and the next step. A message that
produces replies also stores them on the chat with the next reply number
(`reply_seq`); the delivery path (bot.delivery) sends them after the commit and
records the number sent (`delivered_seq`), in this same transaction when the
chat's next message comes first. The same commit makes this process the owner of
those replies for a lease (bot.reply_leases); what is committed but not recorded as
sent when its owner dies is sent again by another process's sweeper, whatever use
case produced it.

The use cases are given (`UseCases`, built by the composition root, bot.cli.compose),
never imported: the inbound path sits below them, and they below nothing of it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from sqlalchemy import bindparam, case, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot import metrics, reply_leases, stored_replies
from bot.clock import Clock, local_today, utc_now
from bot.database import (
    Database,
    insert_if_absent,
    is_unavailable,
    locked_chat,
    record_update_and_lock_chat,
)
from bot.flood import FloodGuard
from bot.i18n import Translator
from bot.logs import describe
from bot.models import Chat, ProcessedUpdate
from bot.questionnaire import Questionnaire
from bot.settings import Settings
from bot.throttle import forget_before as forget_attempts_before
from handlers.messages import Context, Inbound, InboundKind, Outbound

log = logging.getLogger(__name__)

# Platforms redeliver for at most a day (Telegram keeps updates 24 h); keys are kept longer.
UPDATE_KEY_RETENTION = timedelta(days=7)


@dataclass(frozen=True)
class UseCases:
    """What the inbound path calls in the use cases.

    `handle` answers one message of a locked chat; `expire_idle` ends conversations idle
    for longer than `idle` and says how many.
    """

    handle: Callable[[Inbound, Chat, Context], Awaitable[list[Outbound]]]
    expire_idle: Callable[[AsyncSession, datetime, timedelta, tzinfo], Awaitable[int]]


@dataclass(frozen=True)
class PendingReply:
    channel: str
    chat_key: str
    replies: list[Outbound]
    seq: int


# A typed message means something only against the question the citizen saw. When
# the chat's last replies (the current question) are another process's and it has not
# recorded sending them yet, that record is at most its confirmer's round away (a tenth
# of a second, bot.delivery.CONFIRM_EVERY): the turn rolls back and waits for it, up to
# this many times, before the handler must treat the question as possibly unseen.
OTHER_SENDER_WAIT = 0.1
OTHER_SENDER_WAITS = 3


class _SentElsewhere(Exception):
    """The chat's last replies are a live process's other than this one, not yet known
    sent (raised inside the turn's transaction to roll it back)."""


class CommitUncertain(Exception):
    """The connection broke while the transaction that stores replies number `seq`
    committed: the database may hold them or not. Raised from the unavailable error (it
    still answers 503); the delivery path sends `replies` once it finds them stored and
    still current, so a commit that landed is never left without its reply."""

    def __init__(self, seq: int, replies: list[Outbound]):
        super().__init__(f"commit of replies {seq} uncertain")
        self.seq = seq
        self.replies = replies


@dataclass(frozen=True)
class Taken:
    """What one message produced: its replies, their number (None: nothing to record,
    or replies not stored), and whether the given sent number was recorded with it."""

    replies: list[Outbound]
    seq: int | None = None
    recorded: bool = False
    # handled; duplicate (its update key was applied before); flooded (dropped unread);
    # failed (a handler broke: marked as seen, politely answered). In sipas_updates_total.
    outcome: str = "handled"


async def lock_chat(session: AsyncSession, channel: str, chat_key: str, now: datetime) -> Chat:
    """The chat's row, created on first contact and locked until the transaction ends."""
    chat = await locked_chat(session, channel, chat_key)
    if chat is None:  # first contact (two at once: one inserts, both then lock it)
        key = {"channel": channel, "chat_key": chat_key}
        await insert_if_absent(session, Chat.__table__, {**key, "created_at": now})
        chat = await locked_chat(session, channel, chat_key)
    assert chat is not None
    return chat


class InboundProcessor:
    def __init__(
        self,
        database: Database,
        settings: Settings,
        questionnaires: dict[str, Questionnaire],
        translator: Translator,
        clock: Clock = utc_now,
        *,
        use_cases: UseCases,
    ):
        self.use_cases = use_cases
        self.owner = reply_leases.new_owner()  # this process, as the owner of replies
        # The pause while another process records its send (OTHER_SENDER_WAIT); tests
        # replace it to decide what happens meanwhile.
        self.sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
        self.database = database
        self.settings = settings
        self.questionnaires = questionnaires
        self.translator = translator
        self.clock = clock
        survey_settings = settings.survey
        self.flood = FloodGuard(
            survey_settings.flood_messages, survey_settings.flood_window_seconds
        )

    def _context(
        self, session: AsyncSession, now: datetime, reply_unconfirmed: bool = False
    ) -> Context:
        return Context(
            session,
            now,
            self.settings,
            self.questionnaires,
            self.translator,
            reply_unconfirmed=reply_unconfirmed,
        )

    async def process(self, inbound: Inbound) -> list[Outbound]:
        """Apply one message and return its replies (see `take`)."""
        return (await self.take(inbound)).replies

    async def take(self, inbound: Inbound, sent: int | None = None) -> Taken:
        """Apply one message; an already applied update key yields no replies.

        `sent`: the delivery path knows this chat's replies up to that number went out;
        it is recorded first, so the handler sees the last reply as confirmed even if
        the citizen answered it before the confirmation was written.

        A chat flooding the bot has its excess dropped here, before any database work,
        with no replies: the adapter still acknowledges it, so it is not redelivered.
        """
        now = self.clock()
        if not self.flood.allow(
            (inbound.channel, inbound.chat_key), now.timestamp(), inbound.update_key
        ):
            metrics.increment("inbound_flood_dropped_total")
            metrics.increment(metrics.UPDATES, channel=inbound.channel, outcome="flooded")
            return Taken([], outcome="flooded")
        started = time.perf_counter()
        outcome = "unavailable"
        try:
            taken = await self._take(inbound, sent, now)
            outcome = taken.outcome
            return taken
        finally:
            metrics.increment(metrics.UPDATES, channel=inbound.channel, outcome=outcome)
            metrics.UPDATE_LATENCY.observe(time.perf_counter() - started, channel=inbound.channel)

    async def _take(self, inbound: Inbound, sent: int | None, now: datetime) -> Taken:
        """Apply the message; a typed one first waits, briefly, for the process that owns
        the chat's last replies to record sending them (see OTHER_SENDER_WAIT)."""
        for waits_left in range(OTHER_SENDER_WAITS, -1, -1):
            try:
                return await self._take_once(inbound, sent, now, patient=waits_left > 0)
            except _SentElsewhere:
                metrics.increment("inbound_waits_for_other_sender_total")
                await self.sleep(OTHER_SENDER_WAIT)
                now = self.clock()
        raise AssertionError("unreachable: the last attempt is not patient")

    async def _take_once(
        self, inbound: Inbound, sent: int | None, now: datetime, *, patient: bool
    ) -> Taken:
        seq = None
        replies: list[Outbound] = []
        try:
            async with self.database.write_turn, self.database.transaction() as session:
                chat = None
                if inbound.update_key is not None:  # recorded, and the chat locked, at once
                    fresh, chat = await record_update_and_lock_chat(
                        session, inbound.update_key, now, inbound.channel, inbound.chat_key
                    )
                    if not fresh:
                        return Taken([], outcome="duplicate")
                if chat is None:
                    chat = await lock_chat(session, inbound.channel, inbound.chat_key, now)
                if chat.unreachable_at is not None:
                    chat.unreachable_at = None  # it writes again: it no longer blocks the bot
                delivered = chat.delivered_seq
                if sent is not None and sent > delivered:
                    delivered = min(sent, chat.reply_seq)
                if (
                    patient
                    and inbound.kind is InboundKind.TEXT
                    and delivered < chat.reply_seq
                    and reply_leases.held_elsewhere(chat, self.owner, now)
                ):
                    raise _SentElsewhere  # rolled back: the owner can record its send
                replies = await self.use_cases.handle(
                    inbound, chat, self._context(session, now, chat.reply_seq > delivered)
                )
                # Set after the handler, whose queries would flush it on its own: the
                # chat's row is then written once, at commit.
                chat.delivered_seq = delivered
                if replies:
                    chat.reply_seq += 1
                    chat.last_replies = stored_replies.encode(replies)
                    reply_leases.own(chat, self.owner, now)
                    seq = chat.reply_seq
                elif chat.delivered_seq >= chat.reply_seq:
                    chat.reply_lease_until = None
            return Taken(replies, seq, recorded=sent is not None)
        except _SentElsewhere:
            raise
        except Exception as error:
            if is_unavailable(error):
                if seq is not None:  # broken at commit: stored or not, nobody can say
                    raise CommitUncertain(seq, replies) from error
                raise  # the platform must deliver it again later
            # A message that breaks a handler must not be retried for ever, nor crash the
            # bot: it is logged (without its text), marked as seen, and politely answered.
            log.error("handling a %s message failed: %s", inbound.channel, describe(error))
            return Taken(await self._give_up(inbound, now), outcome="failed")

    async def _give_up(self, inbound: Inbound, now: datetime) -> list[Outbound]:
        if inbound.update_key is not None:
            async with self.database.write_turn, self.database.transaction() as session:
                await insert_if_absent(
                    session,
                    ProcessedUpdate.__table__,
                    {"update_key": inbound.update_key, "processed_at": now},
                )
        return [Outbound(self.translator(None, "internal_error"))]

    async def record_delivered(self, channel: str, sent: Mapping[str, int]) -> None:
        """Chats' replies up to these numbers were sent: one transaction for them all.

        Idempotent and safe in any order: a number never moves back.
        """
        await self.confirm(channel, sent, renew=False)

    async def confirm(self, channel: str, sent: Mapping[str, int], *, renew: bool = True) -> int:
        """The confirmer's round, one transaction: record these sends (a chat sent up to
        its newest number leaves its lease), then renew this process's leases of the
        chats still unconfirmed; how many it still holds."""
        async with self.database.write_turn, self.database.transaction() as session:
            if sent:
                # In key order: two processes recording overlapping chats then lock
                # them in the same order and cannot deadlock.
                rows = [{"key": key, "seq": sent[key]} for key in sorted(sent)]
                chats = Chat.__table__.c
                sent_all = chats.reply_seq <= bindparam("seq")
                await session.execute(
                    update(Chat.__table__)
                    .where(
                        chats.channel == channel,
                        chats.chat_key == bindparam("key"),
                        chats.delivered_seq < bindparam("seq"),
                    )
                    .values(
                        delivered_seq=bindparam("seq"),
                        reply_lease_until=case((sent_all, None), else_=chats.reply_lease_until),
                    ),
                    rows,
                )
            if not renew:
                return 0
            return await reply_leases.renew(session, channel, self.owner, self.clock())

    async def claim_lost_replies(self, channel: str, limit: int) -> list[reply_leases.Claimed]:
        """Chats of the channel whose owner died before their replies were known sent,
        now this process's to send (see bot.reply_leases)."""
        async with self.database.write_turn, self.database.transaction() as session:
            return await reply_leases.claim_expired(
                session, channel, self.owner, self.clock(), limit
            )

    async def still_current(self, channel: str, chat_key: str, seq: int) -> bool:
        """Whether a claimed chat's replies number `seq` are still the ones to send."""
        async with self.database.transaction() as session:
            return await reply_leases.is_current(session, channel, chat_key, seq, self.owner)

    async def release_replies(self, channel: str) -> int:
        """A clean stop: the unsent replies this process owns go to the next sweeper now."""
        async with self.database.write_turn, self.database.transaction() as session:
            return await reply_leases.release(session, channel, self.owner, self.clock())

    async def mark_unreachable(self, channel: str, chat_key: str) -> None:
        """The platform refused a send as blocked: the outbox routes this chat's notices
        to ZNS or the counter, and no reminder is made for it, until it writes again."""
        async with self.database.write_turn, self.database.transaction() as session:
            await session.execute(
                update(Chat)
                .where(Chat.channel == channel, Chat.chat_key == chat_key)
                .values(unreachable_at=self.clock())
            )

    async def confirm_delivered(self, channel: str, chat_key: str) -> None:
        """Everything committed for the chat was sent (tests and simple callers)."""
        async with self.database.write_turn, self.database.transaction() as session:
            await session.execute(
                update(Chat)
                .where(Chat.channel == channel, Chat.chat_key == chat_key)
                .values(delivered_seq=Chat.reply_seq, reply_lease_until=None)
            )

    async def pending_replies(self, channel: str) -> list[PendingReply]:
        """The stored replies of every chat of the channel committed but not known sent,
        whoever owns them (what the sweepers will send if their owners die)."""
        async with self.database.transaction() as session:
            chats = await session.scalars(
                select(Chat)
                .where(Chat.channel == channel, Chat.reply_seq > Chat.delivered_seq)
                .order_by(Chat.id)
            )
            return [
                PendingReply(
                    chat.channel,
                    chat.chat_key,
                    stored_replies.decode(chat.last_replies),
                    chat.reply_seq,
                )
                for chat in chats.all()
            ]

    async def expire_idle(self, now: datetime | None = None) -> int:
        """End every survey idle for longer than the setting (counted as expired)."""
        idle = timedelta(days=self.settings.survey.idle_days)
        async with self.database.transaction() as session:
            return await self.use_cases.expire_idle(
                session, now or self.clock(), idle, self.settings.zone
            )

    async def forget_old_updates(self, now: datetime | None = None) -> int:
        """Drop update keys too old to be redelivered, so the table stays small.

        The guessing counters of past local days go too: they limit nothing any more.
        """
        now = now or self.clock()
        async with self.database.transaction() as session:
            result = await session.execute(
                delete(ProcessedUpdate).where(
                    ProcessedUpdate.processed_at < now - UPDATE_KEY_RETENTION
                )
            )
            await forget_attempts_before(session, local_today(now, self.settings))
            return result.rowcount or 0
