"""The questionnaire file's schema as pydantic models: strict, closed, cross-checked.

Strict (no coercion: ``"2"`` is not a value, ``1`` not a boolean) and closed (a key the
schema does not know is refused, so a typo cannot silently drop a rule). Problems are
raised as pydantic errors whose location and type `load.py` turns into a sentence; a
check across fields carries the location it blames in its context (``at``).

Translations are checked against the file's own ``languages``, so they are validated
first and handed to the rest as validation context (see `validate`). The checked
scalars (ids, translations, labels) are in `fields.py`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    model_validator,
)

from bot.questionnaire.fields import (
    AggregationRule,
    Identifier,
    Languages,
    Source,
    Translations,
    check_labels,
    problem,
)
from bot.questionnaire.model import (
    GATE_NO,
    GATE_WORDS,
    GATE_YES,
    MAX_OPTION_VALUE,
    NO_OPINION,
    SCALE_VALUES,
    QuestionKind,
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
    aggregation: AggregationRule
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
