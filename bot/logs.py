"""Logging that never shows secrets.

httpx logs every request URL at INFO, and Bot API URLs contain the bot token,
so its logger is raised to WARNING; on top of that every record passes a filter
that blanks the configured secrets wherever they appear.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterable

# aiosqlite logs every statement with its parameters (citizens' words) at DEBUG.
QUIET_LOGGERS = ("httpx", "httpcore", "alembic", "apscheduler", "aiosqlite", "asyncio")


def describe(error: BaseException) -> str:
    """An exception as its type and where it was raised, without its message.

    Messages carry values (`invalid literal for int(): '0912…'`, a row's parameters),
    and values may be a citizen's words, so only the type and the innermost frame of
    each exception in the chain are kept.
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


class SecretRedactor(logging.Filter):
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
        if record.exc_info and record.exc_text is None:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            for secret in self.secrets:
                record.exc_text = record.exc_text.replace(secret, "[secret]")
        return True


def configure_logging(level: str, secrets: Iterable[str] = ()) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(SecretRedactor(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLevelName(level)))
