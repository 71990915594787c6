"""The SIPAS survey conversation: one inbound message in, the replies out.

Runs inside the transaction opened by `bot.inbound`, with the chat row already
locked, so it may read and change the survey session freely. It never sends
anything itself and imports no platform code.

A citizen arrives with a start code (deep link, QR code, or typed) or picks the
agency and the service (`_arrival`); then answers one question at a time, each asked
and read by its kind (`_kinds`). Button payloads (`_payloads`) carry the session's
nonce and the question's step, so a button pressed on an old message is recognised as
stale and changes nothing. This module is the flow: commands, back and skip, which
reply goes where, storing an answer and finishing.
"""

from __future__ import annotations

from datetime import timedelta

from bot.boundary import check_text
from bot.models import Chat
from bot.settings import LANGUAGES
from bot.states import SessionOutcome
from bot.textnorm import fold
from handlers.messages import Context, Inbound, InboundKind, Outbound
from handlers.survey import _payloads as payloads
from handlers.survey._answers import is_skip
from handlers.survey._arrival import Arrival
from handlers.survey._kinds import Advance, kind_of, next_step, skipped_questions
from handlers.survey._turn import PHASE_AGENCY, PHASE_QUESTIONS, PHASE_SERVICE
from handlers.survey.codes import normalise_code, used_stamp
from handlers.survey.store.pool import hold_response


def readable(text: str) -> bool:
    """False for text no database can store (NUL, lone surrogates): it is not understood."""
    try:
        check_text(text)
    except ValueError:
        return False
    return True


# Typed words that mean /stop (folded: case and diacritics do not matter).
STOP_WORDS = frozenset({"dung", "stop"})


def split_command(text: str) -> tuple[str | None, str]:
    """'/start@SipasBot ABC' -> ('start', 'ABC'); "Dừng" -> ('stop', ''); plain text ->
    (None, text)."""
    stripped = text.strip()
    if not stripped.startswith("/"):
        if fold(stripped) in STOP_WORDS:
            return "stop", ""
        return None, stripped
    head, _, argument = stripped[1:].partition(" ")
    return head.split("@", 1)[0].lower(), argument.strip()


class _Conversation(Arrival):
    """The flow of one inbound message through the survey; `replies` is what to send."""

    # -- entry point ---------------------------------------------------------------

    async def handle(self, inbound: Inbound) -> list[Outbound]:
        if self.chat.privacy_noticed_at is None:
            self.say("privacy")
            self.chat.privacy_noticed_at = self.ctx.now
        self.session = await self.store.active_session(self.chat.id)
        idle = timedelta(days=self.ctx.settings.survey.idle_days)
        if self.session is not None and self.ctx.now - self.session.updated_at > idle:
            self._close(SessionOutcome.EXPIRED)
            self.say("expired")

        if self._question_unseen(inbound):
            self.say("question_not_shown")
            self._ask()
        elif inbound.kind is InboundKind.BUTTON:
            await self._on_button(inbound.text)
        elif not readable(inbound.text):
            self.say("not_understood")
            await self.prompt(or_welcome=True)
        elif inbound.kind is InboundKind.OTHER:
            self.say("remind_unreadable")
            await self.prompt(or_welcome=True)
        else:
            command, argument = split_command(inbound.text)
            if command is None:
                await self._on_text(argument)
            else:
                await self._on_command(command, argument)

        if self.session is not None:
            self.session.updated_at = self.ctx.now
        await self.store.end_sessions(self.ended, self.chat.channel)
        return self.replies

    def _question_unseen(self, inbound: Inbound) -> bool:
        """A typed answer while the chat's last reply, which carries the current question,
        is not known to have been sent: the citizen may not have seen that question, so
        the answer belongs to an earlier one and is not applied to it.

        Buttons need no such doubt. One of the current question proves it was shown (only
        its message carries that session's and step's buttons), so a press after a crash,
        or on another process than the one that sent it, counts; one of an earlier
        question (a double tap, an old message) is stale and is told so (`_on_button`)."""
        session = self.session
        if not self.ctx.reply_unconfirmed or session is None:
            return False
        if session.phase != PHASE_QUESTIONS:
            return False
        return inbound.kind is InboundKind.TEXT and split_command(inbound.text)[0] is None

    # -- commands --------------------------------------------------------------------

    async def _on_command(self, command: str, argument: str) -> None:
        if command == "stop":
            # Reminders and proactive messages end; the survey stays, to answer at will.
            self.chat.stopped_at = self.chat.stopped_at or self.ctx.now
            self.say("stopped")
            return
        if command == "start" and self.chat.stopped_at is not None:
            self.chat.stopped_at = None
            self.say("stop_lifted")
        if command == "start":
            if argument:
                await self._start_with_code(argument)
            elif self.session is not None:
                self.say("resumed")
                await self.prompt()
            else:
                await self._begin_agency_phase(welcome=True)
        elif command == "lang":
            if argument.lower() in LANGUAGES:
                self.chat.language = argument.lower()
                self.say("lang_set")
                await self.prompt()
            else:
                self.say("lang_usage")
        elif command == "help":
            self.say("help")
            await self.prompt()
        elif command == "cancel":
            if self.session is None:
                self.say("nothing_to_cancel")
            else:
                self._close(SessionOutcome.CANCELLED)
                self.say("cancelled")
        elif command == "back":
            await self._back()
        elif command == "skip":
            await self._skip()
        else:
            self.say("unknown_command")
            await self.prompt(or_welcome=True)

    async def _back(self) -> None:
        session = self.session
        if session is None:
            await self.prompt(or_welcome=True)
        elif session.phase == PHASE_QUESTIONS and session.history:
            history = list(session.history)
            session.step = history.pop()
            session.history = history
            answers = dict(session.answers or {})
            answers.pop(self.question.id, None)
            session.answers = answers
            await self.prompt()
        elif session.phase == PHASE_SERVICE:
            await self._begin_agency_phase(welcome=False)
        else:
            self.say("back_first")
            await self.prompt()

    async def _skip(self) -> None:
        if self.session is None or self.session.phase != PHASE_QUESTIONS:
            await self.prompt(or_welcome=True)
        elif self.question.optional:
            await self._record(None)
        else:
            self.say(
                "skip_not_allowed" if self.question.no_opinion else "skip_not_allowed_required"
            )
            await self.prompt()

    # -- buttons and text ------------------------------------------------------------

    async def _on_button(self, payload: str) -> None:
        """Apply a button of the current prompt; anything else is a stale button."""
        session = self.session
        button = None if session is None else payloads.parse(payload, session.nonce)
        if session is None or button is None:
            return await self._stale()
        number, offered = button.target, session.offered or []
        if button.kind == payloads.ANSWER:
            if session.phase == PHASE_QUESTIONS and number == session.step and button.value:
                return await self._answer_button(button.value)
        elif button.kind == payloads.AGENCY:
            if session.phase == PHASE_AGENCY and number in offered:
                return await self._pick_agency(number)
        elif session.phase == PHASE_SERVICE and number in offered:  # payloads.SERVICE
            return await self._pick_service(number)
        await self._stale()

    async def _answer_button(self, value: str) -> None:
        """An option of the current question pressed (or its skip button)."""
        if value == payloads.SKIP and self.question.optional:
            return await self._record(None)
        reading = kind_of(self.question).read_button(self.questionnaire, self.question, value)
        if reading is None:
            return await self._stale()
        await self._record(reading.value)

    async def _stale(self) -> None:
        if self.session is None:
            await self.prompt(or_welcome=True)
        else:
            self.say("stale_button")
            await self.prompt()

    async def _on_text(self, text: str) -> None:
        session = self.session
        if session is None:
            if normalise_code(text) is not None:
                await self._start_with_code(text)
            else:
                await self._begin_agency_phase(welcome=True)
        elif session.phase == PHASE_AGENCY:
            await self._agency_text(text)
        elif session.phase == PHASE_SERVICE:
            await self._service_text(text)
        else:
            await self._answer_text(text)

    # -- questions ---------------------------------------------------------------------

    async def _answer_text(self, text: str) -> None:
        if is_skip(text):  # "Bỏ qua" typed, as a channel without buttons lists it
            return await self._skip()
        reading = kind_of(self.question).read_typed(self.questionnaire, self.question, text)
        if isinstance(reading, Advance):
            return await self._record(reading.value)
        self.say(reading.feedback, **reading.params)
        self._ask()

    async def _record(self, value: int | str | None) -> None:
        """Store the answer to the current question (None: skipped) and move on."""
        session = self.session
        assert session is not None
        answers = dict(session.answers or {})
        if value is None:
            answers.pop(self.question.id, None)
        else:
            answers[self.question.id] = value
        session.answers = answers
        session.history = [*(session.history or []), session.step]
        following = next_step(self.questionnaire, answers, session.step)
        if following is None:
            await self._complete()
        else:
            session.step = following
            self._ask()

    async def _complete(self) -> None:
        session = self.session
        assert session is not None
        questionnaire = self.questionnaire
        answers = dict(session.answers or {})
        skipped = skipped_questions(questionnaire, answers)
        kept = {qid: value for qid, value in answers.items() if qid not in skipped}
        agency = await self.store.agency(session.agency_id)
        assert agency is not None and session.service_id is not None
        code = await self.store.start_code(session.start_code or "")
        if code is not None and code.single_use:
            allowed, refusal = (
                await self.store.claim_single_use_code(
                    code.code, used_stamp(self.ctx.now, self.ctx.settings.zone)
                ),
                "code_used",
            )
        else:
            allowed = await self.store.cast_ballot(
                self.chat.channel, self.chat.chat_key, session.service_id, self.today
            )
            refusal = "already_answered"
        if not allowed:
            self._close(SessionOutcome.REFUSED)
            self.say(refusal)
            return
        # Into the pool, not `responses`: it is stored with its day's shuffled batch, by
        # another transaction, once the day is over (handlers.survey.publication).
        await hold_response(
            self.ctx.session,
            questionnaire=questionnaire.id,
            agency_id=agency.id,
            level=agency.level,
            service_id=session.service_id,
            day=self.today,
            channel_kind=self.chat.channel,
            answers=kept,
        )
        self._close(SessionOutcome.COMPLETED)
        self.say("thanks")


async def handle(inbound: Inbound, chat: Chat, ctx: Context) -> list[Outbound]:
    """Apply one inbound message to the chat's survey and return the replies."""
    return await _Conversation(chat, ctx).handle(inbound)
