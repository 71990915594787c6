"""The survey: a citizen's conversation from a start code or a search to a stored response.

The face, for the rest of the bot (the router, `bot.inbound`, officials' commands, the
test harnesses): `handle` applies a message;
`readable` and `split_command` read a message the way the survey does; `position` and
`next_step` say where a respondent is; `expire_idle_sessions` ends forgotten sessions.

Public modules, imported by name: `codes` (start codes, pure), `store` (every query of
the survey: `store` itself for the conversation and start codes, `store.responses` the
one write path of completed responses, `store.rollups` the counting that reports reuse,
`store.pool` the holding pool), `publication` (publishing the pool: the job and the
command), `forms_import` (paper forms), `reminders` (the one reminder of a survey left
unfinished: the job and its outbox renderer). The `_modules` are private: `_conversation`
(the flow), `_arrival` (code, agency, service), `_turn` (one message's state),
`_kinds` (question kinds as strategies), `_payloads` (button payloads), `_answers`
(typed replies).

The names are loaded on first use: the dossiers feature imports `codes`, and the
conversation imports the dossiers' linking, so an eager face would make the two features
depend on which of them is imported first.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from handlers.survey._conversation import handle, readable, split_command
    from handlers.survey._kinds import next_step, position
    from handlers.survey.store import expire_idle_sessions

_HOMES = {
    "handle": "_conversation",
    "readable": "_conversation",
    "split_command": "_conversation",
    "position": "_kinds",
    "next_step": "_kinds",
    "expire_idle_sessions": "store",
}

__all__ = [
    "expire_idle_sessions",
    "handle",
    "next_step",
    "position",
    "readable",
    "split_command",
]


def __getattr__(name: str) -> object:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value
