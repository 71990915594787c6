"""Channel adapters: translate platform updates to `Inbound` and `Outbound` back.

Each platform module offers `build(settings, processor, web_app) -> Channel | None`
(None when its settings leave it off); the composition root lists them
(`bot.cli.compose.CHANNEL_BUILDERS`). `build` may add webhook routes to the
project's aiohttp application before the server starts; `start` begins
receiving (a polling task, or registering the webhook) and first re-sends the
replies a crash may have lost; `stop` ends it cleanly. Sending, its order, retries
and confirmation are the one delivery path's (bot.delivery); an adapter gives it
`deliver`, `transient`, `chore` and its `capabilities`.
"""

from __future__ import annotations

from typing import Protocol

from handlers.messages import Outbound


class Channel(Protocol):
    name: str

    async def start(self) -> None: ...

    async def send(self, chat_key: str, replies: list[Outbound]) -> None:
        """Deliver replies to a chat; proactive senders (the outbox) use this too."""

    async def stop(self) -> None: ...
