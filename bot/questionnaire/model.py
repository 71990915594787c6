"""What a questionnaire is once read: immutable questions, factors and the scoring rule.

The file schema (`schema.py`) and the reading of YAML (`load.py`) turn the files into
these objects; everything else in the bot only sees these.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType

QUESTIONNAIRE_DIR = Path(__file__).parent.parent / "questionnaires"

NO_OPINION = 0
"""Value stored for "Không ý kiến / No opinion"; excluded from the index denominators."""

SCALE_VALUES = (1, 2, 3, 4, 5)
"""The five Likert levels, 1 = very dissatisfied ... 5 = very satisfied."""

GATE_YES, GATE_NO = 1, 2

GATE_WORDS: Mapping[int, frozenset[str]] = MappingProxyType(
    {
        GATE_YES: frozenset({"co", "yes", "y"}),
        GATE_NO: frozenset({"khong", "no", "n"}),
    }
)
"""Folded words accepted for a gate besides its option labels (Vietnamese and English)."""

MAX_ID_LENGTH = 32  # questionnaire and item ids are stored in 32-character columns
MAX_OPTION_VALUE = 32767  # option values are stored in a small-integer column


class QuestionKind(StrEnum):
    LIKERT = "likert"
    CHOICE = "choice"
    GATE = "gate"
    TEXT = "text"


class Aggregation(StrEnum):
    """How criterion answers become the overall index; the file chooses, see sipas.md."""

    MEAN_OF_FACTORS = "mean_of_factors"
    POOLED_SHARE = "pooled_share"

    @classmethod
    def _missing_(cls, value: object) -> Aggregation | None:
        # The first name of the rule, still accepted in files and calls written before.
        return cls.MEAN_OF_FACTORS if value == "mean_of_criteria" else None


class QuestionnaireError(ValueError):
    """A questionnaire file is malformed; the message names the file and the problem."""


def _frozen_map(mapping: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(mapping))


def _pick_language(labels: Mapping[str, str], lang: str) -> str:
    """The text in ``lang``, else in the first (primary, Vietnamese) language."""
    if lang in labels:
        return labels[lang]
    for text in labels.values():
        return text
    raise KeyError(lang)


@dataclass(frozen=True)
class Option:
    """One answer a citizen can pick; ``value`` is what is stored, never its position."""

    value: int
    labels: Mapping[str, str]

    def __post_init__(self) -> None:
        object.__setattr__(self, "labels", _frozen_map(self.labels))


@dataclass(frozen=True)
class Factor:
    id: str
    title: Mapping[str, str]
    verified: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "title", _frozen_map(self.title))


@dataclass(frozen=True)
class Question:
    """One question; which fields matter depends on ``kind`` (see the field comments)."""

    id: str
    kind: QuestionKind
    text: Mapping[str, str]
    factor: str | None = None  # likert only: the factor the criterion belongs to
    optional: bool = False
    no_opinion: bool = False  # likert only: value 0 ("no opinion") may be stored
    options: tuple[Option, ...] = ()  # likert: levels 1..5; choice: options; gate: yes, no
    skip_if_no: tuple[str, ...] = ()  # gate only: later questions skipped on "no"
    max_length: int | None = None  # text only
    verified: bool = True  # False where the official wording is not confirmed
    no_opinion_label: Mapping[str, str] = field(default_factory=dict)  # label of value 0
    column: Mapping[str, str] = field(default_factory=dict)  # spreadsheet header, if short

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", QuestionKind(self.kind))
        object.__setattr__(self, "text", _frozen_map(self.text))
        object.__setattr__(self, "column", _frozen_map(self.column))
        object.__setattr__(self, "options", tuple(self.options))
        object.__setattr__(self, "skip_if_no", tuple(self.skip_if_no))
        object.__setattr__(self, "no_opinion_label", _frozen_map(self.no_opinion_label))

    def header(self, lang: str) -> str:
        """A spreadsheet column's title: the file's short `column`, else the id and text.

        Imports find a question's column by either, or by the id alone.
        """
        if self.column:
            return _pick_language(self.column, lang)
        return f"{self.id} {_pick_language(self.text, lang)}"

    def label(self, value: int, lang: str) -> str:
        """Label of a stored value in ``lang`` (falling back to Vietnamese).

        Value 0 of a Likert question gives the no-opinion label even where the file no
        longer allows it, so that answers stored earlier can still be displayed.
        """
        if value == NO_OPINION and self.kind is QuestionKind.LIKERT and self.no_opinion_label:
            return _pick_language(self.no_opinion_label, lang)
        for option in self.options:
            if option.value == value:
                return _pick_language(option.labels, lang)
        raise KeyError(f"question {self.id}: no option with value {value!r}")


@dataclass(frozen=True)
class Questionnaire:
    id: str
    title: Mapping[str, str]
    source: str
    aggregation: Aggregation
    languages: tuple[str, ...]
    factors: tuple[Factor, ...]
    questions: tuple[Question, ...]
    no_opinion_label: Mapping[str, str]
    _positions: Mapping[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "title", _frozen_map(self.title))
        object.__setattr__(self, "aggregation", Aggregation(self.aggregation))
        object.__setattr__(self, "languages", tuple(self.languages))
        object.__setattr__(self, "factors", tuple(self.factors))
        object.__setattr__(self, "questions", tuple(self.questions))
        object.__setattr__(self, "no_opinion_label", _frozen_map(self.no_opinion_label))
        positions: dict[str, int] = {}
        for index, question in enumerate(self.questions):
            if question.id in positions:
                raise QuestionnaireError(f"{self.id}: duplicate question id {question.id!r}")
            positions[question.id] = index
        object.__setattr__(self, "_positions", MappingProxyType(positions))

    def question(self, question_id: str) -> Question:
        return self.questions[self.index_of(question_id)]

    def index_of(self, question_id: str) -> int:
        """Position in asking order; KeyError for an id this questionnaire does not have."""
        try:
            return self._positions[question_id]
        except KeyError:
            raise KeyError(f"{self.id}: unknown question {question_id!r}") from None

    def factor(self, factor_id: str) -> Factor:
        for factor in self.factors:
            if factor.id == factor_id:
                return factor
        raise KeyError(f"{self.id}: unknown factor {factor_id!r}")

    def criteria(self, factor_id: str | None = None) -> tuple[Question, ...]:
        """The Likert criteria in asking order, of one factor if given (KeyError if unknown)."""
        if factor_id is not None:
            self.factor(factor_id)
        return tuple(
            question
            for question in self.questions
            if question.kind is QuestionKind.LIKERT
            and (factor_id is None or question.factor == factor_id)
        )

    def valid_values(self, question: Question) -> frozenset[int]:
        """The integer values that may be stored for ``question`` (none for text)."""
        values = frozenset(option.value for option in question.options)
        if question.kind is QuestionKind.LIKERT and question.no_opinion:
            return values | {NO_OPINION}
        if question.kind is QuestionKind.TEXT:
            return frozenset()
        return values
