"""One turn of the survey conversation: what the handling of one inbound message holds.

The chat, the context, the chat's survey session and the replies collected so far, with
the few verbs every part of the conversation uses (say, open and close a session, ask
the current question). `_arrival` (how a citizen reaches a service) and `_conversation`
(the flow) build on it.
"""

from __future__ import annotations

import secrets
from datetime import date

from bot.clock import local_date, local_today
from bot.models import Agency, Chat, Service, SurveySession
from bot.questionnaire import Question, Questionnaire
from bot.states import SessionOutcome, SessionPhase, SessionStatus
from handlers.messages import Context, Outbound
from handlers.survey._kinds import has_gate, question_prompt
from handlers.survey.store import SurveyStore

PHASE_AGENCY = SessionPhase.AGENCY
PHASE_SERVICE = SessionPhase.SERVICE
PHASE_QUESTIONS = SessionPhase.QUESTIONS


class Turn:
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

    @property
    def lang(self) -> str:
        return self.ctx.translator.language(self.chat.language)

    def t(self, key: str, **params: object) -> str:
        return self.ctx.translator(self.lang, key, **params)

    def say(self, key: str, **params: object) -> None:
        self.replies.append(Outbound(self.t(key, **params)))

    @property
    def today(self) -> date:
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

    def _ask(self) -> None:
        session = self.session
        assert session is not None
        self.replies.append(
            question_prompt(
                self.questionnaire,
                session.step,
                session.answers or {},
                session.nonce,
                self.t,
                self.lang,
            )
        )
