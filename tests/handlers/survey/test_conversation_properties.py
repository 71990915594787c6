"""Whatever a citizen sends, in any order, the conversation neither breaks nor stores
anything out of range, and the session always points at a real question."""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from bot.database import Database
from bot.models import Response, ResponseAnswer, SurveySession
from handlers.messages import Inbound, InboundKind
from tests.builders import (
    QUESTIONNAIRES,
    TRANSLATOR,
    FakeClock,
    make_code,
    make_processor,
    publish_held,
    seed_catalog,
)

Q = QUESTIONNAIRES["sipas-2017"]
_chats = itertools.count()

typed = st.one_of(
    st.sampled_from(["1", "2", "3", "4", "5", "6", "0", "có", "khong", "hai long", "Rất hài lòng"]),
    st.sampled_from(["/back", "/skip", "/help", "/lang en", "/lang vi", "/start", "/cancel", "/x"]),
    st.text(max_size=40),
    st.just("z" * 3000),
)
payload = st.one_of(
    st.builds(
        lambda step, value: f"a.{{nonce}}.{step}.{value}",
        st.integers(-1, 40),
        st.sampled_from(["0", "1", "3", "5", "6", "s", "-1", ""]),
    ),
    st.text(max_size=64),
)
message = st.one_of(
    st.tuples(st.just(InboundKind.TEXT), typed),
    st.tuples(st.just(InboundKind.BUTTON), payload),
    st.tuples(st.just(InboundKind.OTHER), st.just("")),
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(messages=st.lists(message, max_size=45))
async def test_any_sequence_keeps_the_survey_consistent(database: Database, messages):
    if not hasattr(database, "_property_code"):
        database._property_code = await make_code(
            database, await seed_catalog(database), single_use=False
        )
    clock = FakeClock()  # a message a second: a person typing, never a flood
    processor = make_processor(database, clock)
    chat_key = f"prop-{next(_chats)}"
    error_text = TRANSLATOR("vi", "internal_error")
    await processor.process(
        Inbound("telegram", chat_key, InboundKind.TEXT, f"/start {database._property_code}")
    )
    for kind, text in messages:
        nonce = ""
        async with database.transaction() as session:
            current = await session.scalar(
                select(SurveySession)
                .where(SurveySession.status == "active")
                .order_by(SurveySession.id.desc())
            )
            nonce = current.nonce if current else "none"
        clock.advance(seconds=1)
        replies = await processor.process(
            Inbound("telegram", chat_key, kind, text.replace("{nonce}", nonce))
        )
        assert replies, "every message gets an answer"
        assert all(reply.text != error_text for reply in replies)
        async with database.transaction() as session:
            for session_row in await session.scalars(
                select(SurveySession).where(SurveySession.status == "active")
            ):
                assert 0 <= session_row.step < len(Q.questions)
                for qid, value in (session_row.answers or {}).items():
                    question = Q.question(qid)
                    assert isinstance(value, str) or value in Q.valid_values(question)
    await publish_held(database)
    async with database.transaction() as session:
        for item_id, value in (
            await session.execute(
                select(ResponseAnswer.item_id, ResponseAnswer.value).join(Response)
            )
        ).all():
            if value is not None:
                assert value in Q.valid_values(Q.question(item_id))
