"""The questionnaire file's schema as pydantic models: strict, closed, cross-checked.

Strict (no coercion: ``"2"`` is not a value, ``1`` not a boolean) and closed (a key the
schema does not know is refused, so a typo cannot silently drop a rule). Problems are
raised as pydantic errors whose location and type `load.py` turns into a sentence; a
check across fields carries the location it blames in its context (``at``).

Translations are checked against the file's own ``languages``, so they are validated
first and handed to the rest as validation context (see `validate`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationInfo,
    model_validator,
)
from pydantic_core import PydanticCustomError

from bot.questionnaire.model import (
    GATE_NO,
    GATE_WORDS,
    GATE_YES,
    MAX_ID_LENGTH,
    MAX_OPTION_VALUE,
    NO_OPINION,
    SCALE_VALUES,
    Aggregation,
    QuestionKind,
)
from bot.textnorm import fold

_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_NUMBER_PATTERN = re.compile(r"[0-9]+")


def problem(kind: str, message: str, at: tuple[Any, ...] | None = None) -> PydanticCustomError:
    """A schema error with a finished message; ``at`` overrides the location pydantic has."""
    # The message is passed as context, not as the template, so braces in a label stay.
    return PydanticCustomError(kind, "{message}", {"message": message, "at": at})


def _join(values: Iterable[str]) -> str:
    return ", ".join(values)


# ------------------------------------------------------------------ checked scalars


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


# ------------------------------------------------------------------------- models


class Spec(BaseModel):
    """Base of every part of the file: closed, strict, immutable; ``key: null`` of a
    required key counts as the key missing (as YAML writes an empty value)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _null_is_missing(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        fields = cls.model_fields
        return {
            key: value
            for key, value in data.items()
            if value is not None or key not in fields or not fields[key].is_required()
        }


class OptionSpec(Spec):
    value: int = Field(ge=1, le=MAX_OPTION_VALUE)
    label: Translations


def _unique_values(options: list[OptionSpec], noun: str) -> None:
    seen: set[int] = set()
    for option in options:
        if option.value in seen:
            raise problem("duplicate", f"duplicate {noun} value {option.value}")
        seen.add(option.value)


class ScaleSpec(Spec):
    levels: list[OptionSpec]
    no_opinion: Translations

    @model_validator(mode="after")
    def _five_levels(self) -> ScaleSpec:
        _unique_values(self.levels, "level")
        if tuple(level.value for level in self.levels) != SCALE_VALUES:
            raise problem("scale", "levels must be the values 1, 2, 3, 4, 5 in that order")
        check_labels([(o.value, o.label) for o in self.levels] + [(NO_OPINION, self.no_opinion)])
        return self


class FactorSpec(Spec):
    id: Identifier
    title: Translations
    verified: bool = True  # unset: the file's `verified`


class QuestionSpec(Spec):
    """What every kind of question has; ``verified`` unset means the file's `verified`."""

    id: Identifier
    text: Translations
    optional: bool = False
    verified: bool = True
    column: Translations = Field(default_factory=dict)  # a short spreadsheet header


class LikertSpec(QuestionSpec):
    kind: Literal["likert"] = "likert"
    factor: str | None = None
    no_opinion: bool = True

    @model_validator(mode="after")
    def _has_factor(self) -> LikertSpec:
        if self.factor is None:
            raise problem("factor", "a likert question needs a factor")
        return self


class ChoiceSpec(QuestionSpec):
    kind: Literal["choice"]
    options: list[OptionSpec]

    @model_validator(mode="after")
    def _options(self) -> ChoiceSpec:
        _unique_values(self.options, "option")
        if len(self.options) < 2:
            raise problem("options", "a choice question needs at least 2 options")
        check_labels((o.value, o.label) for o in self.options)
        return self


class GateSpec(QuestionSpec):
    kind: Literal["gate"]
    options: list[OptionSpec]
    skip_if_no: list[str] = Field(min_length=1)

    @model_validator(mode="after")
    def _yes_no(self) -> GateSpec:
        _unique_values(self.options, "option")
        if tuple(option.value for option in self.options) != (GATE_YES, GATE_NO):
            raise problem("options", "a gate's options must be value 1 (yes) then 2 (no)")
        check_labels(((o.value, o.label) for o in self.options), GATE_WORDS)
        if len(set(self.skip_if_no)) != len(self.skip_if_no):
            raise problem("skip", "bad skip rule: skip_if_no names a question twice")
        return self


class TextSpec(QuestionSpec):
    kind: Literal["text"]
    max_length: int = Field(ge=1)


KIND_SPECS: Mapping[QuestionKind, type[QuestionSpec]] = {
    QuestionKind.LIKERT: LikertSpec,
    QuestionKind.CHOICE: ChoiceSpec,
    QuestionKind.GATE: GateSpec,
    QuestionKind.TEXT: TextSpec,
}


def _kind_of(data: Any) -> str | None:
    """The union's tag: ``kind``, likert when absent; None (no tag) when not a mapping."""
    if not isinstance(data, dict):
        return None
    kind = data.get("kind", QuestionKind.LIKERT.value)
    return kind if isinstance(kind, str) else None


AnyQuestion = Annotated[
    Annotated[LikertSpec, Tag("likert")]
    | Annotated[ChoiceSpec, Tag("choice")]
    | Annotated[GateSpec, Tag("gate")]
    | Annotated[TextSpec, Tag("text")],
    Discriminator(_kind_of),
]


class QuestionnaireSpec(Spec):
    id: Identifier
    languages: Languages  # before every translation, so that its error comes first
    verified: bool = True
    title: Translations
    source: Source
    aggregation: Aggregation = Field(strict=False)  # a plain string in the file
    scale: ScaleSpec
    factors: list[FactorSpec] = Field(min_length=1)
    questions: list[AnyQuestion] = Field(min_length=1)

    @model_validator(mode="after")
    def _references(self) -> QuestionnaireSpec:
        factor_ids: list[str] = []
        for factor in self.factors:
            if factor.id in factor_ids:
                raise problem("duplicate", f"duplicate factor id {factor.id!r}")
            factor_ids.append(factor.id)
        positions: dict[str, int] = {}
        for index, question in enumerate(self.questions):
            if question.id in positions:
                raise problem("duplicate", f"duplicate question id {question.id!r}")
            positions[question.id] = index
        for index, question in enumerate(self.questions):
            at = ("questions", index)
            if isinstance(question, LikertSpec) and question.factor not in factor_ids:
                raise problem("reference", f"unknown factor {question.factor!r}", at)
            for skipped in question.skip_if_no if isinstance(question, GateSpec) else ():
                if skipped not in positions:
                    message = f"bad skip rule: skip_if_no names unknown question {skipped!r}"
                    raise problem("skip", message, at)
                if positions[skipped] <= index:
                    message = (
                        f"bad skip rule: {skipped!r} is not after the gate; only later "
                        "questions can be skipped"
                    )
                    raise problem("skip", message, at)
        criteria = {q.factor for q in self.questions if isinstance(q, LikertSpec)}
        for number, factor in enumerate(self.factors):
            if factor.id not in criteria:
                message = "has no criteria (no likert question)"
                raise problem("coverage", message, ("factors", number))
        return self


class _Head(BaseModel):
    """The languages alone, needed before any translation can be checked."""

    model_config = ConfigDict(extra="ignore", strict=True)
    languages: Languages


def validate(data: Any) -> QuestionnaireSpec:
    """The file's parsed YAML as a checked spec; pydantic's ValidationError if not."""
    languages: tuple[str, ...] = ()
    if isinstance(data, dict) and data.get("languages") is not None:
        languages = tuple(_Head.model_validate(data).languages)
    return QuestionnaireSpec.model_validate(data, context={"languages": languages})
