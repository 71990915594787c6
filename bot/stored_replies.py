"""A chat's last replies as JSON text, kept on its row so a crash cannot lose them.

Only what a reply says is stored (text, choices, instruction, columns), never bytes:
an image or file is rendered after the commit from its description. Each stored
field has one codec in `_CODECS`; a new `Outbound` field worth keeping is one entry
more, and a stored list without it still decodes (the field's default).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from handlers.messages import Choice, Instruction, Outbound


@dataclass(frozen=True)
class _Codec:
    encode: Callable[[Any], Any]
    decode: Callable[[Any], Any]


def _same(value: Any) -> Any:
    return value


def _instruction(value: Any) -> Instruction | None:
    return None if value is None else Instruction(**value)


def _instruction_fields(value: Instruction | None) -> dict[str, str] | None:
    if value is None:
        return None
    return {"buttons": value.buttons, "typed": value.typed, "partial": value.partial}


_CODECS: dict[str, _Codec] = {
    "text": _Codec(_same, _same),
    "choices": _Codec(
        lambda choices: [[c.label, c.payload] for c in choices],
        lambda pairs: tuple(Choice(label, payload) for label, payload in pairs),
    ),
    "instruction": _Codec(_instruction_fields, _instruction),
    "columns": _Codec(_same, _same),
}


def encode(replies: list[Outbound]) -> str:
    items = [
        {name: c.encode(getattr(reply, name)) for name, c in _CODECS.items()} for reply in replies
    ]
    return json.dumps(items, ensure_ascii=False)


def decode(stored: str | None) -> list[Outbound]:
    if not stored:
        return []
    return [
        Outbound(**{name: _CODECS[name].decode(v) for name, v in item.items() if name in _CODECS})
        for item in json.loads(stored)
    ]
