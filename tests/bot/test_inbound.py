"""The inbound path with two processes on one database (two processors, two owners)."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from bot import metrics
from bot.database import Database
from bot.inbound import OTHER_SENDER_WAITS
from bot.models import Chat
from handlers.survey.store import SurveyStore
from tests.builders import TRANSLATOR, FakeClock, make_code, make_processor, seed_catalog
from tests.delivery_helpers import CHANNEL, text

NOT_SHOWN = TRANSLATOR("vi", "question_not_shown")
WAITS = "inbound_waits_for_other_sender_total"


async def no_time(seconds: float) -> None:
    await asyncio.sleep(0)


async def answers_of(database: Database, chat_key: str) -> dict:
    async with database.transaction() as session:
        chat_id = await session.scalar(select(Chat.id).where(Chat.chat_key == chat_key))
        survey = await SurveyStore(session).active_session(chat_id)
        return dict(survey.answers or {})


async def test_a_typed_answer_waits_for_the_other_process_to_record_its_question(database):
    """Process A committed the first question and is sending it; the citizen's typed
    answer lands on process B before A's confirmer has recorded the send. B waits for that
    record (a tenth of a second) instead of calling the question unseen."""
    clock = FakeClock()
    a, b = make_processor(database, clock), make_processor(database, clock)
    code = await make_code(database, await seed_catalog(database))
    started = await a.take(text("c1", f"/start {code}"))
    waits = metrics.value(WAITS)

    async def a_records_its_send_meanwhile(seconds: float) -> None:
        await a.confirm(CHANNEL, {"c1": started.seq})

    b.sleep = a_records_its_send_meanwhile
    taken = await b.take(text("c1", "4"))
    assert not any(NOT_SHOWN in reply.text for reply in taken.replies)
    assert await answers_of(database, "c1") == {"F1.1": 4}
    assert metrics.value(WAITS) == waits + 1


async def test_a_typed_answer_is_not_counted_when_the_other_process_never_records(database):
    clock = FakeClock()
    a, b = make_processor(database, clock), make_processor(database, clock)
    code = await make_code(database, await seed_catalog(database))
    await a.take(text("c2", f"/start {code}"))  # sent, perhaps: never recorded
    waits = metrics.value(WAITS)
    b.sleep = no_time
    taken = await b.take(text("c2", "4"))
    assert any(NOT_SHOWN in reply.text for reply in taken.replies)
    assert await answers_of(database, "c2") == {}
    assert metrics.value(WAITS) == waits + OTHER_SENDER_WAITS


async def test_the_owner_itself_never_waits(database):
    """One process (the usual case): its own unrecorded send is in memory, given as `sent`."""
    clock = FakeClock()
    a = make_processor(database, clock)
    code = await make_code(database, await seed_catalog(database))
    started = await a.take(text("c3", f"/start {code}"))
    waits = metrics.value(WAITS)
    await a.take(text("c3", "4"), started.seq)
    assert await answers_of(database, "c3") == {"F1.1": 4}
    assert metrics.value(WAITS) == waits
