"""The delivery path's test parts: a fake channel adapter of ours (no network), an
injected sleep and clock, and the verbs of a process that crashes."""

from __future__ import annotations

import asyncio
import itertools

from sqlalchemy import select

from bot.channels.capabilities import Capabilities
from bot.database import Database
from bot.delivery import Delivery
from bot.inbound import InboundProcessor
from bot.models import Chat
from bot.reply_leases import LEASE
from handlers.messages import Inbound, InboundKind, Outbound
from tests.builders import FakeClock

CHANNEL = "zalo_bot"
ZALO_LIKE = Capabilities(buttons=0, files=False, max_text=2000)
_keys = itertools.count(1)


class Flaky(Exception):
    """A failure that may pass (a 5xx, a timeout)."""


class Refused(Exception):
    """A refusal that would repeat (blocked, outside the reply window)."""


class FakeAdapter:
    """A channel that records what it is given; failures and holds per chat on demand."""

    name = CHANNEL

    def __init__(self, capabilities: Capabilities = ZALO_LIKE):
        self.capabilities = capabilities
        self.sent: list[tuple[str, list[str]]] = []
        self.failures: dict[str, list[Exception]] = {}
        self.holds: dict[str, asyncio.Event] = {}
        self.chores: list[tuple[str, object]] = []

    async def deliver(self, chat_key: str, replies: list[Outbound], proactive: bool) -> None:
        hold = self.holds.get(chat_key)
        if hold is not None:
            await hold.wait()
        if self.failures.get(chat_key):
            raise self.failures[chat_key].pop(0)
        self.sent.append((chat_key, [reply.text for reply in replies]))

    def transient(self, error: Exception) -> bool:
        return isinstance(error, Flaky)

    async def chore(self, chat_key: str, chore: object) -> None:
        self.chores.append((chat_key, chore))

    def texts(self, chat_key: str) -> list[str]:
        return [text for key, texts in self.sent if key == chat_key for text in texts]


class FakeTime:
    """`sleep` that only moves `clock` on (and lets other tasks run), recording pauses."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)

    def clock(self) -> float:
        return self.now


def make_delivery(processor: InboundProcessor, adapter: FakeAdapter, time: FakeTime) -> Delivery:
    return Delivery(processor, adapter, sleep=time.sleep, clock=time.clock, settle_wait=0)


def text(chat_key: str, words: str) -> Inbound:
    return Inbound(CHANNEL, chat_key, InboundKind.TEXT, words, f"{CHANNEL}:{next(_keys)}")


async def chat_row(database: Database, chat_key: str) -> Chat:
    async with database.transaction() as session:
        chat = await session.scalar(select(Chat).where(Chat.chat_key == chat_key))
        assert chat is not None
        return chat


async def crashed(delivery: Delivery) -> None:
    """The process dies: sends under way are lost, notes are never recorded."""
    await delivery.drain(grace=0)


def past_the_lease(clock: FakeClock) -> None:
    clock.advance(seconds=LEASE.total_seconds() + 1)
