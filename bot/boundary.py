"""What every entry point shares to refuse hostile input before it reaches the code.

The order is always: authenticate, read a body of bounded size, parse JSON of
bounded depth, then validate with a strict typed model (pydantic) built from the
field types below. A value that fails is refused with a reason that names the
field and never repeats the value (it may be a citizen's name or phone number).
Nothing here coerces: an object is not a string, `true` is not a code, `"²"` is
not a digit.
"""

from __future__ import annotations

import hmac
import json
import re
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, StrictStr, StringConstraints, ValidationError

# JSON nested deeper than any payload we accept is refused before it is parsed, so
# neither the parser nor a validator can run out of stack.
MAX_JSON_DEPTH = 32

# Dates a real record can carry: anything outside is a typo or an attack, and would
# overflow date arithmetic near year 1 or 9999.
EARLIEST = date(2000, 1, 1)
LATEST = date(2100, 12, 31)

_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_ASCII_INT = re.compile(r"[0-9]+")


class BoundaryError(ValueError):
    """A request refused at the boundary: an HTTP status and a reason safe to show."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


def json_depth(body: bytes) -> int:
    """The deepest nesting of arrays and objects in `body`, ignoring brackets in strings."""
    skeleton = _JSON_STRING.sub(b'""', body).translate(None, _NOT_BRACKETS)
    depth = deepest = 0
    for byte in skeleton:
        if byte in b"[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > MAX_JSON_DEPTH:
                    break
        else:
            depth -= 1
    return deepest


def parse_json(body: bytes, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """The JSON value of `body`; BoundaryError 400 if it is not UTF-8 JSON of bounded depth."""
    if json_depth(body) > max_depth:
        raise BoundaryError(400, f"JSON nested deeper than {max_depth} levels")
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BoundaryError(400, "body is not UTF-8 JSON") from None


def ascii_int(text: str, max_digits: int = 9) -> int | None:
    """`text` as a whole number when it is 1 to `max_digits` ASCII digits, else None.

    `str.isdigit` accepts "²" and other digits `int()` refuses or reads differently,
    and an unbounded string of digits is an attack on `int()` itself.
    """
    stripped = text.strip()
    if len(stripped) > max_digits or not _ASCII_INT.fullmatch(stripped):
        return None
    return int(stripped)


def check_text(value: str) -> str:
    """Refuse what no database stores safely: NUL (PostgreSQL) and lone surrogates (UTF-8)."""
    if "\x00" in value:
        raise ValueError("contains a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("is not valid Unicode text") from None
    return value


def SafeText(max_length: int, min_length: int = 0) -> Any:  # noqa: N802 - reads as a type
    """A strict string (never coerced from numbers, lists or booleans), stripped and bounded."""
    return Annotated[
        StrictStr,
        StringConstraints(strip_whitespace=True, min_length=min_length, max_length=max_length),
        AfterValidator(check_text),
    ]


def _in_window(day: date) -> date:
    if not EARLIEST <= day <= LATEST:
        raise ValueError(f"must be between {EARLIEST.year} and {LATEST.year}")
    return day


def _aware_in_window(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("needs a time zone")
    # The local date is checked before any conversion: converting a moment near year 1
    # or 9999 with an offset would overflow.
    _in_window(moment.date())
    return moment


def _not_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("must not be a boolean")
    return value


SaneDate = Annotated[date, AfterValidator(_in_window)]
SaneDateTime = Annotated[datetime, AfterValidator(_aware_in_window)]
StrictCount = Annotated[int, BeforeValidator(_not_bool)]


def describe_errors(error: ValidationError, prefix: str = "") -> list[str]:
    """Pydantic's errors as "field: reason" lines, never echoing the rejected value."""
    reasons = []
    for item in error.errors(include_input=False, include_url=False):
        where = ".".join(str(part) for part in item["loc"]) or "record"
        message = item["msg"]
        if message.startswith("Value error, "):
            message = message.removeprefix("Value error, ")
        reasons.append(f"{prefix}{where}: {message}")
    return reasons


def ascii_header(value: str | None, max_length: int = 1024) -> bytes | None:
    """A header's value as bytes when it is printable ASCII of bounded length, else None.

    aiohttp decodes header bytes as UTF-8 with surrogateescape, so a non-UTF-8 byte
    arrives as a lone surrogate that `.encode()` refuses: such a value, and any
    non-ASCII one, is simply not a credential.
    """
    if value is None or len(value) > max_length or not value.isascii():
        return None
    return value.strip().encode("ascii")


def secret_equals(given: str | None, expected: str | bytes) -> bool:
    """`given` (a header) equals the secret, compared in constant time on bytes."""
    raw = ascii_header(given)
    wanted = expected.encode() if isinstance(expected, str) else expected
    return raw is not None and bool(wanted) and hmac.compare_digest(raw, wanted)
