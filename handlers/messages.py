"""The channel-independent message types every adapter translates to and from.

An adapter turns a platform update into an `Inbound` and each `Outbound` back
into a platform call (inline keyboard, numbered text, …); handlers only ever
see these types, which is what lets a new channel cost one adapter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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


Cell = str | int | float | bool | None


@dataclass(frozen=True)
class ChartAttachment:
    """A bar chart as data: what this period and the one before scored, and the target.

    Every text is already in the reader's language; drawing it (`bot.rendering`) needs
    nothing else, so a use case builds this inside its transaction for nothing and the
    PNG is drawn after the commit. `fallback` is the line sent where files cannot go
    (a signed link, or why there is none).
    """

    title: str
    labels: tuple[str, ...]  # one per group of bars
    current: tuple[float, ...]
    current_low: tuple[float, ...]  # error bars, as distances below and above
    current_high: tuple[float, ...]
    annotations: tuple[str, ...]  # the value written above each current bar
    previous: tuple[float, ...]
    current_label: str
    previous_label: str
    target: float
    target_label: str
    y_label: str
    file_name: str
    fallback: str


# Number formats a `Sheet` gives its columns (moved here from bot.rendering.workbook, so that
# describing a workbook needs no renderer). Excel and LibreOffice write them with the
# reader's own separators: 66,08 and 1.539 on a Vietnamese system, 66.08 and 1,539 on an
# English one. The cells hold plain numbers.
PERCENT = "0.00"
COUNT = "#,##0"


@dataclass(frozen=True)
class Sheet:
    """One worksheet: a bold header row, then plain values; `formats` are (column, format)
    pairs, and `typed_column` a column formatted by each cell's type (counts, percents)."""

    name: str
    headers: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    formats: tuple[tuple[int, str], ...] = ()
    typed_column: int | None = None


@dataclass(frozen=True)
class WorkbookAttachment:
    """An Excel workbook as data (its sheets' rows), written after the commit."""

    sheets: tuple[Sheet, ...]
    file_name: str
    fallback: str


@dataclass(frozen=True)
class StoredFile:
    """A file rendered earlier and kept (a digest's): sent as it is, or `fallback`."""

    content: bytes
    image: bool  # shown as a picture, else a document named `file_name`
    file_name: str
    fallback: str


Attachment = ChartAttachment | WorkbookAttachment | StoredFile


@dataclass(frozen=True)
class Outbound:
    """One reply. Channels without buttons render `choices` as numbered lines.

    A use case sets `attachment` (a description); `bot.rendering.prepare` turns it into
    `image` or `file` bytes after the commit, or into a line of text where the channel
    cannot carry files. Adapters only ever see `image` / `file`.
    """

    text: str
    choices: tuple[Choice, ...] = ()
    instruction: Instruction | None = None
    columns: int = 1
    image: bytes | None = None
    file_name: str | None = None
    file: bytes | None = None
    attachment: Attachment | None = None


@dataclass
class Rendered:
    """An outbox message's content, ready to go by any route (chat, ZNS or the counter)."""

    replies: list[Outbound]
    zns_fields: dict[str, str] = field(default_factory=dict)
    counter_fallback: bool = False  # may be handed over at the counter if unreachable
    # (channel, chat key) for messages to someone other than a dossier's citizen (an
    # official's digest): sent there, or failed if that channel is not running.
    chat: tuple[str, str] | None = None


@dataclass(frozen=True)
class Withheld:
    """An outbox message that must not go now: at `until`, or never (None: cancelled,
    counted with its `reason`), e.g. a reminder at night or after the citizen came back."""

    reason: str
    until: datetime | None = None


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
