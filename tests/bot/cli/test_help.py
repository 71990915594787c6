"""Every command documents itself: `--help` of each one, at every depth, exits 0 with a
description; and the command line stays light, so `--help` and `migrate` start fast."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from bot.cli import main

HEADINGS = re.compile(r"^(positional arguments|options|[a-z][a-z /()-]*):$", re.M)


def help_of(capsys, path: tuple[str, ...]) -> str:
    with pytest.raises(SystemExit) as stopped:
        main([*path, "--help"])
    assert stopped.value.code == 0, path
    return capsys.readouterr().out


def subcommands(text: str) -> list[str]:
    """The choices of the command's sub-command argument, read from its usage line."""
    usage = text.split("\n\n", 1)[0]
    found = re.search(r"\{([a-z0-9,-]+)\}\s+\.\.\.", usage)  # not an option's choices
    return found.group(1).split(",") if found else []


def description(text: str) -> str:
    """What the help says between its usage and its first list of arguments."""
    after_usage = text.split("\n\n", 1)[1] if "\n\n" in text else ""
    heading = HEADINGS.search(after_usage)
    return (after_usage[: heading.start()] if heading else after_usage).strip()


def test_every_command_has_a_help_with_a_description(capsys):
    seen = []
    pending: list[tuple[str, ...]] = [()]
    while pending:
        path = pending.pop()
        text = help_of(capsys, path)
        assert description(text), f"`python -m bot {' '.join(path)} --help` has no description"
        seen.append(" ".join(path))
        pending += [(*path, name) for name in subcommands(text)]
    # The walk reached the commands of every module, at every depth.
    for command in ("run", "migrate", "codes create", "codes qr", "responses publish"):
        assert command in seen
    assert "responses import" in seen and "responses template" in seen
    assert "agencies import" in seen and "sessions expire" in seen
    assert len(seen) > 40


def test_the_command_line_imports_no_heavy_library():
    heavy = ("PIL", "segno", "telegram", "aiohttp", "apscheduler", "matplotlib", "openpyxl")
    probe = (
        "import sys, bot.cli; bot.cli.build_parser(); "
        f"print(','.join(m for m in {heavy!r} if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == ""
