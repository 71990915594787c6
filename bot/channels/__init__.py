"""Channel adapters: translate platform updates to `Inbound` and `Outbound` back.

Each platform module offers `build(settings, processor, web_app) -> Channel | None`
(None when its settings leave it off). `build` may add webhook routes to the
project's aiohttp application before the server starts; `start` begins
receiving (a polling task, or registering the webhook) and first re-sends the
replies a crash may have lost; `stop` ends it cleanly. Sending, its order, retries
and confirmation are the one delivery path's (bot.delivery); an adapter gives it
`deliver`, `transient`, `chore` and its `capabilities`.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Protocol

from handlers.messages import Outbound

if TYPE_CHECKING:
    from aiohttp import web

    from bot.inbound import InboundProcessor
    from bot.settings import Settings

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
