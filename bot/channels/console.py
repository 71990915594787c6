"""A chat in the terminal: the embedded default when no platform is configured.

Same handlers, same database and the same delivery path as the real channels;
choices are printed as lines and answered by typing, as on Zalo Bot.
"""

from __future__ import annotations

import asyncio
import sys
from typing import TextIO

from bot.channels.capabilities import Capabilities
from bot.delivery import Delivery
from bot.inbound import InboundProcessor
from handlers.messages import Inbound, InboundKind, Outbound

CHANNEL = "console"
CHAT_KEY = "console"
CAPABILITIES = Capabilities(buttons=0, files=False, max_text=100_000)


class ConsoleAdapter:
    name = CHANNEL
    capabilities = CAPABILITIES

    def __init__(self, stdout: TextIO):
        self.stdout = stdout

    async def deliver(self, chat_key: str, replies: list[Outbound], proactive: bool) -> None:
        for reply in replies:
            self.stdout.write(reply.text + "\n\n")
        self.stdout.flush()

    def transient(self, error: Exception) -> bool:
        return False

    async def chore(self, chat_key: str, chore: object) -> None:
        return None


async def run_console(
    processor: InboundProcessor, stdin: TextIO | None = None, stdout: TextIO | None = None
) -> None:
    # The streams of the moment (not of import time), so a caller may have replaced them.
    stdin, stdout = stdin or sys.stdin, stdout or sys.stdout
    delivery = Delivery(processor, ConsoleAdapter(stdout))
    await delivery.start()
    try:
        while True:
            await delivery.drain()  # the answer is on screen before the next line is read
            line = await asyncio.to_thread(stdin.readline)
            if not line:
                return
            text = line.rstrip("\r\n")
            await delivery.take(Inbound(CHANNEL, CHAT_KEY, InboundKind.TEXT, text))
    finally:
        await delivery.stop()
