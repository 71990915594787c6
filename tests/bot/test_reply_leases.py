"""Several bot processes on one database: each a `Database` engine of its own, with its
own inbound path (a random owner id), delivery path and sweeper. A process that dies
simply stops: its sends never happen and its confirmer never runs again."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest

from bot.database import Database
from bot.delivery import Delivery
from bot.inbound import InboundProcessor
from handlers.messages import Inbound, InboundKind
from tests.builders import FakeClock, make_code, make_processor, seed_catalog
from tests.delivery_helpers import (
    CHANNEL,
    FakeAdapter,
    FakeTime,
    Refused,
    chat_row,
    crashed,
    make_delivery,
    past_the_lease,
    text,
)


@dataclass
class Process:
    database: Database
    processor: InboundProcessor
    adapter: FakeAdapter
    delivery: Delivery


async def parked_sleep(seconds: float) -> None:
    await asyncio.Event().wait()


@pytest.fixture
async def processes(database: Database):
    """A factory of processes on the test's database, sharing one clock; disposed after."""
    clock = FakeClock()
    made: list[Database] = []

    def start(parked: bool = False) -> Process:
        """`parked`: its confirmer and sweeper loops wait for ever (a test calls them)."""
        engine = Database(database.url)
        made.append(engine)
        processor = make_processor(engine, clock)
        adapter = FakeAdapter()
        delivery = make_delivery(processor, adapter, FakeTime())
        if parked:
            delivery.tick = parked_sleep
        return Process(engine, processor, adapter, delivery)

    start.clock = clock  # type: ignore[attr-defined]
    yield start
    for engine in made:
        await engine.dispose()


async def begun(process: Process, chat: str, code: str) -> None:
    """The chat started a survey through this process and saw question 1."""
    await process.delivery.take(text(chat, code))
    await process.delivery.drain()
    await process.delivery.flush()
    assert "Câu 1/29" in process.adapter.texts(chat)[-1]


async def answered_and_died(process: Process, chat: str) -> None:
    """The chat answers question 1; the process commits question 2 and dies unsent."""
    process.adapter.holds[chat] = asyncio.Event()
    await process.delivery.take(text(chat, "5"))
    await crashed(process.delivery)


async def test_a_dead_owners_reply_is_sent_once_by_another_process_after_its_lease(
    database, processes
):
    code = await make_code(database, await seed_catalog(database))
    a, b = processes(), processes()
    await begun(a, "c1", code)
    await answered_and_died(a, "c1")
    assert await b.delivery.sweep() == 0  # A's lease still runs: B cannot tell it is dead
    past_the_lease(processes.clock)
    assert await b.delivery.sweep() == 1
    assert await b.delivery.sweep() == 0
    await b.delivery.drain()
    await b.delivery.flush()
    assert len(b.adapter.texts("c1")) == 1 and "Câu 2/29" in b.adapter.texts("c1")[0]
    row = await chat_row(database, "c1")
    assert row.delivered_seq == row.reply_seq and row.reply_lease_until is None
    past_the_lease(processes.clock)
    assert await b.delivery.sweep() == 0 and len(b.adapter.sent) == 1


async def test_an_owner_alive_but_slow_keeps_its_chats_for_as_long_as_it_lives(database, processes):
    code = await make_code(database, await seed_catalog(database))
    a, b = processes(), processes()
    await begun(a, "c1", code)
    a.adapter.holds["c1"] = asyncio.Event()  # Telegram is slow today
    await a.delivery.take(text("c1", "5"))
    for _ in range(3):
        past_the_lease(processes.clock)
        await a.delivery.flush()  # A's confirmer, each second, renews its lease
        assert await b.delivery.sweep() == 0
    a.adapter.holds["c1"].set()
    await a.delivery.drain()
    await a.delivery.flush()
    assert b.adapter.sent == [] and "Câu 2/29" in a.adapter.texts("c1")[-1]
    past_the_lease(processes.clock)
    assert await b.delivery.sweep() == 0


async def test_a_newer_commit_supersedes_before_the_claim_and_between_claim_and_send(
    database, processes
):
    catalog = await seed_catalog(database)
    a, b, c = processes(), processes(), processes()
    await begun(a, "before", await make_code(database, catalog))
    await begun(a, "between", await make_code(database, catalog))
    await answered_and_died(a, "before")
    await answered_and_died(a, "between")
    past_the_lease(processes.clock)
    # Before the claim: the citizen of "before" writes /start through C, which answers.
    await c.delivery.take(text("before", "/start"))
    await c.delivery.drain()
    # Between B's claim and B's send: "between" is answered by C too.
    claimed = await b.processor.claim_lost_replies(CHANNEL, 10)
    assert [item.chat_key for item in claimed] == ["between"]  # "before" is C's now
    await c.delivery.take(text("between", "/start"))
    await c.delivery.drain()
    assert b.delivery.queue_claimed(claimed) == 1
    await b.delivery.drain()
    assert b.adapter.sent == []  # question 2 is no longer current: never sent again
    for chat in ("before", "between"):
        assert "Câu 2/29" in c.adapter.texts(chat)[-1]  # C's reply: the current question
    await c.delivery.flush()
    past_the_lease(processes.clock)
    assert await b.delivery.sweep() == 0


async def test_a_restart_sends_nothing_a_live_process_holds_and_its_own_lost_once(
    database, processes
):
    catalog = await seed_catalog(database)
    a, b = processes(), processes()
    await begun(a, "a-chat", await make_code(database, catalog))
    await begun(b, "b-chat", await make_code(database, catalog))
    a.adapter.holds["a-chat"] = asyncio.Event()
    await a.delivery.take(text("a-chat", "5"))  # A, alive, still sending it
    await answered_and_died(b, "b-chat")
    restarted = processes(parked=True)  # B again: a new process, a new owner
    await restarted.delivery.start()
    assert await restarted.delivery.sweep() == 0  # B's old lease runs yet, A's is renewed
    past_the_lease(processes.clock)
    await a.delivery.flush()
    assert await restarted.delivery.sweep() == 1  # B's own lost reply, not A's chat
    await restarted.delivery.stop()
    assert {key for key, _ in restarted.adapter.sent} == {"b-chat"}
    a.adapter.holds["a-chat"].set()
    await a.delivery.stop()
    questions = [t[:8] for t in a.adapter.texts("a-chat") if t.startswith("Câu ")]
    assert questions == ["Câu 1/29", "Câu 2/29"]  # each once
    assert await a.processor.pending_replies(CHANNEL) == []


async def test_concurrent_sweepers_share_the_dead_owners_chats_without_overlap(database, processes):
    code = await make_code(database, await seed_catalog(database), single_use=False)
    a = processes()
    chats = [f"c{number}" for number in range(30)]
    for chat in chats:
        await begun(a, chat, code)
    for chat in chats:
        a.adapter.holds[chat] = asyncio.Event()
        await a.delivery.take(text(chat, "5"))
    await crashed(a.delivery)
    past_the_lease(processes.clock)
    sweepers = [processes() for _ in range(3)]
    claimed = await asyncio.gather(*(s.processor.claim_lost_replies(CHANNEL, 12) for s in sweepers))
    keys = [item.chat_key for batch in claimed for item in batch]
    assert sorted(keys) == sorted(chats) and len(set(keys)) == len(keys)
    assert max(len(batch) for batch in claimed) <= 12


async def test_a_clean_stop_hands_what_it_could_not_send_to_the_others_at_once(database, processes):
    code = await make_code(database, await seed_catalog(database))
    a, b = processes(), processes()
    await begun(a, "c1", code)
    a.adapter.failures["c1"] = [Refused("Telegram refused it")]
    await a.delivery.take(text("c1", "5"))
    await a.delivery.stop()
    assert await b.delivery.sweep() == 1  # no lease to wait out
    await b.delivery.drain()
    assert "Câu 2/29" in b.adapter.texts("c1")[0]


async def test_a_press_on_a_question_the_dead_process_sent_supersedes_its_re_send(
    database, processes
):
    """The restart took longer than the lease; the press the platform delivers again
    comes before the first sweep, and proves question 2 arrived: it is not sent again."""
    code = await make_code(database, await seed_catalog(database))
    a, b = processes(), processes(parked=True)
    await begun(a, "c1", code)
    [second] = await a.delivery.take(text("c1", "5"))
    await a.delivery.drain()  # question 2 arrived; A dies before recording it
    await crashed(a.delivery)
    past_the_lease(processes.clock)
    await b.delivery.start()
    press = next(c.payload for c in second.choices if c.payload.endswith(".4"))
    await b.delivery.take(Inbound(CHANNEL, "c1", InboundKind.BUTTON, press, "zalo_bot:p1"))
    assert await b.delivery.sweep() == 0
    await b.delivery.stop()
    assert len(b.adapter.texts("c1")) == 1 and "Câu 3/29" in b.adapter.texts("c1")[0]


async def test_a_process_that_claims_back_its_own_chat_sends_its_reply_once(database, processes):
    """Its renewals failed for longer than the lease (the database was away) while its
    own worker was still sending: its sweep takes the chat back, and sends nothing twice."""
    code = await make_code(database, await seed_catalog(database))
    a = processes()
    await begun(a, "c1", code)
    a.adapter.holds["c1"] = asyncio.Event()
    await a.delivery.take(text("c1", "5"))
    past_the_lease(processes.clock)  # no renewal meanwhile
    assert await a.delivery.sweep() == 1
    a.adapter.holds["c1"].set()
    await a.delivery.drain()
    assert sum("Câu 2/29" in t for t in a.adapter.texts("c1")) == 1
