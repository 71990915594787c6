"""The one path every inbound message takes, whatever the channel.

Each message is handled in a single transaction that (a) records its update
key, so a redelivered update changes nothing, (b) locks the chat's row, so two
messages of one chat are applied one after the other even across processes,
and (c) lets the handler store the answer and the next step. Replies are
returned to the adapter, which sends them only after the commit and then
confirms delivery; a reply lost to a crash is re-sent at the next start.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot import metrics
from bot.clock import Clock, local_today, utc_now
from bot.database import Database, insert_if_absent, is_unavailable
from bot.flood import FloodGuard
from bot.i18n import Translator
from bot.logs import describe
from bot.models import Chat, ProcessedUpdate, SurveySession
from bot.questionnaire import Questionnaire
from bot.settings import Settings
from bot.states import SessionStatus
from handlers import router, survey
from handlers._survey_store import expire_idle_sessions
from handlers._throttle_store import forget_before as forget_attempts_before
from handlers.messages import Context, Inbound, Outbound

log = logging.getLogger(__name__)

# Platforms redeliver for at most a day (Telegram keeps updates 24 h); keys are kept longer.
UPDATE_KEY_RETENTION = timedelta(days=7)


@dataclass(frozen=True)
class PendingReply:
    channel: str
    chat_key: str
    replies: list[Outbound]


async def lock_chat(session: AsyncSession, channel: str, chat_key: str, now: datetime) -> Chat:
    """The chat's row, created on first contact and locked until the transaction ends."""
    await insert_if_absent(
        session, Chat.__table__, {"channel": channel, "chat_key": chat_key, "created_at": now}
    )
    chat = await session.scalar(
        select(Chat).where(Chat.channel == channel, Chat.chat_key == chat_key).with_for_update()
    )
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
    ):
        self.database = database
        self.settings = settings
        self.questionnaires = questionnaires
        self.translator = translator
        self.clock = clock
        survey_settings = settings.survey
        self.flood = FloodGuard(
            survey_settings.flood_messages, survey_settings.flood_window_seconds
        )
        # Channels whose delivery confirms each reply once it is sent (and before the
        # chat's next message is applied): there an unconfirmed reply was not seen.
        self.confirms_on_send: set[str] = set()

    def _context(self, session: AsyncSession, now: datetime, channel: str = "") -> Context:
        return Context(
            session,
            now,
            self.settings,
            self.questionnaires,
            self.translator,
            confirms_on_send=channel in self.confirms_on_send,
        )

    async def process(self, inbound: Inbound) -> list[Outbound]:
        """Apply one message; an already applied update key yields no replies.

        A chat flooding the bot has its excess dropped here, before any database work,
        with no replies: the adapter still acknowledges it, so it is not redelivered.
        """
        now = self.clock()
        if not self.flood.allow((inbound.channel, inbound.chat_key), now.timestamp()):
            metrics.increment("inbound_flood_dropped_total")
            return []
        try:
            async with self.database.transaction() as session:
                if inbound.update_key is not None and not await insert_if_absent(
                    session,
                    ProcessedUpdate.__table__,
                    {"update_key": inbound.update_key, "processed_at": now},
                ):
                    return []
                chat = await lock_chat(session, inbound.channel, inbound.chat_key, now)
                context = self._context(session, now, inbound.channel)
                return await router.handle(inbound, chat, context)
        except Exception as error:
            if is_unavailable(error):
                raise  # the platform must deliver it again later
            # A message that breaks a handler must not be retried for ever, nor crash the
            # bot: it is logged (without its text), marked as seen, and politely answered.
            log.error("handling a %s message failed: %s", inbound.channel, describe(error))
            return await self._give_up(inbound, now)

    async def _give_up(self, inbound: Inbound, now: datetime) -> list[Outbound]:
        if inbound.update_key is not None:
            async with self.database.transaction() as session:
                await insert_if_absent(
                    session,
                    ProcessedUpdate.__table__,
                    {"update_key": inbound.update_key, "processed_at": now},
                )
        return [Outbound(self.translator(None, "internal_error"))]

    async def confirm_delivered(self, channel: str, chat_key: str) -> None:
        """The replies reached the platform: nothing to re-send after a restart."""
        async with self.database.transaction() as session:
            chat_id = select(Chat.id).where(Chat.channel == channel, Chat.chat_key == chat_key)
            await session.execute(
                update(SurveySession)
                .where(
                    SurveySession.chat_id == chat_id.scalar_subquery(),
                    SurveySession.status == SessionStatus.ACTIVE,
                    SurveySession.reply_pending.is_(True),
                )
                .values(reply_pending=False)
            )

    async def pending_replies(self, channel: str) -> list[PendingReply]:
        """The current question for every chat whose last reply may not have been delivered."""
        now = self.clock()
        pending = []
        async with self.database.transaction() as session:
            chats = await session.scalars(
                select(Chat)
                .join(SurveySession, SurveySession.chat_id == Chat.id)
                .where(
                    Chat.channel == channel,
                    SurveySession.status == SessionStatus.ACTIVE,
                    SurveySession.reply_pending.is_(True),
                )
            )
            for chat in chats.all():
                replies = await survey.resume(chat, self._context(session, now))
                pending.append(PendingReply(chat.channel, chat.chat_key, replies))
        return pending

    async def expire_idle(self) -> int:
        """End every survey idle for longer than the setting (counted as expired)."""
        idle = timedelta(days=self.settings.survey.idle_days)
        async with self.database.transaction() as session:
            return await expire_idle_sessions(session, self.clock(), idle, self.settings.zone)

    async def forget_old_updates(self) -> int:
        """Drop update keys too old to be redelivered, so the table stays small.

        The guessing counters of past local days go too: they limit nothing any more.
        """
        now = self.clock()
        async with self.database.transaction() as session:
            result = await session.execute(
                delete(ProcessedUpdate).where(
                    ProcessedUpdate.processed_at < now - UPDATE_KEY_RETENTION
                )
            )
            await forget_attempts_before(session, local_today(now, self.settings))
            return result.rowcount or 0
