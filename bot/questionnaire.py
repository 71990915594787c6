"""Questionnaires as data: the SIPAS forms live in YAML files an official can correct.

Much of the official wording is only known from secondary sources (see the domain notes),
so the questions, their order, labels and the aggregation rule are read from
``bot/questionnaires/*.yaml`` rather than written into code. The loader is strict: a
typo in a file must stop the bot at start-up with a message naming the file and the
problem, not silently change what citizens are asked or how answers are scored.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from bot.textnorm import fold

QUESTIONNAIRE_DIR = Path(__file__).parent / "questionnaires"

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

_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_NUMBER_PATTERN = re.compile(r"[0-9]+")


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


# --------------------------------------------------------------------------- loading

_TOP_KEYS = (
    "id",
    "title",
    "source",
    "aggregation",
    "languages",
    "verified",
    "scale",
    "factors",
    "questions",
)
_SCALE_KEYS = ("levels", "no_opinion")
_OPTION_KEYS = ("value", "label")
_FACTOR_KEYS = ("id", "title", "verified")
_COMMON_QUESTION_KEYS = ("id", "kind", "text", "optional", "verified", "column")
_KIND_KEYS: Mapping[QuestionKind, tuple[str, ...]] = {
    QuestionKind.LIKERT: ("factor", "no_opinion"),
    QuestionKind.CHOICE: ("options",),
    QuestionKind.GATE: ("options", "skip_if_no"),
    QuestionKind.TEXT: ("max_length",),
}
_ALL_QUESTION_KEYS = _COMMON_QUESTION_KEYS + tuple(
    dict.fromkeys(key for keys in _KIND_KEYS.values() for key in keys)
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


def _join(values: Iterable[str]) -> str:
    return ", ".join(values)


class _Reader:
    """Turns the parsed YAML of one file into a Questionnaire, or fails naming the spot."""

    def __init__(self, file_name: str) -> None:
        self.file_name = file_name
        self.languages: tuple[str, ...] = ()
        self.default_verified = True

    def fail(self, where: str | None, problem: str) -> QuestionnaireError:
        prefix = f"{self.file_name}: {where}: " if where else f"{self.file_name}: "
        return QuestionnaireError(prefix + problem)

    # -- generic pieces

    def mapping(self, data: Any, where: str | None, allowed: Iterable[str]) -> Mapping[str, Any]:
        allowed = tuple(allowed)
        if not isinstance(data, Mapping):
            raise self.fail(where, f"expected a mapping with keys {_join(allowed)}")
        for key in data:
            if key not in allowed:
                hint = difflib.get_close_matches(str(key), allowed, n=1)
                suffix = f" (did you mean {hint[0]!r}?)" if hint else ""
                raise self.fail(where, f"unknown key {key!r}{suffix}")
        return data

    def required(self, data: Mapping[str, Any], key: str, where: str | None) -> Any:
        if key not in data or data[key] is None:
            raise self.fail(where, f"missing {key!r}")
        return data[key]

    def boolean(self, data: Mapping[str, Any], key: str, where: str | None, default: bool) -> bool:
        value = data.get(key, default)
        if not isinstance(value, bool):
            raise self.fail(where, f"{key!r} must be true or false, got {value!r}")
        return value

    def identifier(self, value: Any, where: str | None, what: str) -> str:
        if not isinstance(value, str) or not _ID_PATTERN.fullmatch(value):
            raise self.fail(
                where,
                f"{what} must be letters, digits, '.', '_' or '-' (quote it in YAML), "
                f"got {value!r}",
            )
        if len(value) > MAX_ID_LENGTH:
            raise self.fail(where, f"{what} {value!r} is longer than {MAX_ID_LENGTH} characters")
        return value

    def translations(self, data: Any, where: str) -> dict[str, str]:
        """A lang -> text mapping with exactly the questionnaire's languages, none empty."""
        if not isinstance(data, Mapping):
            raise self.fail(where, f"expected translations {_join(self.languages)}, got {data!r}")
        for lang in data:
            if lang not in self.languages:
                raise self.fail(
                    where,
                    f"unknown language {lang!r} (languages are {_join(self.languages)})",
                )
        result: dict[str, str] = {}
        for lang in self.languages:
            text = data.get(lang)
            if text is None or (isinstance(text, str) and not text.strip()):
                raise self.fail(where, f"missing {lang!r} translation")
            if not isinstance(text, str):
                raise self.fail(
                    where, f"{lang!r} translation must be text (quote it in YAML), got {text!r}"
                )
            result[lang] = text.strip()
        return result

    def option(self, data: Any, owner: str, noun: str, number: int) -> Option:
        where = f"{owner}: {noun} #{number}"
        data = self.mapping(data, where, _OPTION_KEYS)
        value = self.required(data, "value", where)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(where, f"value must be a whole number, got {value!r}")
        if not 1 <= value <= MAX_OPTION_VALUE:
            raise self.fail(where, f"value must be 1..{MAX_OPTION_VALUE}, got {value}")
        where = f"{owner}: {noun} {value}"
        label = self.translations(self.required(data, "label", where), f"{where}: label")
        return Option(value, label)

    def options(self, data: Any, owner: str, noun: str = "option") -> tuple[Option, ...]:
        if not isinstance(data, list):
            raise self.fail(owner, f"'{noun}s' must be a list")
        options = tuple(
            self.option(item, owner, noun, number) for number, item in enumerate(data, start=1)
        )
        seen: set[int] = set()
        for option in options:
            if option.value in seen:
                raise self.fail(owner, f"duplicate {noun} value {option.value}")
            seen.add(option.value)
        return options

    def check_labels(
        self,
        labelled: Iterable[tuple[int, Mapping[str, str]]],
        where: str,
        extra: Mapping[int, frozenset[str]] | None = None,
    ) -> None:
        """Every label must be matchable when typed: non-empty, not a bare number, and not
        the same as another value's label once case and accents are ignored."""
        owner: dict[str, tuple[int, str]] = {}
        for value, words in (extra or {}).items():
            for word in words:
                owner[word] = (value, word)
        for value, labels in labelled:
            for label in labels.values():
                folded = fold(label)
                if not folded:
                    raise self.fail(where, f"label {label!r} has no letters or digits")
                if _NUMBER_PATTERN.fullmatch(folded):
                    raise self.fail(
                        where, f"label {label!r} is a bare number, confusable with an option number"
                    )
                other = owner.setdefault(folded, (value, label))
                if other[0] != value:
                    raise self.fail(
                        where,
                        f"labels {other[1]!r} (value {other[0]}) and {label!r} (value {value}) "
                        "are the same once case and accents are ignored",
                    )

    # -- sections

    def languages_of(self, data: Any) -> tuple[str, ...]:
        if not isinstance(data, list) or not data:
            raise self.fail(None, "'languages' must be a non-empty list, e.g. [vi, en]")
        for lang in data:
            if not isinstance(lang, str) or not lang:
                raise self.fail(None, f"languages: bad language code {lang!r}")
        if len(set(data)) != len(data):
            raise self.fail(None, "languages: a language is listed twice")
        if data[0] != "vi":
            raise self.fail(None, "languages: 'vi' is required and must come first")
        return tuple(data)

    def scale(self, data: Any) -> tuple[tuple[Option, ...], dict[str, str]]:
        data = self.mapping(data, "scale", _SCALE_KEYS)
        levels_data = self.required(data, "levels", "scale")
        levels = self.options(levels_data, "scale", "level")
        if tuple(level.value for level in levels) != SCALE_VALUES:
            raise self.fail("scale", "levels must be the values 1, 2, 3, 4, 5 in that order")
        no_opinion = self.translations(
            self.required(data, "no_opinion", "scale"), "scale: no_opinion"
        )
        self.check_labels(
            [(level.value, level.labels) for level in levels] + [(NO_OPINION, no_opinion)],
            "scale",
        )
        return levels, no_opinion

    def factor(self, data: Any, number: int) -> Factor:
        where = f"factor #{number}"
        if not isinstance(data, Mapping):
            raise self.fail(where, f"expected a mapping with keys {_join(_FACTOR_KEYS)}")
        factor_id = self.identifier(self.required(data, "id", where), where, "factor id")
        where = f"factor {factor_id}"
        data = self.mapping(data, where, _FACTOR_KEYS)
        return Factor(
            factor_id,
            self.translations(self.required(data, "title", where), f"{where}: title"),
            self.boolean(data, "verified", where, self.default_verified),
        )

    def question(
        self,
        data: Any,
        number: int,
        factor_ids: Iterable[str],
        levels: tuple[Option, ...],
        no_opinion: Mapping[str, str],
    ) -> Question:
        where = f"question #{number}"
        if not isinstance(data, Mapping):
            raise self.fail(where, f"expected a mapping with keys {_join(_ALL_QUESTION_KEYS)}")
        question_id = self.identifier(self.required(data, "id", where), where, "question id")
        where = f"question {question_id}"
        data = self.mapping(data, where, _ALL_QUESTION_KEYS)
        raw_kind = data.get("kind", QuestionKind.LIKERT.value)
        try:
            kind = QuestionKind(raw_kind)
        except ValueError:
            raise self.fail(
                where,
                f"unknown kind {raw_kind!r} (expected one of: {_join(QuestionKind)})",
            ) from None
        for key in data:
            if key not in _COMMON_QUESTION_KEYS and key not in _KIND_KEYS[kind]:
                if key == "skip_if_no":
                    raise self.fail(
                        where,
                        f"bad skip rule: skip_if_no is only allowed on gate questions, "
                        f"not on a {kind} question",
                    )
                owners = [str(k) for k, keys in _KIND_KEYS.items() if key in keys]
                raise self.fail(
                    where, f"{key!r} applies to {'/'.join(owners)} questions, not to {kind}"
                )

        fields: dict[str, Any] = {
            "optional": self.boolean(data, "optional", where, False),
            "verified": self.boolean(data, "verified", where, self.default_verified),
        }
        text = self.translations(self.required(data, "text", where), f"{where}: text")
        if "column" in data:
            fields["column"] = self.translations(data["column"], f"{where}: column")

        if kind is QuestionKind.LIKERT:
            if data.get("factor") is None:
                raise self.fail(where, "a likert question needs a factor")
            factor_id = data["factor"]
            if factor_id not in factor_ids:
                raise self.fail(where, f"unknown factor {factor_id!r}")
            fields.update(
                factor=factor_id,
                no_opinion=self.boolean(data, "no_opinion", where, True),
                options=levels,
                no_opinion_label=no_opinion,
            )
        elif kind is QuestionKind.CHOICE:
            options = self.options(self.required(data, "options", where), where)
            if len(options) < 2:
                raise self.fail(where, "a choice question needs at least 2 options")
            self.check_labels([(o.value, o.labels) for o in options], where)
            fields.update(options=options)
        elif kind is QuestionKind.GATE:
            options = self.options(self.required(data, "options", where), where)
            if tuple(option.value for option in options) != (GATE_YES, GATE_NO):
                raise self.fail(where, "a gate's options must be value 1 (yes) then 2 (no)")
            self.check_labels([(o.value, o.labels) for o in options], where, GATE_WORDS)
            skips = self.required(data, "skip_if_no", where)
            if (
                not isinstance(skips, list)
                or not skips
                or not all(isinstance(s, str) for s in skips)
            ):
                raise self.fail(
                    where, "bad skip rule: skip_if_no must be a non-empty list of question ids"
                )
            if len(set(skips)) != len(skips):
                raise self.fail(where, "bad skip rule: skip_if_no names a question twice")
            fields.update(options=options, skip_if_no=tuple(skips))
        else:
            max_length = self.required(data, "max_length", where)
            if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 1:
                raise self.fail(
                    where, f"max_length must be a positive whole number, got {max_length!r}"
                )
            fields.update(max_length=max_length)
        return Question(question_id, kind, text, **fields)

    def questionnaire(self, data: Any) -> Questionnaire:
        data = self.mapping(data, None, _TOP_KEYS)
        questionnaire_id = self.identifier(
            self.required(data, "id", None), None, "questionnaire id"
        )
        self.languages = self.languages_of(self.required(data, "languages", None))
        self.default_verified = self.boolean(data, "verified", None, True)
        title = self.translations(self.required(data, "title", None), "title")
        source = self.required(data, "source", None)
        if not isinstance(source, str) or not source.strip():
            raise self.fail(None, "'source' must be text naming where the wording comes from")
        raw_aggregation = self.required(data, "aggregation", None)
        try:
            aggregation = Aggregation(raw_aggregation)
        except ValueError:
            raise self.fail(
                None,
                f"unknown aggregation {raw_aggregation!r} (expected one of: {_join(Aggregation)})",
            ) from None
        levels, no_opinion = self.scale(self.required(data, "scale", None))

        factors_data = self.required(data, "factors", None)
        if not isinstance(factors_data, list) or not factors_data:
            raise self.fail(None, "'factors' must be a non-empty list")
        factors: list[Factor] = []
        for number, item in enumerate(factors_data, start=1):
            factor = self.factor(item, number)
            if any(known.id == factor.id for known in factors):
                raise self.fail(None, f"duplicate factor id {factor.id!r}")
            factors.append(factor)
        factor_ids = [factor.id for factor in factors]

        questions_data = self.required(data, "questions", None)
        if not isinstance(questions_data, list) or not questions_data:
            raise self.fail(None, "'questions' must be a non-empty list")
        questions: list[Question] = []
        positions: dict[str, int] = {}
        for number, item in enumerate(questions_data, start=1):
            question = self.question(item, number, factor_ids, levels, no_opinion)
            if question.id in positions:
                raise self.fail(None, f"duplicate question id {question.id!r}")
            positions[question.id] = len(questions)
            questions.append(question)

        for index, question in enumerate(questions):
            for skipped in question.skip_if_no:
                if skipped not in positions:
                    raise self.fail(
                        f"question {question.id}",
                        f"bad skip rule: skip_if_no names unknown question {skipped!r}",
                    )
                if positions[skipped] <= index:
                    raise self.fail(
                        f"question {question.id}",
                        f"bad skip rule: {skipped!r} is not after the gate; only later "
                        "questions can be skipped",
                    )
        for factor in factors:
            if not any(q.factor == factor.id for q in questions if q.kind is QuestionKind.LIKERT):
                raise self.fail(f"factor {factor.id}", "has no criteria (no likert question)")

        return Questionnaire(
            id=questionnaire_id,
            title=title,
            source=source.strip(),
            aggregation=aggregation,
            languages=self.languages,
            factors=tuple(factors),
            questions=tuple(questions),
            no_opinion_label=no_opinion,
        )


def load_questionnaire(path: Path) -> Questionnaire:
    """Read and validate one questionnaire file; QuestionnaireError names what is wrong."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # a SafeLoader: no arbitrary objects
    except yaml.YAMLError as error:
        raise QuestionnaireError(f"{path.name}: not valid YAML: {error}") from None
    return _Reader(path.name).questionnaire(data)


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
