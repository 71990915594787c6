"""Channel adapters: translate platform updates to `Inbound` and `Outbound` back.

Each platform module offers `build(settings, processor, web_app) -> Channel | None`
(None when its settings leave it off). `build` may add webhook routes to the
project's aiohttp application before the server starts; `start` begins
receiving (a polling task, or registering the webhook) and first re-sends the
replies a crash may have lost; `stop` ends it cleanly.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from importlib import import_module
from typing import TYPE_CHECKING, Protocol

from bot.database import is_unavailable
from bot.logs import describe
from handlers.messages import Inbound, Outbound

if TYPE_CHECKING:
    from aiohttp import web

    from bot.inbound import InboundProcessor
    from bot.settings import Settings

log = logging.getLogger(__name__)

# "module:function" of every platform's builder, in start-up order.
CHANNEL_BUILDERS: list[str] = []
CHANNEL_BUILDERS.append("bot.channels.telegram:build")
CHANNEL_BUILDERS.append("bot.channels.zalo_bot:build")
CHANNEL_BUILDERS.append("bot.channels.zalo_oa:build")


class Channel(Protocol):
    name: str

    async def start(self) -> None: ...

    async def send(self, chat_key: str, replies: list[Outbound]) -> None:
        """Deliver replies to a chat; proactive senders (the outbox) use this too."""

    async def stop(self) -> None: ...


def build_channels(
    settings: Settings, processor: InboundProcessor, web_app: web.Application
) -> list[Channel]:
    channels = []
    for spec in CHANNEL_BUILDERS:
        module_name, _, function = spec.partition(":")
        channel = getattr(import_module(module_name), function)(settings, processor, web_app)
        if channel is not None:
            channels.append(channel)
    return channels


Send = Callable[[str, list[Outbound]], Awaitable[None]]


async def handle_and_reply(processor: InboundProcessor, inbound: Inbound, send: Send) -> None:
    """Apply one inbound message, send its replies after the commit, then confirm them.

    If sending fails the delivery is not confirmed, so the current question is
    sent again at the next start (the answer itself is already safe).
    """
    replies = await processor.process(inbound)
    if replies:
        await send(inbound.chat_key, replies)
        await processor.confirm_delivered(inbound.channel, inbound.chat_key)


async def resend_pending(processor: InboundProcessor, channel: str, send: Send) -> int:
    """Re-send the current question to chats whose last reply may have been lost.

    A chat that cannot be reached now (outside its free-reply window, blocked the
    bot, a failed call) is left pending and the others still get their question;
    only a lost database stops the round. Returns how many chats were reached.
    """
    pending = await processor.pending_replies(channel)
    reached = 0
    for item in pending:
        try:
            await send(item.chat_key, item.replies)
        except Exception as error:  # noqa: BLE001 - this chat stays pending, the rest go on
            if is_unavailable(error):
                raise
            log.warning(
                "%s: re-sending a lost reply to one chat failed (%s)", channel, describe(error)
            )
            continue
        await processor.confirm_delivered(channel, item.chat_key)
        reached += 1
    return reached


def instructed(reply: Outbound, buttons: int) -> str:
    """The reply's text with the instruction line true when ``buttons`` of its choices
    are shown as buttons (all of them, none, or the first few)."""
    instruction = reply.instruction
    if instruction is None or not reply.choices:
        return reply.text
    if buttons >= len(reply.choices):
        line = instruction.buttons
    elif buttons <= 0:
        line = instruction.typed
    else:
        line = instruction.partial
    return f"{reply.text}\n{line}" if line else reply.text


def numbered_text(reply: Outbound) -> str:
    """A reply for channels without buttons: the choices as lines to type back."""
    if not reply.choices:
        return reply.text
    lines = (f"   {choice.label}" for choice in reply.choices)
    return "\n".join([instructed(reply, 0), *lines])
