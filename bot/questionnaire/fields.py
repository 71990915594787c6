"""The checked scalars of a questionnaire file: ids, translations, languages, labels.

Each raises a `problem` (a pydantic error carrying its finished sentence), so that
`load.py` can tell it as written here; see `schema.py` for where they are used.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Annotated, Any

from pydantic import BeforeValidator, ValidationInfo
from pydantic_core import PydanticCustomError

from bot.questionnaire.model import MAX_ID_LENGTH, Aggregation
from bot.textnorm import fold

_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_NUMBER_PATTERN = re.compile(r"[0-9]+")


def problem(kind: str, message: str, at: tuple[Any, ...] | None = None) -> PydanticCustomError:
    """A schema error with a finished message; ``at`` overrides the location pydantic has."""
    # The message is passed as context, not as the template, so braces in a label stay.
    return PydanticCustomError(kind, "{message}", {"message": message, "at": at})


def _join(values: Iterable[str]) -> str:
    return ", ".join(values)


def is_identifier(value: Any) -> bool:
    """An id the database can store and a person can type: what `Identifier` accepts."""
    return (
        isinstance(value, str)
        and _ID_PATTERN.fullmatch(value) is not None
        and len(value) <= MAX_ID_LENGTH
    )


def _identifier(value: Any) -> str:
    if not isinstance(value, str) or not _ID_PATTERN.fullmatch(value):
        raise problem(
            "identifier",
            f"must be letters, digits, '.', '_' or '-' (quote it in YAML), got {value!r}",
        )
    if len(value) > MAX_ID_LENGTH:
        raise problem("identifier", f"{value!r} is longer than {MAX_ID_LENGTH} characters")
    return value


def _translations(value: Any, info: ValidationInfo) -> dict[str, str]:
    """Exactly the file's languages, each a non-empty text (trimmed)."""
    languages: tuple[str, ...] = (info.context or {}).get("languages", ())
    if not isinstance(value, Mapping):
        raise problem("translation", f"expected translations {_join(languages)}, got {value!r}")
    for lang in value:
        if lang not in languages:
            raise problem(
                "translation", f"unknown language {lang!r} (languages are {_join(languages)})"
            )
    result: dict[str, str] = {}
    for lang in languages:
        text = value.get(lang)
        if text is None or (isinstance(text, str) and not text.strip()):
            raise problem("translation", f"missing {lang!r} translation")
        if not isinstance(text, str):
            raise problem(
                "translation", f"{lang!r} translation must be text (quote it in YAML), got {text!r}"
            )
        result[lang] = text.strip()
    return result


def _languages(value: Any) -> list[str]:
    if not isinstance(value, list) or not value:
        raise problem("languages", "'languages' must be a non-empty list, e.g. [vi, en]")
    for lang in value:
        if not isinstance(lang, str) or not lang:
            raise problem("languages", f"languages: bad language code {lang!r}")
    if len(set(value)) != len(value):
        raise problem("languages", "languages: a language is listed twice")
    if value[0] != "vi":
        raise problem("languages", "languages: 'vi' is required and must come first")
    return value


def _source(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise problem("source", "'source' must be text naming where the wording comes from")
    return value.strip()


def _aggregation(value: Any) -> Aggregation:
    """The rule by its name (or its first name); only text, as pydantic's own enum
    validation would also take bytes."""
    try:
        if isinstance(value, str):
            return Aggregation(value)
    except ValueError:
        pass
    raise problem(
        "aggregation",
        f"unknown aggregation {value!r} (expected one of: {_join(Aggregation)})",
    )


AggregationRule = Annotated[Aggregation, BeforeValidator(_aggregation)]
Identifier = Annotated[str, BeforeValidator(_identifier)]
Translations = Annotated[dict[str, str], BeforeValidator(_translations)]
Languages = Annotated[list[str], BeforeValidator(_languages)]
Source = Annotated[str, BeforeValidator(_source)]


def check_labels(
    labelled: Iterable[tuple[int, Mapping[str, str]]],
    extra: Mapping[int, frozenset[str]] | None = None,
) -> None:
    """Every label must be matchable when typed: it has letters or digits, is not a bare
    number, and differs from every other value's label once case and accents are ignored."""
    owner: dict[str, tuple[int, str]] = {}
    for value, words in (extra or {}).items():
        for word in words:
            owner[word] = (value, word)
    for value, labels in labelled:
        for label in labels.values():
            folded = fold(label)
            if not folded:
                raise problem("label", f"label {label!r} has no letters or digits")
            if _NUMBER_PATTERN.fullmatch(folded):
                raise problem(
                    "label", f"label {label!r} is a bare number, confusable with an option number"
                )
            other = owner.setdefault(folded, (value, label))
            if other[0] != value:
                raise problem(
                    "label",
                    f"labels {other[1]!r} (value {other[0]}) and {label!r} (value {value}) "
                    "are the same once case and accents are ignored",
                )
