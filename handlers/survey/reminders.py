"""One reminder for a survey left unfinished: the job that decides it, and its renderer.

`run_due(database, settings, now)` (every 10 minutes, leader only: bot.scheduler) finds
the surveys whose citizen has been silent for SURVEY_REMINDER_HOURS in the middle of the
questions and creates each one's single outbox row (unique per session): due at once,
or at 07:00 when it is night, or already cancelled (counted) when the platform's free
window closes before the morning. The free window: Telegram and the Zalo Bot platform
allow a message within 24 h of the citizen's last one; Zalo OA counts its reply window
in the database (bot.zalo.windows), which must still hold one message.

The renderer decides again when the row is sent, since much may have changed: nothing
goes if the survey ended (completed, /cancel, expired), the citizen came back since
the row was made, the chat said /stop or blocked the bot, the window closed, or it is
night (then the row waits for 07:00 if the window is still open then). A reminder goes
by chat only: it names the session's own chat, so never ZNS nor the counter.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta, tzinfo
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.database import Database
from bot.i18n import Translator
from bot.models import OutboxMessage
from bot.questionnaire import Questionnaire
from bot.settings import Settings, ZaloOASettings
from bot.states import OutboxKind, SessionStatus
from handlers.messages import Rendered, Withheld
from handlers.survey._kinds import question_prompt
from handlers.survey._turn import PHASE_QUESTIONS
from handlers.survey.store import reminders as store

FREE_WINDOW = timedelta(hours=24)  # Telegram, Zalo Bot: after the citizen's last message
NIGHT_FROM, MORNING = time(21), time(7)  # local time (TIMEZONE)
OUTSIDE_WINDOW = "outside the free window"
NIGHT = "night until the window closes"


@dataclass(frozen=True)
class ReminderReport:
    created: int  # rows due now or at 07:00
    not_sent: int  # rows decided against at once: night or outside the window


def window_closes(
    channel: str,
    last_activity: datetime,
    opened_at: datetime | None,
    sent: int,
    oa: ZaloOASettings,
) -> datetime | None:
    """When the platform stops allowing a free message to this chat (None: it does not)."""
    if channel != store.OA_CHANNEL:
        return last_activity + FREE_WINDOW
    if opened_at is None or sent + 1 > oa.reply_window_messages:
        return None
    return opened_at + timedelta(hours=oa.reply_window_hours)


def allowed_at(
    now: datetime, closes: datetime | None, zone: tzinfo
) -> tuple[datetime | None, str | None]:
    """When a reminder may go: `now`, 07:00 after the night, or never (with why)."""
    if closes is None or now >= closes:
        return None, OUTSIDE_WINDOW
    local = now.astimezone(zone)
    if MORNING <= local.time() < NIGHT_FROM:
        return now, None
    day = local.date() + timedelta(days=1) if local.time() >= NIGHT_FROM else local.date()
    morning = datetime.combine(day, MORNING, tzinfo=zone).astimezone(UTC)
    return (morning, None) if morning < closes else (None, NIGHT)


async def run_due(database: Database, settings: Settings, now: datetime) -> ReminderReport:
    """Create the reminder of every survey left unfinished long enough, once each."""
    wait = timedelta(hours=settings.survey.reminder_hours)
    created = not_sent = 0
    async with database.transaction() as session:
        for row in await store.unfinished_since(session, now - wait, PHASE_QUESTIONS):
            closes = window_closes(
                row.channel,
                row.last_activity,
                row.window_opened_at,
                row.window_sent,
                settings.zalo_oa,
            )
            at, reason = allowed_at(now, closes, settings.zone)
            made = await store.add_reminder(
                session, row.session_id, row.started_at, now, at=at, reason=reason
            )
            created += int(made and at is not None)
            not_sent += int(made and at is None)
    return ReminderReport(created, not_sent)


def renderers(
    settings: Settings,
    translator: Translator,
    questionnaires: Mapping[str, Questionnaire],
    clock: Callable[[], datetime],
) -> dict[str, Any]:
    """The outbox renderer of reminders: the reminder line and the current question."""
    idle = timedelta(days=settings.survey.idle_days)

    async def reminder(session: AsyncSession, message: OutboxMessage, dossier, language):
        target = await store.reminder_target(session, message.ref_id)
        if target is None:
            return Withheld("survey ended")
        survey, chat, window = target
        now = clock()
        if survey.status != SessionStatus.ACTIVE or survey.started_at > message.created_at:
            return Withheld("survey ended")
        if survey.updated_at > message.created_at:
            return Withheld("citizen came back")
        if now - survey.updated_at > idle:
            return Withheld("survey expired")
        if chat.stopped_at is not None or chat.unreachable_at is not None:
            return Withheld("chat stopped" if chat.stopped_at else "chat unreachable")
        closes = window_closes(
            chat.channel,
            survey.updated_at,
            window.opened_at if window else None,
            window.sent if window else 0,
            settings.zalo_oa,
        )
        at, reason = allowed_at(now, closes, settings.zone)
        if at is None:
            return Withheld(reason or OUTSIDE_WINDOW)
        if at > now:
            return Withheld("night: waits for the morning", until=at)
        lang = translator.language(chat.language)

        def say(key: str, **params: object) -> str:
            return translator(lang, key, **params)

        questionnaire = questionnaires[survey.questionnaire]
        prompt = question_prompt(
            questionnaire, survey.step, survey.answers or {}, survey.nonce, say, lang
        )
        # One message (one credit of a Zalo OA window): the line, then the question.
        text = f"{say('reminder')}\n\n{prompt.text}"
        return Rendered([replace(prompt, text=text)], chat=(chat.channel, chat.chat_key))

    return {OutboxKind.REMINDER: reminder}
