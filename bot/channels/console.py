"""A chat in the terminal: the embedded default when no platform is configured.

Same handlers, same database as the real channels; choices are printed as
lines and answered by typing, as on Zalo.
"""

from __future__ import annotations

import asyncio
import sys
from typing import TextIO

from bot.channels import handle_and_reply, numbered_text, resend_pending
from bot.inbound import InboundProcessor
from handlers.messages import Inbound, InboundKind, Outbound

CHANNEL = "console"
CHAT_KEY = "console"


async def run_console(
    processor: InboundProcessor, stdin: TextIO | None = None, stdout: TextIO | None = None
) -> None:
    # The streams of the moment (not of import time), so a caller may have replaced them.
    stdin, stdout = stdin or sys.stdin, stdout or sys.stdout

    async def show(_chat_key: str, replies: list[Outbound]) -> None:
        for reply in replies:
            stdout.write(numbered_text(reply) + "\n\n")
        stdout.flush()

    await resend_pending(processor, CHANNEL, show)
    while True:
        line = await asyncio.to_thread(stdin.readline)
        if not line:
            return
        text = line.rstrip("\r\n")
        await handle_and_reply(processor, Inbound(CHANNEL, CHAT_KEY, InboundKind.TEXT, text), show)
