"""`python -m bot …` run in-process: `bot.cli.main(argv)` with its own environment, working
folder, standard streams and logging, all put back afterwards.

A subprocess costs about a second of imports per command; the in-process run goes
through the same `main` (settings read from the environment and `.env`, migration,
exit status, messages on stderr). Only tests that need a real process (a signal, a
kill, several processes at once) still start one.
"""

from __future__ import annotations

import io
import logging
import os
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot import cli
from bot.logs import QUIET_LOGGERS
from bot.settings import Settings


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


def _settings_variable(name: str) -> bool:
    """Whether the environment variable `name` would be read by `load_settings`."""
    lowered = name.lower()
    for field, info in Settings.model_fields.items():
        section = info.annotation
        prefix = getattr(section, "model_config", {}).get("env_prefix") if section else None
        if prefix and lowered.startswith(prefix.lower()):
            return True
        if lowered == field:
            return True
    return False


def run_cli(
    cwd: Path, *argv: str, env: dict[str, str] | None = None, stdin: str | None = None
) -> Result:
    """`main(argv)` in `cwd`, with no setting from the machine's environment but `env`."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    saved_quiet = {name: logging.getLogger(name).level for name in QUIET_LOGGERS}
    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if _settings_variable(name):
                patch.delenv(name)
        for name, value in (env or {}).items():
            patch.setenv(name, value)
        patch.chdir(cwd)
        patch.setattr("sys.stdin", io.StringIO(stdin or ""))
        try:
            with redirect_stdout(out), redirect_stderr(err):
                code = cli.main(list(argv))
        finally:
            root.handlers[:] = saved_handlers
            root.setLevel(saved_level)
            for name, level in saved_quiet.items():
                logging.getLogger(name).setLevel(level)
    return Result(code, out.getvalue(), err.getvalue())
