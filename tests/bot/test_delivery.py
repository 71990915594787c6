"""The one delivery path, driven through a fake channel adapter of ours (no network)
and an injected sleep and clock, so that no test waits on the wall clock."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from sqlalchemy import event, select

from bot import metrics
from bot.channels.capabilities import Capabilities
from bot.database import AnnouncingSession, Database, is_unavailable
from bot.delivery import (
    CONFIRM_EVERY,
    RENEW_EVERY,
    REPLY_QUEUE_LIMIT,
    SWEEP_EVERY,
    Delivery,
    numbered_text,
    shaped,
)
from bot.inbound import CommitUncertain, InboundProcessor
from bot.models import Agency, Chat
from bot.reply_leases import LEASE
from bot.stored_replies import decode, encode
from handlers.messages import Choice, Instruction, Outbound
from handlers.survey.store import SurveyStore
from tests.builders import (
    TRANSLATOR,
    Catalog,
    FakeClock,
    make_code,
    make_processor,
)
from tests.builders import seed_catalog as seed
from tests.delivery_helpers import (
    CHANNEL,
    FakeAdapter,
    FakeTime,
    Flaky,
    Refused,
    chat_row,
    crashed,
    make_delivery,
    past_the_lease,
    text,
)
from tests.officials_helpers import invite, officials_settings, seed_agencies, vn

NOT_SHOWN = TRANSLATOR("vi", "question_not_shown")
RESUMED = TRANSLATOR("vi", "resumed")


async def answers_of(database: Database, chat_key: str) -> dict | None:
    async with database.transaction() as session:
        chat_id = await session.scalar(select(Chat.id).where(Chat.chat_key == chat_key))
        survey = await SurveyStore(session).active_session(chat_id)
        return None if survey is None else survey.answers


async def started(database: Database, delivery: Delivery, adapter: FakeAdapter, chat: str) -> None:
    """The chat has begun a survey and seen its first question."""
    async with database.transaction() as session:
        seeded = await session.scalar(select(Agency.id).limit(1)) is not None
    catalog = Catalog(0, 0) if seeded else await seed(database)  # make_code reads the codes
    code = await make_code(database, catalog)
    await delivery.take(text(chat, code))
    await delivery.drain()
    assert "Câu 1/29" in adapter.texts(chat)[-1]


# -- order, retries, what is refused ---------------------------------------------------------


async def test_replies_go_in_order_per_chat_and_a_slow_chat_holds_up_no_other(database):
    adapter, time = FakeAdapter(), FakeTime()
    delivery = make_delivery(make_processor(database), adapter, time)
    code = await make_code(database, await seed(database))
    adapter.holds["slow"] = asyncio.Event()
    await delivery.take(text("slow", code))
    await delivery.take(text("slow", "/back"))  # a command: taken, its reply waits
    await delivery.take(text("calm", "xin chào"))
    await asyncio.sleep(0)
    for _ in range(20):
        if adapter.texts("calm"):
            break
        await asyncio.sleep(0)
    assert adapter.texts("calm") and not adapter.texts("slow")  # not behind the slow chat
    adapter.holds["slow"].set()
    await delivery.drain()
    slow = adapter.texts("slow")
    first_question = next(i for i, t in enumerate(slow) if "Câu 1/29" in t)
    assert TRANSLATOR("vi", "back_first") in slow[first_question + 1 :]


async def test_a_send_failing_once_is_retried_and_the_answers_are_exactly_the_given_ones(
    database,
):
    adapter, time = FakeAdapter(), FakeTime()
    delivery = make_delivery(make_processor(database), adapter, time)
    await started(database, delivery, adapter, "c1")
    adapter.failures["c1"] = [Flaky("500")]  # the reply carrying question 2 fails once
    await delivery.take(text("c1", "5"))
    await delivery.drain()
    assert time.slept == [0.5] and "Câu 2/29" in adapter.texts("c1")[-1]
    await delivery.take(text("c1", "4"))  # the question went out: the answer counts
    await delivery.drain()
    assert "Câu 3/29" in adapter.texts("c1")[-1]
    assert await answers_of(database, "c1") == {"F1.1": 5, "F1.2": 4}
    assert metrics.value(f"{CHANNEL}_reply_retries_total") >= 1


async def test_a_refusal_is_not_retried_and_an_answer_typed_meanwhile_is_not_stored(database):
    adapter, time = FakeAdapter(), FakeTime()
    delivery = make_delivery(make_processor(database), adapter, time)
    await started(database, delivery, adapter, "c1")
    adapter.failures["c1"] = [Refused("blocked")]
    await delivery.take(text("c1", "5"))  # stored; question 2 never reaches the citizen
    await delivery.drain()
    assert time.slept == [] and "Câu 2/29" not in "".join(adapter.texts("c1"))
    # The citizen, seeing nothing, retypes an answer: it would land on question 2.
    await delivery.take(text("c1", "3"))
    await delivery.drain()
    assert adapter.texts("c1")[-2:][0] == NOT_SHOWN and "Câu 2/29" in adapter.texts("c1")[-1]
    assert await answers_of(database, "c1") == {"F1.1": 5}  # nothing stored for question 2
    await delivery.take(text("c1", "2"))  # now it was shown: stored
    await delivery.drain()
    assert await answers_of(database, "c1") == {"F1.1": 5, "F1.2": 2}


async def test_an_answer_right_after_the_send_is_taken_and_records_the_send_itself(database):
    """No confirmer has run: the sent note is applied in the answer's own transaction."""
    adapter, time = FakeAdapter(), FakeTime()
    delivery = make_delivery(make_processor(database), adapter, time)
    await started(database, delivery, adapter, "c1")
    before = await chat_row(database, "c1")
    assert before.delivered_seq < before.reply_seq  # sent, not yet recorded
    await delivery.take(text("c1", "5"))
    after = await chat_row(database, "c1")
    assert after.delivered_seq == before.reply_seq and after.reply_seq == before.reply_seq + 1
    assert await answers_of(database, "c1") == {"F1.1": 5}
    assert delivery._sent.get("c1") in (None, after.reply_seq)  # the old note is gone
    await delivery.drain()


async def test_the_confirmer_records_every_chat_in_one_batch_and_never_moves_back(database):
    adapter, time = FakeAdapter(), FakeTime()
    processor = make_processor(database)
    delivery = make_delivery(processor, adapter, time)
    for chat in ("a", "b", "c"):
        await delivery.take(text(chat, "xin chào"))
    await delivery.drain()
    assert await delivery.flush() == 3
    assert [len(await processor.pending_replies(CHANNEL))] == [0]
    await processor.record_delivered(CHANNEL, {"a": 0})  # an older note changes nothing
    assert (await chat_row(database, "a")).delivered_seq == 1
    assert await delivery.flush() == 0  # nothing noted since


async def test_a_flooding_chat_keeps_a_bounded_queue_and_the_newest_reply(database):
    adapter, time = FakeAdapter(), FakeTime()
    processor = make_processor(database, flood_messages=1000)
    delivery = make_delivery(processor, adapter, time)
    adapter.holds["flood"] = asyncio.Event()
    before = metrics.value(f"{CHANNEL}_replies_dropped_total")
    flood = 3 * REPLY_QUEUE_LIMIT
    for number in range(flood):
        await delivery.take(text("flood", f"xin chào {number}"))
    assert len(delivery._chats["flood"].waiting) == REPLY_QUEUE_LIMIT
    adapter.holds["flood"].set()
    await delivery.drain()
    assert (
        metrics.value(f"{CHANNEL}_replies_dropped_total") == before + flood - 1 - REPLY_QUEUE_LIMIT
    )
    assert len([key for key, _ in adapter.sent if key == "flood"]) == 1 + REPLY_QUEUE_LIMIT
    await delivery.flush()
    assert await processor.pending_replies(CHANNEL) == []  # the newest confirms them all
    assert delivery._chats == {}  # nothing kept once idle


# -- after a crash ---------------------------------------------------------------------------


async def test_after_a_crash_only_chats_with_unconfirmed_replies_get_a_resend_once(database):
    clock, adapter, time = FakeClock(), FakeAdapter(), FakeTime()
    delivery = make_delivery(make_processor(database, clock), adapter, time)
    for chat in ("done", "noted", "lost"):
        await started(database, delivery, adapter, chat)
    await delivery.take(text("done", "5"))
    await delivery.take(text("noted", "5"))
    await delivery.drain()
    await delivery.flush()  # both recorded ...
    await delivery.take(text("noted", "4"))  # ... then "noted" is sent, never recorded
    await delivery.drain()
    adapter.holds["lost"] = asyncio.Event()
    await delivery.take(text("lost", "5"))  # committed, the send never finishes
    await crashed(delivery)

    restarted = FakeAdapter()
    again = make_delivery(make_processor(database, clock), restarted, time)
    assert await again.sweep() == 0  # the dead process's leases still run
    past_the_lease(clock)
    assert await again.sweep() == 2
    assert await again.sweep() == 0  # claimed: not twice
    await again.drain()
    await again.flush()
    assert {key for key, _ in restarted.sent} == {"noted", "lost"}
    # The stored replies as they were: the answer's question 2, no "resumed" line.
    assert len(restarted.texts("lost")) == 1 and "Câu 2/29" in restarted.texts("lost")[0]
    assert RESUMED not in restarted.texts("lost")[0]
    assert "Câu 3/29" in restarted.texts("noted")[-1]
    past_the_lease(clock)
    assert await again.sweep() == 0  # confirmed: nothing later
    assert (await chat_row(database, "lost")).reply_lease_until is None
    assert await answers_of(database, "lost") == {"F1.1": 5}


async def test_an_officials_reply_lost_in_a_crash_is_sent_by_the_sweeper(database):
    await seed_agencies(database)
    code = await invite(database, agency="DNAI-STP", now=vn(2026, 11, 20))
    settings = officials_settings(database)
    clock = FakeClock(vn(2026, 11, 23, 10))

    def processor() -> InboundProcessor:
        return make_processor(database, clock, settings)

    adapter, time = FakeAdapter(), FakeTime()
    delivery = make_delivery(processor(), adapter, time)
    await delivery.take(text("off", f"/register {code}"))
    await delivery.drain()
    adapter.holds["off"] = asyncio.Event()
    [scores] = await delivery.take(text("off", "/scores 2026-11"))
    await crashed(delivery)
    assert scores.text.startswith("Chỉ số hài lòng")

    restarted = FakeAdapter()
    again = make_delivery(processor(), restarted, time)
    past_the_lease(clock)
    assert await again.sweep() == 1
    await again.drain()
    assert restarted.texts("off") == [scores.text]


async def test_sweeping_goes_on_past_a_chat_that_cannot_be_reached(database):
    clock, adapter, time = FakeClock(), FakeAdapter(), FakeTime()
    delivery = make_delivery(make_processor(database, clock), adapter, time)
    for chat in ("x", "y", "z"):
        adapter.holds[chat] = asyncio.Event()
        await delivery.take(text(chat, "xin chào"))
    await crashed(delivery)
    restarted = FakeAdapter()
    restarted.failures["y"] = [Refused("outside the reply window")]
    processor = make_processor(database, clock)
    again = make_delivery(processor, restarted, time)
    past_the_lease(clock)
    assert await again.sweep() == 3
    await again.drain()
    await again.flush()
    assert {key for key, _ in restarted.sent} == {"x", "z"}
    assert [p.chat_key for p in await processor.pending_replies(CHANNEL)] == ["y"]
    # Refused, it stays this live process's (renewed by its confirmer): no loop of tries.
    past_the_lease(clock)
    await again.flush()
    assert await again.sweep() == 0
    assert (await chat_row(database, "y")).reply_owner == processor.owner


async def test_start_confirms_in_the_background_and_stop_records_what_was_sent(database):
    adapter, time = FakeAdapter(), FakeTime()
    processor = make_processor(database)
    parked = asyncio.Event()

    async def sleep(seconds: float) -> None:  # the confirmer waits until the test says
        await parked.wait()

    delivery = Delivery(processor, adapter, tick=sleep, clock=time.clock, settle_wait=0)
    await delivery.start()
    await delivery.take(text("s1", "xin chào"))
    await delivery.drain()
    assert len(await processor.pending_replies(CHANNEL)) == 1
    await delivery.stop()
    assert await processor.pending_replies(CHANNEL) == []


async def test_the_confirmer_records_sends_each_round_and_renews_leases_every_tenth(database):
    """Sends are recorded at the next round (a tenth of a second: a killed process re-sends
    little); a lease held by a send under way is renewed every RENEW_EVERY only."""
    clock, adapter, time = FakeClock(), FakeAdapter(), FakeTime()
    processor = make_processor(database, clock)
    rounds: asyncio.Queue[None] = asyncio.Queue()
    done = asyncio.Event()

    async def tick(seconds: float) -> None:  # one round each time the test lets one go
        assert seconds in (CONFIRM_EVERY, SWEEP_EVERY)
        if seconds == SWEEP_EVERY:
            await asyncio.Event().wait()  # no sweeps here
        done.set()
        await rounds.get()

    async def run_rounds(count: int) -> None:
        for _ in range(count):
            done.clear()
            rounds.put_nowait(None)
            await done.wait()

    delivery = Delivery(processor, adapter, tick=tick, clock=time.clock, settle_wait=0)
    await delivery.take(text("quick", "xin chào"))
    adapter.holds["slow"] = asyncio.Event()
    await delivery.take(text("slow", "xin chào"))  # its send waits: its lease is held
    await delivery.start(confirm_every=CONFIRM_EVERY)  # the PostgreSQL cadence, on both
    await asyncio.sleep(0)
    leased = (await chat_row(database, "slow")).reply_lease_until
    clock.advance(seconds=5)
    await run_rounds(1)
    quick = await chat_row(database, "quick")
    assert quick.delivered_seq == quick.reply_seq and quick.reply_lease_until is None
    await run_rounds(round(RENEW_EVERY / CONFIRM_EVERY) - 2)
    assert (await chat_row(database, "slow")).reply_lease_until == leased  # not yet
    await run_rounds(1)
    renewed = (await chat_row(database, "slow")).reply_lease_until
    assert renewed == clock.now + LEASE
    adapter.holds["slow"].set()
    await delivery.stop()


# -- shaping and storing ----------------------------------------------------------------------


def test_replies_are_shaped_for_the_channels_buttons():
    instruction = Instruction("Bấm một nút.", "Gõ số.", "Bấm hoặc gõ.")
    choices = tuple(Choice(f"{n}. L{n}", f"a.ff.0.{n}") for n in range(7))
    reply = Outbound("Câu hỏi", choices, instruction)
    every = shaped(reply, Capabilities(100, True, 4096))
    assert every.text == "Câu hỏi\nBấm một nút." and every.choices == choices
    assert every.instruction is None
    none = shaped(reply, Capabilities(0, False, 2000))
    assert none.text == numbered_text(reply) and none.choices == ()
    assert none.text.splitlines()[1] == "Gõ số."
    some = shaped(reply, Capabilities(5, False, 2000))
    assert some.text.splitlines()[:2] == ["Câu hỏi", "Bấm hoặc gõ."]
    assert some.text.splitlines()[2:] == ["   5. L5", "   6. L6"] and len(some.choices) == 5
    assert shaped(Outbound("Chào"), Capabilities(0, False, 10)).text == "Chào"


def test_stored_replies_keep_what_a_reply_says_and_no_bytes():
    instruction = Instruction("b", "t", "p")
    reply = Outbound("Câu 1", (Choice("1. Có", "a.x.0.1"),), instruction, 2, image=b"\x89PNG")
    [back] = decode(encode([reply, Outbound("Cảm ơn")]))[:1]
    assert back == Outbound("Câu 1", (Choice("1. Có", "a.x.0.1"),), instruction, 2)
    assert decode(None) == [] and "PNG" not in encode([reply])


class Forbidden(Exception):
    """Named like PTB's: the citizen blocked the bot (Telegram 403)."""


async def test_a_blocked_reply_marks_the_chat_unreachable_until_it_writes_again(database):
    adapter, time = FakeAdapter(), FakeTime()
    delivery = make_delivery(make_processor(database), adapter, time)
    await started(database, delivery, adapter, "c1")
    adapter.failures["c1"] = [Forbidden("bot was blocked by the user")]
    await delivery.take(text("c1", "5"))
    await delivery.drain()
    assert (await chat_row(database, "c1")).unreachable_at is not None
    await delivery.take(text("c1", "4"))  # it writes again: it unblocked the bot
    await delivery.drain()
    assert (await chat_row(database, "c1")).unreachable_at is None


# -- a commit whose connection broke ---------------------------------------------------------


@contextlib.contextmanager
def connection_breaks(when: str):
    """The next transaction's connection breaks at `when`: "after_commit" (the database
    holds it, the bot is told it failed) or "before_commit" (nothing is stored)."""
    armed = [True]

    def broken(session) -> None:
        if armed[0]:
            armed[0] = False
            raise ConnectionResetError("connection reset by peer")

    event.listen(AnnouncingSession, when, broken)
    try:
        yield
    finally:
        event.remove(AnnouncingSession, when, broken)


@pytest.mark.parametrize("when", ["after_commit", "before_commit"])
async def test_a_commit_whose_connection_broke_gets_its_reply_once(database, when):
    """The platform delivers the answer again: found applied (the commit landed), its
    replies are sent once the confirmer finds them stored; found new, it is applied and
    answered as usual. Either way the next question comes once, and no reply is left
    leased and renewed for ever."""
    adapter, time = FakeAdapter(), FakeTime()
    delivery = make_delivery(make_processor(database), adapter, time)
    await started(database, delivery, adapter, "c1")
    answer = text("c1", "4")
    with connection_breaks(when), pytest.raises(CommitUncertain) as raised:
        await delivery.take(answer)
    assert is_unavailable(raised.value)  # the webhook answers 503
    assert await delivery.take(answer) == [] or when == "before_commit"  # redelivered
    await delivery.drain()
    await delivery.flush()
    await delivery.drain()
    await delivery.flush()
    assert sum("Câu 2/29" in sent for sent in adapter.texts("c1")) == 1, adapter.texts("c1")
    assert await answers_of(database, "c1") == {"F1.1": 4}
    row = await chat_row(database, "c1")
    assert row.delivered_seq == row.reply_seq and row.reply_lease_until is None
    assert await delivery.flush() == 0  # settled: nothing left to ask
