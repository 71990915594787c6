"""What every command module shares: its error, the shape of a command, the questionnaires.

A module of commands has `register(subparsers)`, which sets each command's `func`: an
`async (args, settings, database) -> exit status`. It stays light at import: a library
that only one command needs (PIL, segno, PTB, aiohttp, APScheduler, openpyxl,
matplotlib, fpdf) is imported inside that command, so `--help` and `migrate` never pay
for it.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from bot.questionnaire import Questionnaire
    from bot.settings import Settings


class Subparsers(Protocol):
    """What `register(subparsers)` is given: `add_subparsers()` of the main parser."""

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser: ...


class CommandParser(argparse.ArgumentParser):
    """The parser of `python -m bot` and of each of its commands, at every depth.

    A command registered with a `help` line and no `description` gets that line as its
    description, so that every `--help` says what its command does.
    """

    def add_subparsers(self, **kwargs: Any) -> _Commands:  # type: ignore[override]
        return _Commands(super().add_subparsers(**kwargs))


class _Commands:
    """`add_subparsers()` of a `CommandParser`: the same, with a description for each."""

    def __init__(self, action: Any) -> None:
        self._action = action

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser:
        if kwargs.get("help") and not kwargs.get("description"):
            help_line = kwargs["help"]
            kwargs["description"] = help_line[:1].upper() + help_line[1:] + "."
        return self._action.add_parser(name, **kwargs)


class UsageError(Exception):
    """A command was given something it cannot use; the message says what."""


def checked_questionnaires(settings: Settings) -> dict[str, Questionnaire]:
    """The shipped questionnaires, refusing a SURVEY_QUESTIONNAIRE that is not one of them."""
    from bot.questionnaire import load_questionnaires
    from bot.settings import ConfigError

    questionnaires = load_questionnaires()
    if settings.survey.questionnaire not in questionnaires:
        raise ConfigError(
            f"SURVEY_QUESTIONNAIRE: unknown questionnaire {settings.survey.questionnaire!r} "
            f"(available: {', '.join(sorted(questionnaires))})"
        )
    return questionnaires
