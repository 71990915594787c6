"""Logging that shows neither secrets nor what citizens wrote.

Assume the reader of the logs is anyone with access to the server. Three rules
hold at every level, DEBUG included:
- Libraries never log values: python-telegram-bot logs whole updates and every
  `sendMessage` payload at DEBUG, httpx logs Bot API URLs (which carry the token)
  at INFO, aiosqlite every statement's parameters. Their records below WARNING are
  dropped, and from WARNING up only their message template is kept, without its
  arguments.
- Exceptions are shown by type and place, never by message: a message carries
  values (`invalid literal for int(): '0912…'`, a row's parameters). That holds for
  tracebacks and for an exception passed as a log argument.
- The configured secrets are blanked wherever they still appear in a message.
"""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Iterable
from typing import IO, Any

# Loggers of this project: their messages are written with values chosen to be safe.
OWN_LOGGERS = ("bot", "handlers", "scoring", "migrations", "__main__")
# Libraries that are chatty below WARNING: raising their level saves formatting work too.
QUIET_LOGGERS = (
    "httpx",
    "httpcore",
    "telegram",
    "aiohttp",
    "sqlalchemy",
    "asyncpg",
    "aiosqlite",
    "alembic",
    "apscheduler",
    "asyncio",
    "matplotlib",
    "PIL",
    "fpdf",
    "fontTools",
)
WITHHELD = "[values withheld]"


def describe(error: BaseException) -> str:
    """An exception as its type and where it was raised, without its message.

    Only the type and the innermost frame of each exception in the chain are kept.
    """
    parts = []
    current: BaseException | None = error
    while current is not None and len(parts) < 5:
        frames = traceback.extract_tb(current.__traceback__)
        last = frames[-1] if frames else None
        where = f" at {last.filename.rsplit('/', 1)[-1]}:{last.lineno}" if last else ""
        parts.append(f"{type(current).__module__}.{type(current).__qualname__}{where}")
        current = current.__cause__ or current.__context__
    return " <- ".join(parts)


def _is_own(name: str) -> bool:
    return any(name == own or name.startswith(own + ".") for own in OWN_LOGGERS)


def _safe_arg(value: Any) -> Any:
    """An exception of ours keeps its message (written without values); others do not."""
    if isinstance(value, BaseException) and not _is_own(type(value).__module__):
        return describe(value)
    return value


class PrivacyFilter(logging.Filter):
    """Drops or strips library records and replaces exception arguments by their type."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not _is_own(record.name):
            if record.levelno < logging.WARNING:
                return False
            template = record.msg if isinstance(record.msg, str) else type(record.msg).__name__
            record.msg = f"{template} {WITHHELD}" if record.args else template
            record.args = None
        elif isinstance(record.args, tuple):
            record.args = tuple(_safe_arg(arg) for arg in record.args)
        elif isinstance(record.args, dict):
            record.args = {key: _safe_arg(arg) for key, arg in record.args.items()}
        return True


class ValueFreeFormatter(logging.Formatter):
    """Tracebacks with every frame but each exception's message left out."""

    def formatException(self, ei: Any) -> str:  # noqa: N802 - logging's name
        _, error, _ = ei
        if error is None:
            return ""
        chain: list[BaseException] = []
        current: BaseException | None = error
        while current is not None and current not in chain and len(chain) < 10:
            chain.append(current)
            current = current.__cause__ or current.__context__
        blocks = []
        for item in reversed(chain):
            frames = "".join(traceback.format_list(traceback.extract_tb(item.__traceback__)))
            name = f"{type(item).__module__}.{type(item).__qualname__}"
            blocks.append(f"Traceback (most recent call last):\n{frames}{name}: {WITHHELD}")
        return "\nDuring handling, another exception occurred:\n".join(blocks)


class SecretRedactor(logging.Filter):
    """Blanks the configured secrets (tokens may also be added at run time) in a record."""

    def __init__(self, secrets: Iterable[str]):
        super().__init__()
        self.secrets = sorted({s for s in secrets if s and len(s) >= 6}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        redacted = message
        for secret in self.secrets:
            redacted = redacted.replace(secret, "[secret]")
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def configure_logging(
    level: str, secrets: Iterable[str] = (), stream: IO[str] | None = None
) -> None:
    """Send every record to `stream` (stderr) through the privacy and secret filters."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(ValueFreeFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(PrivacyFilter())
    handler.addFilter(SecretRedactor(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLevelName(level)))
