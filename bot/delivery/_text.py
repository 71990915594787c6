"""A reply shaped for what a channel can show: buttons, or numbered lines to type.

The use case gives choices and an `Instruction` worded for each way of showing them;
here the one line that is true on the channel is appended, and the choices that
cannot be buttons become lines. Adapters then send `text` as it is and make buttons
of `choices` (none left where the channel has no buttons).
"""

from __future__ import annotations

from dataclasses import replace

from bot.channels.capabilities import Capabilities
from handlers.messages import Outbound

# Beyond a channel's buttons, this many choices (a Likert question's "no opinion" and
# "skip") are listed to be typed under them; a longer list goes all as numbered text.
TYPED_EXTRAS = 2


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


def shaped(reply: Outbound, capabilities: Capabilities) -> Outbound:
    """The reply as the channel shows it: final text, and only the choices that are buttons."""
    choices = reply.choices
    if not choices:
        return replace(reply, instruction=None)
    buttons = capabilities.buttons
    if buttons >= len(choices):
        text, shown = instructed(reply, len(choices)), choices
    elif buttons <= 0 or len(choices) > buttons + TYPED_EXTRAS:
        text, shown = numbered_text(reply), ()
    else:
        typed = "\n".join(f"   {choice.label}" for choice in choices[buttons:])
        text, shown = f"{instructed(reply, buttons)}\n{typed}", choices[:buttons]
    return replace(reply, text=text, choices=tuple(shown), instruction=None)
