"""How a citizen reaches a service: a start code, or picking the agency and then the service.

A code (deep link, QR code, or typed from a receipt) leads straight to the questions;
a receipt's code links the chat to its dossier instead. Without a code the citizen
searches the agency by name, then picks the service from the agency's list. Wrong codes
are counted per chat and day, and past the limit codes are no longer looked up.
"""

from __future__ import annotations

from bot import metrics
from bot import throttle as _throttle_store
from bot.boundary import ascii_int
from bot.models import Agency, Service
from handlers.dossiers import linking as dossiers
from handlers.messages import Choice, Outbound
from handlers.survey import _payloads as payloads
from handlers.survey._kinds import menu_instruction
from handlers.survey._turn import PHASE_AGENCY, PHASE_QUESTIONS, PHASE_SERVICE, Turn
from handlers.survey.codes import normalise_code
from handlers.survey.store import MAX_LISTED


class Arrival(Turn):
    """The agency and service phases, and start codes."""

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
            self._offer_agencies(agencies)

    def _offer_agencies(self, agencies: list[Agency]) -> None:
        assert self.session is not None
        nonce = self.session.nonce
        choices = tuple(
            Choice(f"{number}. {agency.name}", payloads.agency(nonce, agency.id))
            for number, agency in enumerate(agencies, start=1)
        )
        self.replies.append(Outbound(self.t("agency_pick"), choices, menu_instruction(self.t)))

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
        nonce = self.session.nonce
        choices = tuple(
            Choice(f"{number}. {service.name}", payloads.service(nonce, service.id))
            for number, service in enumerate(services, start=1)
        )
        text = self.t("service_prompt", agency=agency.name)
        self.replies.append(Outbound(text, choices, menu_instruction(self.t)))

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
            self._offer_agencies(await self.store.named(Agency, session.offered))
        else:
            self.say("agency_prompt")
