"""Channel adapters: translate platform updates to `Inbound` and `Outbound` back.

Each platform module offers `build(settings, processor, web_app) -> Channel | None`
(None when its settings leave it off); the composition root lists them
(`bot.cli.compose.CHANNEL_BUILDERS`). `build` may add webhook routes to the
project's aiohttp application before the server starts; `start` begins
receiving (a polling task, or registering the webhook) and first re-sends the
replies a crash may have lost; `stop` ends it cleanly. Sending, its order, retries
and confirmation are the one delivery path's (bot.delivery); an adapter gives it
`deliver`, `transient`, `chore` and its `capabilities`.

A channel whose platform limits proactive messages (Zalo OA: a free reply window
after the user's last message) also answers `can_reach(chat_key, replies)`, without
spending anything; the outbox asks it (`can_reach` below) and routes a notice
elsewhere at once when the answer is no. A channel without it can reach any chat
that has not blocked the bot (learnt from the platform's refusal).
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from handlers.messages import Outbound

log = logging.getLogger(__name__)


class Channel(Protocol):
    name: str

    async def start(self) -> None: ...

    async def send(self, chat_key: str, replies: list[Outbound]) -> None:
        """Deliver replies to a chat; proactive senders (the outbox) use this too."""

    async def stop(self) -> None: ...


async def can_reach(channel: Any, chat_key: str, replies: list[Outbound]) -> bool:
    """Whether `channel` can deliver these replies to the chat now (see the docstring).

    A question that fails is no answer: True, and the send itself will tell.
    """
    ask = getattr(channel, "can_reach", None)
    if ask is None:
        return True
    try:
        return bool(await ask(chat_key, replies))
    except Exception as error:  # noqa: BLE001 - the send is tried; its failure is handled
        log.warning(
            "%s: asking whether a chat is reachable failed (%s)", channel.name, type(error).__name__
        )
        return True
