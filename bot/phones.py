"""Vietnamese phone numbers: the one normaliser behind dossiers, imports and ZNS.

A number is stored and sent as 84 followed by the national number without its
leading 0, the form ZNS wants. Mobile national numbers have 9 digits (3x, 5x, 7x,
8x, 9x), landlines 10 (2x…). Only ASCII digits count: `str.isdigit` also accepts
"¹" and "٣", which would store a number nobody can dial. A phone number is personal
data, so the error never repeats it.
"""

from __future__ import annotations

import re

_SEPARATORS = re.compile(r"[\s.\-()]")
_DIGITS = re.compile(r"[0-9]+")
# Longer than any way of writing a Vietnamese number with separators.
MAX_WRITTEN_LENGTH = 32


class PhoneNumberError(ValueError):
    """Not a Vietnamese phone number (the message never repeats it)."""

    def __init__(self) -> None:
        super().__init__("not a Vietnamese phone number (expected 0… or +84…)")


def normalise_phone(raw: str) -> str:
    """`raw` as 84 and the national number; PhoneNumberError if it is not one.

    Accepts what people write: "0912 345 678", "+84 912.345.678", "0084912345678",
    "84912345678", "+84 (0)912-345-678".
    """
    if not isinstance(raw, str) or len(raw) > MAX_WRITTEN_LENGTH:
        raise PhoneNumberError()
    digits = _SEPARATORS.sub("", raw)
    if digits.startswith("+"):
        digits = digits[1:]
    elif digits.startswith("00"):
        digits = digits[2:]
    if not _DIGITS.fullmatch(digits):
        raise PhoneNumberError()
    if digits.startswith("84") and len(digits) >= 11:
        national = digits[2:].removeprefix("0")  # "+84 (0)912…" as some write it
    elif digits.startswith("0"):
        national = digits[1:]
    else:
        raise PhoneNumberError()
    mobile = len(national) == 9 and national[0] in "35789"
    landline = len(national) == 10 and national[0] == "2"
    if not (mobile or landline):
        raise PhoneNumberError()
    return "84" + national
