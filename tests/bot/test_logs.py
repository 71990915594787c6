"""The log set-up itself: what a library or an exception says never carries a value."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager

from bot.logs import QUIET_LOGGERS, configure_logging, describe

CITIZEN = "Nguyễn Văn Planted 0912345678"


@contextmanager
def configured(level: str = "DEBUG", secrets: tuple[str, ...] = ()) -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    quiet = {name: logging.getLogger(name).level for name in QUIET_LOGGERS}
    buffer = io.StringIO()
    configure_logging(level, secrets, stream=buffer)
    try:
        yield buffer
    finally:
        root.handlers[:], level_before = saved
        root.setLevel(level_before)
        for name, old in quiet.items():
            logging.getLogger(name).setLevel(old)


def test_a_library_says_nothing_below_warning_even_at_debug():
    with configured() as output:
        logging.getLogger("telegram.ext.Application").debug("update %s", CITIZEN)
        logging.getLogger("some.unknown.library").info("payload %s", CITIZEN)
    assert output.getvalue() == ""


def test_a_library_warning_keeps_its_template_without_values():
    with configured() as output:
        logging.getLogger("aiohttp.server").warning("bad request from %s: %r", "x", CITIZEN)
    logged = output.getvalue()
    assert "bad request from %s: %r [values withheld]" in logged
    assert "Planted" not in logged


def test_own_records_keep_their_values_but_foreign_exceptions_only_their_type():
    with configured() as output:
        try:
            int(CITIZEN)
        except ValueError as error:
            logging.getLogger("bot.test").warning("parsing %d rows failed: %s", 3, error)
    logged = output.getvalue()
    assert "parsing 3 rows failed: builtins.ValueError at test_logs.py:" in logged
    assert "0912345678" not in logged


def test_tracebacks_show_frames_and_types_but_no_message():
    def fail() -> None:
        try:
            {}[CITIZEN]
        except KeyError:
            raise RuntimeError(f"while reading {CITIZEN}") from None

    with configured() as output:
        try:
            fail()
        except RuntimeError:
            logging.getLogger("bot.test").exception("handling failed")
    logged = output.getvalue()
    assert "handling failed" in logged
    assert "in fail" in logged and "builtins.RuntimeError: [values withheld]" in logged
    assert "Planted" not in logged and "0912345678" not in logged


def test_configured_secrets_are_blanked():
    with configured(secrets=("123456:SECRET-token",)) as output:
        logging.getLogger("bot.test").info("calling %s", "https://x/bot123456:SECRET-token/getMe")
    assert "SECRET-token" not in output.getvalue()
    assert "[secret]" in output.getvalue()


def test_describe_names_the_chain_without_messages():
    try:
        try:
            int("٣" * 5000)
        except ValueError as inner:
            raise LookupError(CITIZEN) from inner
    except LookupError as error:
        text = describe(error)
    assert text.startswith("builtins.LookupError at test_logs.py:")
    assert "<- builtins.ValueError" in text
    assert "Planted" not in text and "٣" not in text
