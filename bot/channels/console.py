"""A chat in the terminal: the embedded default when no platform is configured.

Same handlers, same database as the real channels; choices are printed as
lines and answered by typing, as on Zalo.
"""

from __future__ import annotations

import asyncio
import sys
from typing import TextIO

from bot.inbound import InboundProcessor
from handlers.messages import Inbound, InboundKind, Outbound

CHANNEL = "console"
CHAT_KEY = "console"


def render(reply: Outbound) -> str:
    lines = [reply.text]
    lines.extend(f"   {choice.label}" for choice in reply.choices)
    return "\n".join(lines)


async def run_console(
    processor: InboundProcessor, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout
) -> None:
    def show(replies: list[Outbound]) -> None:
        for reply in replies:
            stdout.write(render(reply) + "\n\n")
        stdout.flush()

    for pending in await processor.pending_replies(CHANNEL):
        show(pending.replies)
    while True:
        line = await asyncio.to_thread(stdin.readline)
        if not line:
            return
        text = line.rstrip("\r\n")
        replies = await processor.process(Inbound(CHANNEL, CHAT_KEY, InboundKind.TEXT, text))
        show(replies)
        await processor.confirm_delivered(CHANNEL, CHAT_KEY)
