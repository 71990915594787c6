"""Button payloads of the survey: `kind.nonce.target[.value]`, made and read here only.

The kind says what the button picks (an answer, an agency, a service); the nonce is the
session's, so a button of an earlier session changes nothing; the target is the
question's step or the offered row's id, so a button of an earlier question is stale
too; an answer's value is the option's value or `s` (skip). A payload comes back from
the platform as any text may: numbers are read as ASCII digits exactly, and anything
else reads as no payload at all.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.boundary import ascii_int

ANSWER, AGENCY, SERVICE = "a", "g", "v"
SKIP = "s"
_PARTS = {ANSWER: 4, AGENCY: 3, SERVICE: 3}


@dataclass(frozen=True)
class Payload:
    kind: str  # ANSWER, AGENCY or SERVICE
    target: int  # the step answered, or the id of the agency or service picked
    value: str | None = None  # answers only: the option's value as sent, or SKIP


def answer(nonce: str, step: int, value: int | str) -> str:
    return f"{ANSWER}.{nonce}.{step}.{value}"


def agency(nonce: str, agency_id: int) -> str:
    return f"{AGENCY}.{nonce}.{agency_id}"


def service(nonce: str, service_id: int) -> str:
    return f"{SERVICE}.{nonce}.{service_id}"


def number(part: str, max_digits: int = 9) -> int | None:
    """A number inside a payload: ASCII digits exactly, no spaces around them."""
    return ascii_int(part, max_digits) if part == part.strip() else None


def parse(payload: str, nonce: str) -> Payload | None:
    """The payload of a button of the session with ``nonce``; None for anything else."""
    parts = payload.split(".")
    kind = parts[0]
    if len(parts) != _PARTS.get(kind) or parts[1] != nonce:
        return None
    target = number(parts[2])
    if target is None:
        return None
    return Payload(kind, target, parts[3] if kind == ANSWER else None)
