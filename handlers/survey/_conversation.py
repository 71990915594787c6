"""The SIPAS survey conversation: one inbound message in, the replies out.

Runs inside the transaction opened by `bot.inbound`, with the chat row already
locked, so it may read and change the survey session freely. It never sends
anything itself and imports no platform code.

A citizen arrives with a start code (deep link, QR code, or typed) or picks the
agency and the service; then answers one question at a time. Button payloads
carry the session's nonce and the question's step, so a button pressed on an
old message is recognised as stale and changes nothing.
"""

from __future__ import annotations

import secrets
import unicodedata
from datetime import date, timedelta

from bot import metrics
from bot import throttle as _throttle_store
from bot.boundary import ascii_int, check_text
from bot.clock import local_date, local_today
from bot.models import Agency, Chat, Service, SurveySession
from bot.questionnaire import Question, QuestionKind, Questionnaire
from bot.settings import LANGUAGES
from bot.states import SessionOutcome, SessionStatus
from handlers.dossiers import linking as dossiers
from handlers.messages import Choice, Context, Inbound, InboundKind, Instruction, Outbound
from handlers.survey._answers import is_skip, parse_typed_answer
from handlers.survey.codes import normalise_code, used_stamp
from handlers.survey.publication import hold_response
from handlers.survey.store import (
    MAX_LISTED,
    SurveyStore,
)

PHASE_AGENCY = "agency"
PHASE_SERVICE = "service"
PHASE_QUESTIONS = "questions"
SKIP = "s"
# Button payloads as `_offer` and `_ask` build them: kind, nonce, target[, value].
_PAYLOAD_PARTS = {"a": 4, "g": 3, "v": 3}
# Line breaks and tabs belong in a typed comment; other control characters do not (nor
# can the workbooks of exports hold them).
_TEXT_CONTROLS = frozenset("\n\r\t")


def readable(text: str) -> bool:
    """False for text no database can store (NUL, lone surrogates): it is not understood."""
    try:
        check_text(text)
    except ValueError:
        return False
    return True


def _payload_number(part: str, max_digits: int = 9) -> int | None:
    """A number inside a button payload: ASCII digits exactly, no spaces around them."""
    return ascii_int(part, max_digits) if part == part.strip() else None


def _clean_comment(text: str) -> bool:
    """A free-text answer may be stored: no control characters but line breaks and tabs."""
    return not any(
        unicodedata.category(char) == "Cc" and char not in _TEXT_CONTROLS for char in text
    )


def split_command(text: str) -> tuple[str | None, str]:
    """'/start@SipasBot ABC' -> ('start', 'ABC'); plain text -> (None, text)."""
    stripped = text.strip()
    if not stripped.startswith("/"):
        return None, stripped
    head, _, argument = stripped[1:].partition(" ")
    return head.split("@", 1)[0].lower(), argument.strip()


def skipped_questions(questionnaire: Questionnaire, answers: dict[str, int | str]) -> set[str]:
    """Questions a "no" on a gate removes from this respondent's questionnaire."""
    skipped: set[str] = set()
    for question in questionnaire.questions:
        if question.kind is QuestionKind.GATE and answers.get(question.id) == 2:
            skipped.update(question.skip_if_no)
    return skipped


def position(
    questionnaire: Questionnaire, answers: dict[str, int | str], step: int
) -> tuple[int, int]:
    """(number, total) of the question at ``step`` among those this respondent is asked.

    A gate answered "no" takes its questions out of both; before it is answered they
    count as asked (the intro says "at most" for such questionnaires).
    """
    skipped = skipped_questions(questionnaire, answers)
    kept = [i for i, question in enumerate(questionnaire.questions) if question.id not in skipped]
    return sum(1 for i in kept if i <= step), len(kept)


def has_gate(questionnaire: Questionnaire) -> bool:
    return any(q.kind is QuestionKind.GATE and q.skip_if_no for q in questionnaire.questions)


def next_step(
    questionnaire: Questionnaire, answers: dict[str, int | str], after: int
) -> int | None:
    skipped = skipped_questions(questionnaire, answers)
    for index in range(after + 1, len(questionnaire.questions)):
        if questionnaire.questions[index].id not in skipped:
            return index
    return None


class _Conversation:
    """The handling of one inbound message; `replies` collects what to send back."""

    def __init__(self, chat: Chat, ctx: Context):
        self.chat = chat
        self.ctx = ctx
        self.store = SurveyStore(ctx.session)
        self.session: SurveySession | None = None
        self.replies: list[Outbound] = []
        # Sessions ended by this message, with how and on which local day: counted in
        # the funnel and deleted before the transaction ends (SurveyStore.end_sessions).
        self.ended: list[tuple[SurveySession, str, date]] = []

    # -- small helpers -------------------------------------------------------------

    @property
    def lang(self) -> str:
        return self.ctx.translator.language(self.chat.language)

    def t(self, key: str, **params: object) -> str:
        return self.ctx.translator(self.lang, key, **params)

    def say(self, key: str, **params: object) -> None:
        self.replies.append(Outbound(self.t(key, **params)))

    @property
    def today(self):
        return local_today(self.ctx.now, self.ctx.settings)

    @property
    def questionnaire(self) -> Questionnaire:
        assert self.session is not None
        return self.ctx.questionnaires[self.session.questionnaire]

    @property
    def question(self) -> Question:
        assert self.session is not None
        return self.questionnaire.questions[self.session.step]

    def _close(self, outcome: str) -> None:
        """End the session; it leaves only a count in the funnel (see `self.ended`)."""
        session = self.session
        assert session is not None
        last_active = session.updated_at if outcome == SessionOutcome.EXPIRED else self.ctx.now
        self.ended.append((session, outcome, local_date(last_active, self.ctx.settings.zone)))
        session.status = (
            SessionStatus.ENDED
        )  # frees the chat's one active slot before a new session
        session.answers = session.history = session.offered = None
        self.session = None

    def _open(self, phase: str) -> SurveySession:
        if self.session is not None:
            self._close(SessionOutcome.RESTARTED)
        session = SurveySession(
            chat_id=self.chat.id,
            status=SessionStatus.ACTIVE,
            phase=phase,
            questionnaire=self.ctx.settings.survey.questionnaire,
            step=0,
            answers={},
            history=[],
            offered=[],
            nonce=secrets.token_hex(3),
            started_at=self.ctx.now,
            updated_at=self.ctx.now,
        )
        self.ctx.session.add(session)
        self.session = session
        return session

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
        """An answer (typed or a button) while the chat's last reply, which carries the
        current question, is not known to have been sent: the citizen may not have seen
        that question, so the answer belongs to an earlier one and is not applied to it."""
        session = self.session
        if not self.ctx.reply_unconfirmed or session is None:
            return False
        if session.phase != PHASE_QUESTIONS:
            return False
        if inbound.kind is InboundKind.BUTTON:
            return True
        return inbound.kind is InboundKind.TEXT and split_command(inbound.text)[0] is None

    async def resume(self) -> list[Outbound]:
        """The current prompt again, for a citizen whose last reply was never delivered."""
        self.session = await self.store.active_session(self.chat.id)
        if self.session is not None:
            self.say("resumed")
            await self.prompt()
        return self.replies

    # -- commands --------------------------------------------------------------------

    async def _on_command(self, command: str, argument: str) -> None:
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
        parts = payload.split(".")
        kind = parts[0]
        session = self.session
        if session is None or len(parts) != _PAYLOAD_PARTS.get(kind) or parts[1] != session.nonce:
            return await self._stale()
        number = _payload_number(parts[2])
        if number is None:
            return await self._stale()
        if kind == "a" and session.phase == PHASE_QUESTIONS and number == session.step:
            value = parts[3]
            if value == SKIP and self.question.optional:
                return await self._record(None)
            chosen = _payload_number(value, 2)
            if chosen is not None and chosen in self.questionnaire.valid_values(self.question):
                return await self._record(chosen)
        elif kind == "g" and session.phase == PHASE_AGENCY and number in (session.offered or []):
            return await self._pick_agency(number)
        elif kind == "v" and session.phase == PHASE_SERVICE and number in (session.offered or []):
            return await self._pick_service(number)
        await self._stale()

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

    def _offered_number(self, text: str) -> int | None:
        """The id behind a typed list number ("2" or "2."), if it is one of the list's."""
        offered = (self.session.offered if self.session else None) or []
        number = ascii_int(text.strip().rstrip("."), 3)
        if number is not None and 1 <= number <= len(offered):
            return offered[number - 1]
        return None

    def _menu_miss(self, text: str) -> bool:
        """A number (of any script) that picks nothing from the list shown: ask again."""
        stripped = text.strip().rstrip(".")
        return bool(self.session and self.session.offered) and stripped.isnumeric()

    # -- choosing agency and service -------------------------------------------------

    async def _begin_agency_phase(self, *, welcome: bool) -> None:
        session = self.session or self._open(PHASE_AGENCY)
        session.phase = PHASE_AGENCY
        session.agency_id = session.service_id = None
        session.offered = []
        self.say("welcome" if welcome else "agency_prompt")

    async def _agency_text(self, text: str) -> None:
        picked = self._offered_number(text)
        if picked is not None:
            return await self._pick_agency(picked)
        # Text shaped like a code may be a code or an agency name typed without accents:
        # a code is looked up first (unless the chat is over its limit), and only a text
        # that is neither counts as a wrong code. (A code may be all digits, too.)
        code_like = normalise_code(text) is not None
        if not code_like and self._menu_miss(text):
            self.say("menu_not_understood")
            return await self.prompt()
        throttled = code_like and await self._codes_throttled()
        if code_like and not throttled and await self.store.start_code(text) is not None:
            return await self._start_with_code(text)
        query = text[:100]
        agencies, total = await self.store.search_agencies(query, self.today)
        if not agencies and throttled:
            self.say("code_throttled")
        elif not agencies and code_like:
            await self._count_wrong_code()
            self.say("code_unknown")
        elif not agencies:
            self.say("agency_not_found", query=query)
        elif total > MAX_LISTED:
            self.say("agency_too_many", count=total, query=query)
        elif total == 1:
            await self._pick_agency(agencies[0].id)
        else:
            assert self.session is not None
            self.session.offered = [agency.id for agency in agencies]
            self._offer("agency_pick", "g", agencies)

    def _offer(self, key: str, kind: str, rows: list[Agency] | list[Service]) -> None:
        assert self.session is not None
        choices = tuple(
            Choice(f"{number}. {row.name}", f"{kind}.{self.session.nonce}.{row.id}")
            for number, row in enumerate(rows, start=1)
        )
        self.replies.append(Outbound(self.t(key), choices, self._instruction()))

    async def _pick_agency(self, agency_id: int) -> None:
        assert self.session is not None
        agency = await self.store.agency(agency_id)
        if agency is None:
            return await self._begin_agency_phase(welcome=False)
        services = await self.store.services_for(agency)
        if not services:
            self.say("no_services")
            return
        self.session.phase = PHASE_SERVICE
        self.session.agency_id = agency.id
        self.session.offered = [service.id for service in services]
        self._offer_services(agency, services)

    def _offer_services(self, agency: Agency, services: list[Service]) -> None:
        assert self.session is not None
        choices = tuple(
            Choice(f"{number}. {service.name}", f"v.{self.session.nonce}.{service.id}")
            for number, service in enumerate(services, start=1)
        )
        text = self.t("service_prompt", agency=agency.name)
        self.replies.append(Outbound(text, choices, self._instruction()))

    async def _service_text(self, text: str) -> None:
        picked = self._offered_number(text)
        if picked is not None:
            return await self._pick_service(picked)
        if self._menu_miss(text):
            self.say("menu_not_understood")
            return await self.prompt()
        assert self.session is not None
        agency = await self.store.agency(self.session.agency_id)
        assert agency is not None
        services = await self.store.services_for(agency, text[:100])
        if not services:
            self.say("service_not_found", query=text[:100])
            services = await self.store.services_for(agency)
        elif len(services) == 1:
            return await self._pick_service(services[0].id)
        self.session.offered = [service.id for service in services]
        self._offer_services(agency, services)

    async def _pick_service(self, service_id: int) -> None:
        session = self.session
        assert session is not None
        agency = await self.store.agency(session.agency_id)
        service = await self.store.service(service_id)
        if agency is None or service is None:
            return await self._begin_agency_phase(welcome=False)
        if await self.store.ballot_cast(
            self.chat.channel, self.chat.chat_key, service.id, self.today
        ):
            self.say("already_answered")
            return await self.prompt()
        self._begin_questions(agency, service)

    async def _codes_throttled(self) -> bool:
        """True once the chat sent too many wrong codes today: codes are not looked up."""
        wrong = await _throttle_store.attempts(
            self.ctx.session, self.chat.id, _throttle_store.START_CODE, self.today
        )
        if wrong < self.ctx.settings.survey.start_code_max_failures:
            return False
        metrics.increment("start_code_throttled_total")
        return True

    async def _count_wrong_code(self) -> None:
        await _throttle_store.count_attempt(
            self.ctx.session, self.chat.id, _throttle_store.START_CODE, self.today
        )

    async def _start_with_code(self, raw: str) -> None:
        code_like = normalise_code(raw) is not None
        if code_like and await self._codes_throttled():
            code, reply = None, "code_throttled"
        else:
            code, reply = await self.store.start_code(raw), "code_unknown"
            if code is None and code_like:
                await self._count_wrong_code()
        if code is None:
            self.say(reply)
            if self.session is None:
                self._open(PHASE_AGENCY)
            return
        if code.dossier_id is not None:  # a receipt's code: link the chat to its dossier
            linked = await dossiers.link_by_start_code(code, self.chat, self.ctx)
            if linked is not None:
                self.replies.extend(linked)
                return
        if code.expires_at is not None and code.expires_at <= self.ctx.now:
            self.say("code_expired")
            return
        if code.single_use and code.used_at is not None:
            self.say("code_used")
            return
        if self.session is not None and self.session.start_code == code.code:
            self.say("resumed")
            return await self.prompt()
        if not code.single_use and await self.store.ballot_cast(
            self.chat.channel, self.chat.chat_key, code.service_id, self.today
        ):
            self.say("already_answered")
            return
        agency = await self.store.agency(code.agency_id)
        service = await self.store.service(code.service_id)
        assert agency is not None and service is not None
        self._open(PHASE_QUESTIONS).start_code = code.code
        self._begin_questions(agency, service)

    def _begin_questions(self, agency: Agency, service: Service) -> None:
        session = self.session
        assert session is not None
        session.phase = PHASE_QUESTIONS
        session.agency_id, session.service_id = agency.id, service.id
        session.offered, session.answers, session.history = [], {}, []
        session.step = 0
        total = len(self.questionnaire.questions)
        intro = "survey_intro_at_most" if has_gate(self.questionnaire) else "survey_intro"
        self.say(intro, service=service.name, agency=agency.name, total=total)
        self._ask()

    # -- questions ---------------------------------------------------------------------

    async def _answer_text(self, text: str) -> None:
        question = self.question
        if is_skip(text):  # "Bỏ qua" typed, as a channel without buttons lists it
            return await self._skip()
        if question.kind is QuestionKind.TEXT:
            limit = question.max_length or 1000
            if not text.strip():
                self.say("remind_text_empty")
            elif not _clean_comment(text):
                self.say("remind_text_invalid")
            elif len(text) > limit:
                self.say("remind_text_long", max_length=limit, length=len(text))
            else:
                return await self._record(text.strip())
            return self._ask()
        value = parse_typed_answer(self.questionnaire, question, text)
        if value is None:
            self.say("remind_likert" if question.kind is QuestionKind.LIKERT else "remind_choice")
            return self._ask()
        await self._record(value)

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

    # -- prompts -----------------------------------------------------------------------

    async def prompt(self, *, or_welcome: bool = False) -> None:
        """Repeat what the citizen is expected to answer now."""
        session = self.session
        if session is None:
            if or_welcome:
                self.say("welcome")
            return
        if session.phase == PHASE_QUESTIONS:
            self._ask()
        elif session.phase == PHASE_SERVICE and session.offered:
            agency = await self.store.agency(session.agency_id)
            services = await self.store.named(Service, session.offered)
            assert agency is not None
            self._offer_services(agency, services)
        elif session.phase == PHASE_AGENCY and session.offered:
            self._offer("agency_pick", "g", await self.store.named(Agency, session.offered))
        else:
            self.say("agency_prompt")

    def _ask(self) -> None:
        session = self.session
        assert session is not None
        question, lang = self.question, self.lang
        number, total = position(self.questionnaire, session.answers or {}, session.step)
        lines = [
            self.t("progress", number=number, total=total),
            question.text[lang] if lang in question.text else question.text["vi"],
        ]
        payload = f"a.{session.nonce}.{session.step}."
        if question.kind is QuestionKind.TEXT:
            lines.append(self.t("hint_text", max_length=question.max_length or 1000))
            choices: list[Choice] = []
            instruction = None
        else:
            choices = [
                Choice(self._option_label(question, option.value), payload + str(option.value))
                for option in question.options
            ]
            if question.kind is QuestionKind.LIKERT and question.no_opinion:
                choices.append(Choice(question.label(0, lang), payload + "0"))
            instruction = self._instruction(question)
        if question.optional:
            lines.append(self.t("hint_optional"))
            choices.append(Choice(self.t("skip_button"), payload + SKIP))
        columns = 1 if question.kind is QuestionKind.LIKERT else 2
        self.replies.append(
            Outbound("\n".join(lines), tuple(choices), instruction, columns=columns)
        )

    def _instruction(self, question: Question | None = None) -> Instruction:
        """What to do with the choices, worded for buttons, for typing, and for both.

        Choices beyond the buttons a channel has (its "no opinion", "skip") are listed
        to be typed; "skip" is explained by the optional-question line.
        """
        if question is not None and question.kind is QuestionKind.LIKERT:
            buttons, typed = self.t("hint_likert"), self.t("hint_likert_typed")
        else:
            buttons, typed = self.t("hint_choice"), self.t("hint_choice_typed")
        if question is not None and question.kind is QuestionKind.LIKERT and question.no_opinion:
            extra = self.t("hint_no_opinion_typed", label=question.label(0, self.lang))
            return Instruction(buttons, f"{typed} {extra}", f"{buttons} {extra}")
        return Instruction(buttons, typed, buttons)

    def _option_label(self, question: Question, value: int) -> str:
        return f"{value}. {question.label(value, self.lang)}"


async def handle(inbound: Inbound, chat: Chat, ctx: Context) -> list[Outbound]:
    """Apply one inbound message to the chat's survey and return the replies."""
    return await _Conversation(chat, ctx).handle(inbound)


async def resume(chat: Chat, ctx: Context) -> list[Outbound]:
    """Re-ask the current question (used after a restart lost a reply)."""
    return await _Conversation(chat, ctx).resume()
