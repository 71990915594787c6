"""Survey start codes: short, unguessable, easy to type from a paper receipt.

Telegram deep links allow 64 characters of `A-Za-z0-9_-`; Zalo has no start
payload, so the citizen types the code as a message. The alphabet therefore
leaves out look-alikes (0/O, 1/I/L) and codes are matched case-insensitively,
ignoring spaces and dashes a person may add while copying. Creating codes is a write:
`handlers.survey.store.create_codes`.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime, time, tzinfo

from bot.clock import local_date

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
_CODE = re.compile(rf"^[{ALPHABET}]{{8,32}}$")


def new_code(length: int) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def normalise_code(raw: str) -> str | None:
    """The canonical form of a typed code, or None if it cannot be one.

    Only ASCII can be a code: `upper()` would turn "ſ" into "S" and "ﬀ" into "FF".
    """
    candidate = re.sub(r"[\s\-_.]", "", raw or "")
    if not candidate.isascii():
        return None
    candidate = candidate.upper()
    return candidate if _CODE.fullmatch(candidate) else None


def used_stamp(now: datetime, zone: tzinfo) -> datetime:
    """What a used single-use code keeps of when it was used: the start of that local day.

    The exact time would match the code, and through it the dossier, to the moment a
    survey was completed; the day is no finer than what a response itself records.
    """
    return datetime.combine(local_date(now, zone), time(), tzinfo=zone)


class CodeError(ValueError):
    """A code cannot be created as asked (unknown agency or service)."""
