"""Whatever text or button arrives, at whatever step, the bot answers politely: no
exception, never the internal-error reply, and what is stored afterwards is the state
before or that state plus one valid answer. Through the real inbound path (the router,
the survey, dossiers and officials' commands) on both databases."""

from __future__ import annotations

import itertools
import logging
from collections import Counter
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from bot.models import Agency, Chat, Official, Response, ResponseAnswer, Service, SurveySession
from bot.questionnaire import QuestionKind
from handlers.messages import Inbound, InboundKind
from handlers.survey import next_step, split_command
from tests.builders import QUESTIONNAIRES, TRANSLATOR, Citizen, FakeClock, make_processor
from tests.officials_helpers import invite, seed_agencies, vn

Q = QUESTIONNAIRES["sipas-2017"]
INDEX = {question.id: index for index, question in enumerate(Q.questions)}
ERRORS = {TRANSLATOR(lang, "internal_error") for lang in ("vi", "en")}
NONCE = "c0ffee"
_keys = itertools.count()
TRIED: Counter[str] = Counter()

# --------------------------------------------------------------------------- messages

unicode_digits = st.text(st.characters(categories=("Nd", "No", "Nl")), min_size=1, max_size=8)
ascii_numbers = st.one_of(st.integers(-10, 40), st.integers(-(10**30), 10**30)).map(str)
repeated = st.builds(
    lambda char, count: char * count,
    st.sampled_from(["9", "²", "a", "\x00", " ", "đ", ".", "/", "\u202e"]),
    st.integers(1000, 20_000),
)
# Numbers of every script and size come first: that is where `isdigit()` met `int()`.
numbers = st.one_of(
    unicode_digits,
    st.sampled_from(["²", "³", "¹", "٣", "५", "５", "𝟓", "⑦", "2²", "1²."]),
    unicode_digits.map(lambda digits: digits + "."),
    ascii_numbers,
    st.integers(1, 20_000).map(lambda count: "9" * count),
)
hostile = st.one_of(
    numbers,
    st.text(),  # any surrogate-free text, control characters included
    st.text(st.characters(categories=("Cc", "Cf", "Zs", "Zl", "Zp", "Co")), max_size=12),
    repeated,
    st.sampled_from(["1", "5", "0", "6", "có", "không", "hai long", "2. Hài lòng", "", "ubnd"]),
)
COMMANDS = [
    *("start", "lang", "help", "cancel", "back", "skip", "hoso"),
    *("register", "scores", "overdue", "digest", "subscribe", "export", "invite"),
    *("START", "start@SipasBot", "", "x"),
]
command = st.builds(
    lambda name, separator, argument: f"/{name}{separator}{argument}",
    st.sampled_from(COMMANDS),
    st.sampled_from([" ", "  ", "", "\t", "\n"]),
    st.one_of(
        hostile,
        st.builds(
            lambda a, b: f"{a} {b}",
            st.sampled_from(["weekly", "monthly", "off", "HS-1", "2026", "official", "admin"]),
            hostile,
        ),
    ),
)
typed = st.one_of(hostile, command)
# Payloads shaped like ours (kind.nonce.target[.value]) with the right nonce more often
# than not, so the fuzzing gets past the nonce to the numbers; and any text at all.
structured = st.builds(
    lambda kind, nonce, target, value, extra: ".".join([kind, nonce, target, *value, *extra]),
    st.sampled_from(["a", "g", "v", "x", "", "A"]),
    st.one_of(st.just("{nonce}"), st.sampled_from(["000000", "", "{nonce} "]), st.text(max_size=6)),
    st.one_of(st.sampled_from(["{step}", "{offered}"]), numbers, st.text(max_size=6)),
    st.lists(st.one_of(numbers, st.sampled_from(["s", "0", "5", "3", ""])), max_size=1),
    st.one_of(st.just([]), st.lists(st.one_of(numbers, st.text(max_size=3)), max_size=2)),
)
payload = st.one_of(structured, st.text())
message = st.one_of(
    st.tuples(st.just(InboundKind.TEXT), typed),
    st.tuples(st.just(InboundKind.BUTTON), payload),
    st.tuples(st.just(InboundKind.OTHER), st.just("")),
)

# --------------------------------------------------------------------------- the world


@dataclass
class World:
    clock: FakeClock
    agency_ids: dict[str, int]
    service_ids: dict[str, int]
    official_key: str


@pytest.fixture
async def world(database) -> World:
    agency_ids = await seed_agencies(database)
    async with database.transaction() as session:
        service_ids = dict((await session.execute(select(Service.code, Service.id))).all())
    clock = FakeClock(vn(2026, 11, 20))
    official_key = f"official-{next(_keys)}"
    admin = Citizen(make_processor(database, clock), official_key)
    code = await invite(database, "admin", None, now=clock.now)
    assert (await admin.say(f"/register {code}"))[0].text.startswith("Đăng ký thành công")
    return World(clock, agency_ids, service_ids, official_key)


def _answers_before(step: int, gate: int) -> tuple[dict[str, int], list[int]]:
    """Valid answers to every question before `step`, and the steps they were given at."""
    answers: dict[str, int] = {}
    history: list[int] = []
    index: int | None = 0
    while index is not None and index < step:
        question = Q.questions[index]
        answers[question.id] = gate if question.id == "feedback_given" else 1
        history.append(index)
        index = next_step(Q, answers, index)
    return answers, history


def _session_values(state: str, world: World) -> dict | None:
    commune = world.agency_ids["DNAI-XTEST"]
    if state == "welcome":
        return {"phase": "agency", "offered": []}
    if state == "agency_menu":
        return {"phase": "agency", "offered": [commune, world.agency_ids["DNAI-STP"]]}
    if state == "service_menu":
        offered = [world.service_ids["HT-KH"], world.service_ids["HT-KS"]]
        return {"phase": "service", "agency_id": commune, "offered": offered}
    question = {
        "likert": "F1.1",
        "likert_no_opinion": "F5.1",
        "gate": "feedback_given",
        "profile": "occupation",
        "suggestion": "suggestion",
    }[state]
    step = INDEX[question]
    answers, history = _answers_before(step, gate=1 if question == "F5.1" else 2)
    return {
        "phase": "questions",
        "agency_id": commune,
        "service_id": world.service_ids["HT-KS"],
        "step": step,
        "answers": answers,
        "history": history,
        "offered": [],
    }


async def _enter(database, world: World, state: str) -> str:
    """A chat in the given state; returns its chat key."""
    if state == "official":
        return world.official_key
    chat_key = f"fuzz-{next(_keys)}"
    values = _session_values(state, world) if state != "new" else None
    if values is None:
        return chat_key
    now = world.clock.now
    async with database.transaction() as session:
        chat = Chat(channel="telegram", chat_key=chat_key, created_at=now, privacy_noticed_at=now)
        session.add(chat)
        await session.flush()
        session.add(
            SurveySession(
                chat_id=chat.id,
                status="active",
                questionnaire=Q.id,
                nonce=NONCE,
                step=values.pop("step", 0),
                answers=values.pop("answers", {}),
                history=values.pop("history", []),
                reply_pending=False,
                started_at=now,
                updated_at=now,
                **values,
            )
        )
    return chat_key


async def _snapshot(database, chat_key: str) -> SurveySession | None:
    async with database.transaction() as session:
        return await session.scalar(
            select(SurveySession)
            .join(Chat, Chat.id == SurveySession.chat_id)
            .where(Chat.chat_key == chat_key, SurveySession.status == "active")
        )


def _valid(qid: str, value) -> bool:
    question = Q.question(qid)
    if question.kind is QuestionKind.TEXT:
        return isinstance(value, str) and 0 < len(value) <= (question.max_length or 1000)
    return isinstance(value, int) and value in Q.valid_values(question)


async def _check_stored(database, world: World, chat_key: str, before, text: str) -> None:
    after = await _snapshot(database, chat_key)
    if after is not None:
        assert after.phase in ("agency", "service", "questions")
        assert 0 <= after.step < len(Q.questions)
        assert all(_valid(qid, value) for qid, value in (after.answers or {}).items())
        known = set(world.agency_ids.values()) | set(world.service_ids.values())
        assert set(after.offered or []) <= known
    is_command = split_command(text)[0] is not None
    if before is not None and before.phase == "questions" and not is_command:
        current = Q.questions[before.step].id
        if after is not None and after.id == before.id:
            old = {k: v for k, v in (before.answers or {}).items() if k != current}
            new = {k: v for k, v in (after.answers or {}).items() if k != current}
            assert new == old, "only the current question may change"
            assert after.step in (before.step, next_step(Q, after.answers or {}, before.step))
    async with database.transaction() as session:
        for item_id, value, words in (
            await session.execute(
                select(ResponseAnswer.item_id, ResponseAnswer.value, ResponseAnswer.text).join(
                    Response
                )
            )
        ).all():
            assert _valid(item_id, words if words is not None else value)
        official = await session.scalar(
            select(Official)
            .join(Chat, Chat.id == Official.chat_id)
            .where(Chat.chat_key == world.official_key)
        )
        assert official is not None and official.revoked_at is None
        assert official.digest_frequency in ("weekly", "monthly", "off")
        assert official.digest_weekday in range(1, 8) and official.digest_month_day in range(1, 29)
        assert 0 <= official.digest_minute < 24 * 60
        assert await session.scalar(select(Agency.id).where(Agency.code == "DNAI-XTEST"))


class _Errors(logging.Handler):
    def __init__(self):
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(scope="module", autouse=True)
def report_what_was_tried():
    """Printed with -s: how many messages of each kind reached each step."""
    yield
    print("\nfuzzed messages per step/kind:", dict(sorted(TRIED.items())))


STATES = [
    "new",
    "welcome",
    "agency_menu",
    "service_menu",
    "likert",
    "likert_no_opinion",
    "gate",
    "profile",
    "suggestion",
    "official",
]


@pytest.mark.parametrize("state", STATES)
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(message=message)
async def test_any_message_at_any_step_is_answered_politely(database, world, state, message):
    kind, text = message
    chat_key = await _enter(database, world, state)
    before = await _snapshot(database, chat_key)
    if before is not None:
        offered = (before.offered or [0])[0]
        text = (
            text.replace("{nonce}", before.nonce)
            .replace("{step}", str(before.step))
            .replace("{offered}", str(offered))
        )
    world.clock.advance(seconds=1)
    errors = _Errors()
    logger = logging.getLogger("bot.inbound")
    logger.addHandler(errors)
    try:
        replies = await make_processor(database, world.clock).process(
            Inbound("telegram", chat_key, kind, text, f"fuzz:{next(_keys)}")
        )
    finally:
        logger.removeHandler(errors)
    TRIED[f"{state}/{kind.value}"] += 1
    assert errors.records == [], "a handler failed"
    assert replies, "every message gets an answer"
    assert not {reply.text for reply in replies} & ERRORS
    await _check_stored(database, world, chat_key, before, text if kind is InboundKind.TEXT else "")
