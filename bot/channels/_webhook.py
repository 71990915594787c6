"""What the three chat webhooks share at their boundary.

Each route authenticates first (a secret header or a signature, on bytes and in
constant time), then reads a bounded body, parses it with `bot.boundary.parse_json`
and validates it with a strict model built from the types here. An authentic
update the bot cannot use (an unknown event, an unexpected shape) is acknowledged
with 2xx and counted, never refused: a refusal would make the platform deliver it
again for ever. Only a database that cannot commit (`is_unavailable`) answers 503.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot import metrics
from bot.boundary import SafeText, describe_errors
from bot.database import is_unavailable
from bot.logs import describe

log = logging.getLogger(__name__)

MAX_ID = 2**53  # exact in every JSON parser; Telegram's ids have at most 52 bits
MAX_KEY_LENGTH = 64  # chats.chat_key
MAX_EVENT_LENGTH = 48  # update keys are channel:event:id, at most 128 characters

# A platform's id of a chat, a user or a message: a non-empty string or a whole number,
# bounded; never null, a list, a boolean or a float.
PlatformId = SafeText(MAX_KEY_LENGTH, min_length=1) | Annotated[int, Field(ge=0, lt=MAX_ID)]
EventName = SafeText(MAX_EVENT_LENGTH, min_length=1)


class Payload(BaseModel):
    """Strict types (no coercion), unknown fields ignored: platforms add fields."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


def validate(model: type[BaseModel], data: Any, channel: str) -> Any | None:
    """`data` as `model`, or None (counted, logged without values) when it does not fit."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        unusable(channel, "; ".join(describe_errors(error)[:3]))
        return None


def unusable(channel: str, reason: str) -> None:
    metrics.increment(f"{channel}_webhook_unusable_total")
    log.warning("%s: an authentic update the bot cannot use was acknowledged (%s)", channel, reason)


def ignored(channel: str) -> None:
    """An update that is well formed but not for the survey (a group, a follow, …)."""
    metrics.increment(f"{channel}_webhook_ignored_total")


def failed(channel: str, error: BaseException) -> web.Response | None:
    """The answer when applying an update raised: 503 if the database is unavailable (the
    platform delivers it again); otherwise None, the update being handled like a handler
    failure (logged, counted, acknowledged) so it is not redelivered for ever."""
    if is_unavailable(error):
        log.warning("%s: the database is unavailable; the platform will retry", channel)
        return web.Response(status=503, text="try again")
    metrics.increment(f"{channel}_webhook_failed_total")
    log.error("%s: applying an update failed: %s", channel, describe(error))
    return None
