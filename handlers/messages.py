"""The channel-independent message types every adapter translates to and from.

An adapter turns a platform update into an `Inbound` and each `Outbound` back
into a platform call (inline keyboard, numbered text, …); handlers only ever
see these types, which is what lets a new channel cost one adapter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from bot.i18n import Translator
    from bot.questionnaire import Questionnaire
    from bot.settings import Settings


class InboundKind(StrEnum):
    TEXT = "text"
    BUTTON = "button"
    OTHER = "other"  # sticker, photo, voice, location…: nothing we can read


@dataclass(frozen=True)
class Inbound:
    """One thing a user sent. `update_key` is unique per platform delivery."""

    channel: str
    chat_key: str
    kind: InboundKind
    text: str = ""
    update_key: str | None = None
    language_hint: str | None = None


@dataclass(frozen=True)
class Choice:
    """A button: `label` is shown, `payload` comes back in an Inbound of kind BUTTON."""

    label: str
    payload: str


@dataclass(frozen=True)
class Instruction:
    """How to answer a reply's choices, worded for each way a channel can show them.

    The use case does not know the channel; the delivery path, which knows whether the
    channel has buttons and how many, appends the one line that is true there.
    """

    buttons: str  # every choice is a button
    typed: str  # no buttons: the choices are numbered lines to type back
    partial: str  # the first choices are buttons, the rest are listed to be typed


@dataclass(frozen=True)
class Outbound:
    """One reply. Channels without buttons render `choices` as numbered lines."""

    text: str
    choices: tuple[Choice, ...] = ()
    instruction: Instruction | None = None
    columns: int = 1
    image: bytes | None = None
    file_name: str | None = None
    file: bytes | None = None


@dataclass
class Context:
    """What a handler may use: the open transaction, the clock, settings and texts."""

    session: AsyncSession
    now: datetime
    settings: Settings
    questionnaires: dict[str, Questionnaire]
    translator: Translator
    # The chat's last reply is not known to have been sent (a failed or slow send):
    # the citizen may not have seen the question it carries.
    reply_unconfirmed: bool = False
