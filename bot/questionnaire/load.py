"""Reading questionnaire files: YAML in, a `Questionnaire` or one `QuestionnaireError` out.

A typo in a file must stop the bot at start-up with a message an official can act on,
so pydantic's error (a location and a type) is told back in the file's own terms:
``sipas-2017.yaml: question F1.1: text: missing 'en' translation``. Only the first
problem is told, as the one to fix first.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from bot.questionnaire.fields import is_identifier
from bot.questionnaire.model import (
    MAX_OPTION_VALUE,
    QUESTIONNAIRE_DIR,
    Factor,
    Option,
    Question,
    QuestionKind,
    Questionnaire,
    QuestionnaireError,
)
from bot.questionnaire.schema import (
    KIND_SPECS,
    ChoiceSpec,
    FactorSpec,
    GateSpec,
    LikertSpec,
    OptionSpec,
    QuestionnaireSpec,
    QuestionSpec,
    ScaleSpec,
    TextSpec,
    validate,
)


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that rejects a key repeated in one mapping (PyYAML keeps the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        self.flatten_mapping(node)
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:  # unhashable key: the base class reports it
                continue
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
        return super().construct_mapping(node, deep=deep)


# ------------------------------------------------------------- telling the problem

_QUESTION_KEYS = tuple(
    dict.fromkeys(
        ["id", "kind", *QuestionSpec.model_fields]
        + [key for spec in KIND_SPECS.values() for key in spec.model_fields]
    )
)
_SECTION_KEYS: dict[str, tuple[str, ...]] = {
    "top": tuple(QuestionnaireSpec.model_fields),
    "scale": tuple(ScaleSpec.model_fields),
    "factor": tuple(FactorSpec.model_fields),
    "question": _QUESTION_KEYS,
    "option": tuple(OptionSpec.model_fields),
}
_LIST_WORDING = {
    "options": "'options' must be a list",
    "levels": "'levels' must be a list",
    "factors": "'factors' must be a non-empty list",
    "questions": "'questions' must be a non-empty list",
    "skip_if_no": "bad skip rule: skip_if_no must be a non-empty list of question ids",
}


_KEY_ERRORS = ("extra_forbidden", "invalid_key")


def _join(values: Iterable[str]) -> str:
    return ", ".join(values)


def _item(node: Any, key: str, index: int) -> Any:
    items = node.get(key) if isinstance(node, dict) else None
    return items[index] if isinstance(items, list) and index < len(items) else None


class _Place:
    """Where an error is, in the file's words: ``question gender: option 2``."""

    def __init__(self, loc: tuple[Any, ...], data: Any, of_key: bool) -> None:
        """``of_key``: the last step of ``loc`` is a key (missing or unknown), not a place."""
        if len(loc) > 2 and loc[0] == "questions" and loc[2] in KIND_SPECS:
            loc = loc[:2] + loc[3:]  # the union's tag is not a place in the file
        self.names: list[str] = []
        self.section, self.node, at = "top", data, 0
        if len(loc) > 1 and loc[0] in ("questions", "factors") and isinstance(loc[1], int):
            self.section = "question" if loc[0] == "questions" else "factor"
            self.node = _item(data, loc[0], loc[1])
            ident = self.node.get("id") if isinstance(self.node, dict) else None
            named = ident if is_identifier(ident) else f"#{loc[1] + 1}"
            self.names.append(f"{self.section} {named}")
            at = 2
        elif loc[:1] == ("scale",) and (len(loc) > 1 or not of_key):
            self.section, self.node, at = "scale", data.get("scale"), 1
            self.names.append("scale")
        if (
            self.section in ("question", "scale")
            and len(loc) > at + 1
            and loc[at] in ("options", "levels")
            and isinstance(loc[at + 1], int)
        ):
            noun = "option" if loc[at] == "options" else "level"
            self.node = _item(self.node, loc[at], loc[at + 1])
            value = self.node.get("value") if isinstance(self.node, dict) else None
            by_value = (
                loc[at + 2 : at + 3] == ("label",)
                and type(value) is int
                and 1 <= value <= MAX_OPTION_VALUE
            )
            self.names.append(f"{noun} {value}" if by_value else f"{noun} #{loc[at + 1] + 1}")
            self.section = "option"
            at += 2
        self.rest = loc[at:]
        self.field = next((step for step in reversed(self.rest) if isinstance(step, str)), None)


def _unknown_key(place: _Place, key: Any) -> str:
    if place.section == "question" and isinstance(place.node, dict):
        kind = place.node.get("kind", QuestionKind.LIKERT.value)
        if key == "skip_if_no":
            return (
                "bad skip rule: skip_if_no is only allowed on gate questions, "
                f"not on a {kind} question"
            )
        owners = [str(k) for k, spec in KIND_SPECS.items() if key in spec.model_fields]
        if owners:
            return f"{key!r} applies to {'/'.join(owners)} questions, not to {kind}"
    hint = difflib.get_close_matches(str(key), _SECTION_KEYS[place.section], n=1)
    suffix = f" (did you mean {hint[0]!r}?)" if hint else ""
    return f"unknown key {key!r}{suffix}"


def _problem(error: ErrorDetails, place: _Place) -> str:
    """The sentence for one error; it may add the field to ``place.names``."""
    kind, given, field = error["type"], error.get("input"), place.field
    ctx = error.get("ctx") or {}
    if "message" in ctx:  # one of the schema's own
        if kind == "identifier":
            noun = {"top": "questionnaire"}.get(place.section, place.section)
            return f"{noun} id {ctx['message']}"
        if kind == "translation":
            place.names.append(str(field))
        return str(ctx["message"])
    if kind == "missing":
        return f"missing {field!r}"
    if kind == "extra_forbidden":
        return _unknown_key(place, place.rest[-1])
    if kind == "invalid_key":  # a key that is not text, e.g. a number
        return _unknown_key(place, given)
    if kind == "bool_type":
        return f"{field!r} must be true or false, got {given!r}"
    if field == "value" and kind == "int_type":
        return f"value must be a whole number, got {given!r}"
    if field == "value" and kind in ("greater_than_equal", "less_than_equal"):
        return f"value must be 1..{MAX_OPTION_VALUE}, got {given!r}"
    if field == "max_length":
        return f"max_length must be a positive whole number, got {given!r}"
    if field in _LIST_WORDING and (kind in ("list_type", "too_short") or field == "skip_if_no"):
        return _LIST_WORDING[field]
    if kind in ("union_tag_invalid", "union_tag_not_found") and isinstance(place.node, dict):
        raw_kind = place.node.get("kind")
        return f"unknown kind {raw_kind!r} (expected one of: {_join(QuestionKind)})"
    if kind in ("model_type", "dict_type", "union_tag_not_found"):
        return f"expected a mapping with keys {_join(_SECTION_KEYS[place.section])}"
    if kind == "string_type":
        return f"{field!r} must be text (quote it in YAML), got {given!r}"
    return f"{field}: {error['msg']}" if field else error["msg"]


def _first(errors: list[ErrorDetails]) -> ErrorDetails:
    """The error to tell: the first, unless an unknown key makes sense of it (a typo'd
    key is why the right one is missing)."""
    first = errors[0]
    keys = [
        error
        for error in errors
        if error["type"] in _KEY_ERRORS
        and first["loc"][: len(error["loc"]) - 1] == error["loc"][:-1]
    ]
    return min(keys, key=lambda error: len(error["loc"]), default=first)


def describe(file_name: str, error: ValidationError, data: Any) -> QuestionnaireError:
    """The QuestionnaireError naming the file, the place and the field of ``error``."""
    detail = _first(error.errors())
    at = (detail.get("ctx") or {}).get("at")
    of_key = detail["type"] in ("missing", *_KEY_ERRORS)
    place = _Place(tuple(at if at is not None else detail["loc"]), data, of_key)
    problem = _problem(detail, place)
    return QuestionnaireError(": ".join([file_name, *place.names, problem]))


# ------------------------------------------------------------------- building


def _options(options: list[OptionSpec]) -> tuple[Option, ...]:
    return tuple(Option(option.value, option.label) for option in options)


def _question(spec: QuestionSpec, file: QuestionnaireSpec, verified: bool) -> Question:
    common: dict[str, Any] = {
        "optional": spec.optional,
        "verified": verified,
        "column": spec.column,
    }
    if isinstance(spec, LikertSpec):
        return Question(
            spec.id,
            QuestionKind.LIKERT,
            spec.text,
            factor=spec.factor,
            no_opinion=spec.no_opinion,
            options=_options(file.scale.levels),
            no_opinion_label=file.scale.no_opinion,
            **common,
        )
    if isinstance(spec, ChoiceSpec):
        options = _options(spec.options)
        return Question(spec.id, QuestionKind.CHOICE, spec.text, options=options, **common)
    if isinstance(spec, GateSpec):
        return Question(
            spec.id,
            QuestionKind.GATE,
            spec.text,
            options=_options(spec.options),
            skip_if_no=tuple(spec.skip_if_no),
            **common,
        )
    assert isinstance(spec, TextSpec)
    return Question(spec.id, QuestionKind.TEXT, spec.text, max_length=spec.max_length, **common)


def build(file: QuestionnaireSpec) -> Questionnaire:
    """The runtime questionnaire of a checked file; unset ``verified`` takes the file's."""

    def verified(part: FactorSpec | QuestionSpec) -> bool:
        return part.verified if "verified" in part.model_fields_set else file.verified

    return Questionnaire(
        id=file.id,
        title=file.title,
        source=file.source,
        aggregation=file.aggregation,
        languages=tuple(file.languages),
        factors=tuple(Factor(f.id, f.title, verified(f)) for f in file.factors),
        questions=tuple(_question(q, file, verified(q)) for q in file.questions),
        no_opinion_label=file.scale.no_opinion,
    )


def load_questionnaire(path: Path) -> Questionnaire:
    """Read and validate one questionnaire file; QuestionnaireError names what is wrong."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # a SafeLoader: no arbitrary objects
    except yaml.YAMLError as error:
        raise QuestionnaireError(f"{path.name}: not valid YAML: {error}") from None
    except RecursionError:  # PyYAML composes nested collections recursively
        raise QuestionnaireError(f"{path.name}: not valid YAML: nested too deeply") from None
    try:
        spec = validate(data)
    except ValidationError as error:
        raise describe(path.name, error, data) from None
    return build(spec)


def load_questionnaires(directory: Path = QUESTIONNAIRE_DIR) -> dict[str, Questionnaire]:
    """Every ``*.yaml`` in ``directory``, by questionnaire id (ids must be unique)."""
    found: dict[str, Questionnaire] = {}
    origin: dict[str, str] = {}
    for path in sorted(Path(directory).glob("*.yaml")):
        questionnaire = load_questionnaire(path)
        if questionnaire.id in found:
            raise QuestionnaireError(
                f"{path.name}: questionnaire id {questionnaire.id!r} is already used by "
                f"{origin[questionnaire.id]}"
            )
        found[questionnaire.id] = questionnaire
        origin[questionnaire.id] = path.name
    return found
