"""Replies sent after the commit (used by the Zalo channels): order, and what is confirmed."""

from __future__ import annotations

import asyncio

from bot import metrics
from bot.channels._after_commit import REPLY_QUEUE_LIMIT, AfterCommit
from bot.database import Database
from handlers.messages import Inbound, InboundKind, Outbound
from tests.builders import TRANSLATOR, make_code, make_processor, seed_catalog

NOT_SHOWN = TRANSLATOR("vi", "question_not_shown")


def text(chat: str, words: str, key: str) -> Inbound:
    return Inbound("zalo_bot", chat, InboundKind.TEXT, words, key)


async def test_a_delivery_never_confirms_the_replies_of_a_later_message(database: Database):
    catalog = await seed_catalog(database)
    code = await make_code(database, catalog)
    processor = make_processor(database)
    sent: list[list[Outbound]] = []
    release, second_sending = asyncio.Event(), asyncio.Event()

    async def send(chat_key: str, replies: list[Outbound]) -> None:
        sent.append(replies)
        if len(sent) == 1:  # while the first replies go out, the next answer is committed
            async with after.slot("c1") as deliver:
                deliver(await processor.process(text("c1", "5", "k2")))
        else:
            second_sending.set()
            await release.wait()  # … and the process dies before its replies are sent

    after = AfterCommit(processor, "zalo_bot", send)
    async with after.slot("c1") as deliver:
        deliver(await processor.process(text("c1", code, "k1")))
    await asyncio.wait_for(second_sending.wait(), 5)
    [pending] = await processor.pending_replies("zalo_bot")
    # "5" came before question 1 had gone through: refused, question 1 is still owed.
    assert "Câu 1/29" in pending.replies[-1].text
    release.set()
    await after.drain()
    assert await processor.pending_replies("zalo_bot") == []
    assert "Câu 1/29" in sent[0][-1].text
    assert [sent[1][0].text, "Câu 1/29" in sent[1][-1].text] == [NOT_SHOWN, True]


async def test_replies_keep_their_order_and_a_failed_one_stays_pending(database: Database):
    catalog = await seed_catalog(database)
    code = await make_code(database, catalog)
    processor = make_processor(database)
    order: list[str] = []
    first_goes_out = asyncio.Event()

    async def send(chat_key: str, replies: list[Outbound]) -> None:
        if len(order) == 0:
            await first_goes_out.wait()  # the first delivery is slow …
        order.append((replies[0] if len(order) else replies[-1]).text.splitlines()[0])
        if len(order) == 3:
            raise ConnectionError("platform down")

    after = AfterCommit(processor, "zalo_bot", send)
    for key, words in (("k1", code), ("k2", "5"), ("k3", "4")):
        async with after.slot("c1") as deliver:  # … but the later ones wait for it
            deliver(await processor.process(text("c1", words, key)))
    async with after.slot("c1"):
        pass  # a message that failed to commit releases its place empty
    assert order == []
    first_goes_out.set()
    await after.drain()
    # The answers came before question 1 went out: each is refused and it is asked again.
    assert order == ["Câu 1/29", NOT_SHOWN, NOT_SHOWN]
    [pending] = await processor.pending_replies("zalo_bot")
    assert "Câu 1/29" in pending.replies[-1].text


async def test_a_flooding_chat_keeps_a_bounded_queue_and_never_holds_up_another(
    database: Database,
):
    """The replies are given (nothing to process); the flooding chat's sending is held."""
    sent: dict[str, list[str]] = {"flood": [], "calm": []}
    release = asyncio.Event()

    async def send(chat_key: str, replies: list[Outbound]) -> None:
        if chat_key == "flood":
            await release.wait()  # the platform is slow for this chat
        sent[chat_key].append(replies[-1].text)

    after = AfterCommit(make_processor(database), "zalo_bot", send)
    before = metrics.value("zalo_bot_replies_dropped_total")
    flood = 10 * REPLY_QUEUE_LIMIT
    for number in range(flood):
        async with after.slot("flood") as deliver:
            deliver([Outbound(f"reply {number}")])
        await asyncio.sleep(0)  # as processing would: the worker takes the first one
    chat = after._chats["flood"]
    assert len(chat.waiting) == REPLY_QUEUE_LIMIT  # the first is being sent, 16 wait
    async with after.slot("calm") as deliver:
        deliver([Outbound("hello")])
    for _ in range(100):  # a few turns of the loop, the flood's sending still held
        if sent["calm"]:
            break
        await asyncio.sleep(0)
    assert sent["calm"] == ["hello"]  # not behind the flood
    release.set()
    await after.drain()
    dropped = flood - 1 - REPLY_QUEUE_LIMIT
    assert metrics.value("zalo_bot_replies_dropped_total") == before + dropped
    assert sent["flood"][0] == "reply 0" and sent["flood"][-1] == f"reply {flood - 1}"
    assert len(sent["flood"]) == 1 + REPLY_QUEUE_LIMIT  # the newest kept, in order
    assert sent["flood"] == sorted(sent["flood"], key=lambda t: int(t.split()[1]))
    assert after._chats == {}  # nothing kept once idle
