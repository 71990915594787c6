"""The questionnaire files and the strict loader that guards them."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.questionnaire import (
    QUESTIONNAIRE_DIR,
    Aggregation,
    Question,
    QuestionKind,
    Questionnaire,
    QuestionnaireError,
    load_questionnaire,
    load_questionnaires,
)

# ----------------------------------------------------------------- the shipped files

SHIPPED = load_questionnaires()


def test_both_shipped_files_load() -> None:
    assert set(SHIPPED) == {"sipas-2017", "sipas-2023"}
    assert load_questionnaires(QUESTIONNAIRE_DIR) == SHIPPED


@pytest.mark.parametrize(
    ("questionnaire_id", "per_factor", "aggregation"),
    [
        ("sipas-2017", [4, 5, 6, 3, 4], Aggregation.MEAN_OF_FACTORS),
        ("sipas-2023", [4, 4, 5, 3, 3], Aggregation.POOLED_SHARE),
    ],
)
def test_shipped_structure(
    questionnaire_id: str, per_factor: list[int], aggregation: Aggregation
) -> None:
    q = SHIPPED[questionnaire_id]
    assert q.aggregation is aggregation
    assert q.languages == ("vi", "en")
    assert [f.id for f in q.factors] == ["F1", "F2", "F3", "F4", "F5"]
    assert [len(q.criteria(f.id)) for f in q.factors] == per_factor
    assert len(q.criteria()) == sum(per_factor)
    for factor in q.factors:
        expected = [f"{factor.id}.{n}" for n in range(1, len(q.criteria(factor.id)) + 1)]
        assert [c.id for c in q.criteria(factor.id)] == expected
    for criterion in q.criteria():
        assert criterion.no_opinion
        assert [o.value for o in criterion.options] == [1, 2, 3, 4, 5]
        assert not criterion.verified  # the criteria wording is [R]/[S] in the domain notes
    assert all(f.verified for f in q.factors)  # the five factors are [V]


@pytest.mark.parametrize("questionnaire_id", sorted(SHIPPED))
def test_shipped_gate_skips_exactly_f5_and_comes_right_before_it(questionnaire_id: str) -> None:
    q = SHIPPED[questionnaire_id]
    gates = [question for question in q.questions if question.kind is QuestionKind.GATE]
    assert len(gates) == 1
    gate = gates[0]
    f5 = q.criteria("F5")
    assert gate.skip_if_no == tuple(c.id for c in f5)
    assert q.index_of(gate.id) == q.index_of(f5[0].id) - 1
    assert q.index_of(gate.id) == len(q.criteria()) - len(f5)  # F1–F4 come first
    assert gate.label(1, "vi") == "Có" and gate.label(2, "vi") == "Không"
    assert not gate.optional
    assert q.valid_values(gate) == {1, 2}


@pytest.mark.parametrize("questionnaire_id", sorted(SHIPPED))
def test_shipped_profile_and_suggestion(questionnaire_id: str) -> None:
    q = SHIPPED[questionnaire_id]
    tail = q.questions[q.index_of(q.criteria("F5")[-1].id) + 1 :]
    assert [t.id for t in tail] == [
        "gender",
        "age_band",
        "education",
        "occupation",
        "ethnicity",
        "suggestion",
    ]
    assert all(t.optional for t in tail)
    assert [len(t.options) for t in tail[:3]] == [2, 5, 6]
    assert q.question("ethnicity").label(1, "vi") == "Kinh"
    suggestion = q.question("suggestion")
    assert suggestion.kind is QuestionKind.TEXT
    assert suggestion.max_length == 1000
    assert q.valid_values(suggestion) == frozenset()


def _all_texts(q: Questionnaire) -> Iterator[tuple[str, Mapping[str, str]]]:
    yield "title", q.title
    yield "no_opinion", q.no_opinion_label
    for factor in q.factors:
        yield f"factor {factor.id}", factor.title
    for question in q.questions:
        yield f"question {question.id}", question.text
        for option in question.options:
            yield f"question {question.id} option {option.value}", option.labels


@pytest.mark.parametrize("questionnaire_id", sorted(SHIPPED))
def test_shipped_every_text_has_vi_and_en(questionnaire_id: str) -> None:
    for where, texts in _all_texts(SHIPPED[questionnaire_id]):
        assert set(texts) == {"vi", "en"}, where
        assert all(text.strip() == text and text for text in texts.values()), where


@pytest.mark.parametrize("questionnaire_id", sorted(SHIPPED))
def test_shipped_vietnamese_addresses_the_citizen_politely(questionnaire_id: str) -> None:
    q = SHIPPED[questionnaire_id]
    texts = " ".join(question.text["vi"] for question in q.questions)
    assert "Ông/Bà" in texts
    for impolite in ("bạn ", "Bạn ", "anh/chị", "Anh/Chị"):
        assert impolite not in texts


# ---------------------------------------------------------- a small valid questionnaire


def _t(vi: str, en: str) -> dict[str, str]:
    return {"vi": vi, "en": en}


def minimal() -> dict[str, Any]:
    """The smallest questionnaire using every kind; each error test breaks one thing."""
    scale = [
        _t("Rất không hài lòng", "Very dissatisfied"),
        _t("Không hài lòng", "Dissatisfied"),
        _t("Bình thường", "Neutral"),
        _t("Hài lòng", "Satisfied"),
        _t("Rất hài lòng", "Very satisfied"),
    ]
    return {
        "id": "tiny",
        "title": _t("Phiếu nhỏ", "Tiny form"),
        "source": "tests",
        "aggregation": "mean_of_factors",
        "languages": ["vi", "en"],
        "scale": {
            "levels": [{"value": n, "label": label} for n, label in enumerate(scale, start=1)],
            "no_opinion": _t("Không ý kiến", "No opinion"),
        },
        "factors": [
            {"id": "F1", "title": _t("Tiếp cận", "Access")},
            {"id": "F2", "title": _t("Góp ý", "Feedback"), "verified": False},
        ],
        "questions": [
            {"id": "F1.1", "factor": "F1", "text": _t("Đủ chỗ ngồi", "Enough seats")},
            {
                "id": "gate",
                "kind": "gate",
                "text": _t("Ông/Bà có góp ý không?", "Did you give feedback?"),
                "options": [
                    {"value": 1, "label": _t("Có", "Yes")},
                    {"value": 2, "label": _t("Không", "No")},
                ],
                "skip_if_no": ["F2.1"],
            },
            {"id": "F2.1", "factor": "F2", "text": _t("Dễ góp ý", "Easy"), "no_opinion": False},
            {
                "id": "gender",
                "kind": "choice",
                "optional": True,
                "text": _t("Giới tính", "Gender"),
                "options": [
                    {"value": 1, "label": _t("Nam", "Male")},
                    {"value": 2, "label": _t("Nữ", "Female")},
                ],
            },
            {
                "id": "other",
                "kind": "text",
                "optional": True,
                "max_length": 200,
                "text": _t("Ý kiến khác", "Other comments"),
            },
        ],
    }


def write(tmp_path: Path, data: Any, name: str = "tiny.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def question_of(data: dict[str, Any], question_id: str) -> dict[str, Any]:
    return next(q for q in data["questions"] if q["id"] == question_id)


def test_minimal_loads_with_defaults(tmp_path: Path) -> None:
    q = load_questionnaire(write(tmp_path, minimal()))
    assert q.id == "tiny" and q.source == "tests"
    assert [question.id for question in q.questions] == ["F1.1", "gate", "F2.1", "gender", "other"]
    f11, gate, f21, gender, other = q.questions
    assert f11.kind is QuestionKind.LIKERT  # kind defaults to likert
    assert f11.no_opinion and not f21.no_opinion
    assert q.valid_values(f11) == {0, 1, 2, 3, 4, 5}
    assert q.valid_values(f21) == {1, 2, 3, 4, 5}
    assert q.valid_values(gate) == {1, 2}
    assert q.valid_values(gender) == {1, 2}
    assert q.valid_values(other) == frozenset()
    assert f11.label(0, "en") == "No opinion"
    assert f11.label(2, "vi") == "Không hài lòng"
    assert gender.label(2, "en") == "Female"
    assert gender.label(2, "fr") == "Nữ"  # unknown language falls back to Vietnamese
    with pytest.raises(KeyError):
        gender.label(3, "vi")
    assert f11.verified and not q.factors[1].verified and q.factors[0].verified
    assert q.index_of("F2.1") == 2
    assert q.question("gender") is gender
    with pytest.raises(KeyError):
        q.question("nope")
    with pytest.raises(KeyError):
        q.index_of("nope")
    assert q.criteria() == (f11, f21)
    assert q.criteria("F2") == (f21,)
    with pytest.raises(KeyError):
        q.criteria("F9")
    with pytest.raises(TypeError):
        f11.text["vi"] = "changed"  # type: ignore[index]


def test_the_rules_first_name_still_loads(tmp_path: Path) -> None:
    data = minimal()
    data["aggregation"] = "mean_of_criteria"
    assert load_questionnaire(write(tmp_path, data)).aggregation is Aggregation.MEAN_OF_FACTORS


def test_top_level_verified_is_the_default(tmp_path: Path) -> None:
    data = minimal()
    data["verified"] = False
    question_of(data, "gender")["verified"] = True
    q = load_questionnaire(write(tmp_path, data))
    assert not q.question("F1.1").verified and not q.factors[0].verified
    assert q.question("gender").verified


def test_block_scalars_are_trimmed(tmp_path: Path) -> None:
    data = minimal()
    path = write(tmp_path, data)
    path.write_text(
        path.read_text(encoding="utf-8").replace("source: tests", "source: >\n  tests\n  here\n"),
        encoding="utf-8",
    )
    assert load_questionnaire(path).source == "tests here"


# ------------------------------------------------------------------- validation errors

Mutation = Callable[[dict[str, Any]], None]


def _walk(data: dict[str, Any], steps: tuple[Any, ...]) -> Any:
    """Follow ``steps``; a first step naming a question id selects that question."""
    target: Any = data
    for index, step in enumerate(steps):
        if index == 0 and any(q.get("id") == step for q in data["questions"]):
            target = question_of(data, step)
        else:
            target = target[step]
    return target


def _set(path: tuple[Any, ...], value: Any) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        _walk(data, path[:-1])[path[-1]] = value

    return mutate


def _delete(path: tuple[Any, ...]) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        del _walk(data, path[:-1])[path[-1]]

    return mutate


def _add_question(question: dict[str, Any], at: int | None = None) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        questions = data["questions"]
        questions.insert(len(questions) if at is None else at, question)

    return mutate


ERRORS: list[tuple[str, Mutation, str]] = [
    # unknown factor
    ("unknown factor", _set(("F1.1", "factor"), "F7"), "question F1.1: unknown factor 'F7'"),
    # duplicate ids
    ("duplicate question", _set(("F2.1", "id"), "F1.1"), "duplicate question id 'F1.1'"),
    (
        "duplicate factor",
        lambda d: d["factors"].append({"id": "F1", "title": _t("a", "b")}),
        "duplicate factor id 'F1'",
    ),
    # missing translations, everywhere a text lives
    (
        "question text",
        _set(("F1.1", "text"), {"vi": "x"}),
        "question F1.1: text: missing 'en' translation",
    ),
    (
        "empty translation",
        _set(("F1.1", "text"), {"vi": "x", "en": "  "}),
        "question F1.1: text: missing 'en' translation",
    ),
    (
        "missing vi",
        _set(("F1.1", "text"), {"en": "x"}),
        "question F1.1: text: missing 'vi' translation",
    ),
    ("title", _set(("title",), {"vi": "x"}), "title: missing 'en' translation"),
    (
        "factor title",
        _set(("factors", 0, "title"), {"vi": "x"}),
        "factor F1: title: missing 'en' translation",
    ),
    (
        "option label",
        _set(("gender", "options", 1, "label"), {"vi": "Nữ"}),
        "question gender: option 2: label: missing 'en' translation",
    ),
    (
        "scale label",
        _set(("scale", "levels", 2, "label"), {"en": "Neutral"}),
        "scale: level 3: label: missing 'vi' translation",
    ),
    (
        "no opinion label",
        _set(("scale", "no_opinion"), {"vi": "Không ý kiến"}),
        "scale: no_opinion: missing 'en' translation",
    ),
    (
        "extra language",
        _set(("F1.1", "text"), {"vi": "x", "en": "y", "fr": "z"}),
        "question F1.1: text: unknown language 'fr'",
    ),
    (
        "not text",
        _set(("gate", "options", 1, "label"), {"vi": "Không", "en": False}),
        "question gate: option 2: label: 'en' translation must be text",
    ),
    (
        "text not a mapping",
        _set(("F1.1", "text"), "Đủ chỗ ngồi"),
        "question F1.1: text: expected translations vi, en",
    ),
    ("vi first", _set(("languages",), ["en", "vi"]), "'vi' is required and must come first"),
    ("no vi", _set(("languages",), ["en"]), "'vi' is required and must come first"),
    ("language twice", _set(("languages",), ["vi", "en", "vi"]), "listed twice"),
    # skip rules
    (
        "skip unknown",
        _set(("gate", "skip_if_no"), ["F9.9"]),
        "question gate: bad skip rule: skip_if_no names unknown question 'F9.9'",
    ),
    (
        "skip earlier",
        _set(("gate", "skip_if_no"), ["F1.1"]),
        "question gate: bad skip rule: 'F1.1' is not after the gate",
    ),
    (
        "skip itself",
        _set(("gate", "skip_if_no"), ["gate"]),
        "question gate: bad skip rule: 'gate' is not after the gate",
    ),
    (
        "skip on likert",
        _set(("F1.1", "skip_if_no"), ["F2.1"]),
        "question F1.1: bad skip rule: skip_if_no is only allowed on gate questions",
    ),
    (
        "skip on choice",
        _set(("gender", "skip_if_no"), ["other"]),
        "question gender: bad skip rule: skip_if_no is only allowed on gate questions",
    ),
    (
        "skip empty",
        _set(("gate", "skip_if_no"), []),
        "question gate: bad skip rule: skip_if_no must be a non-empty list",
    ),
    ("skip missing", _delete(("gate", "skip_if_no")), "question gate: missing 'skip_if_no'"),
    ("skip twice", _set(("gate", "skip_if_no"), ["F2.1", "F2.1"]), "names a question twice"),
    # likert and factors
    (
        "likert without factor",
        _delete(("F1.1", "factor")),
        "question F1.1: a likert question needs a factor",
    ),
    ("choice without kind", _set(("gender", "kind"), "likert"), "applies to choice/gate"),
    (
        "factor without criteria",
        lambda d: d["factors"].append({"id": "F3", "title": _t("Kết quả", "Results")}),
        "factor F3: has no criteria",
    ),
    (
        "no_opinion on choice",
        _set(("gender", "no_opinion"), True),
        "question gender: 'no_opinion' applies to likert questions, not to choice",
    ),
    (
        "max_length on likert",
        _set(("F1.1", "max_length"), 10),
        "question F1.1: 'max_length' applies to text questions, not to likert",
    ),
    (
        "options on likert",
        _set(("F1.1", "options"), []),
        "question F1.1: 'options' applies to choice/gate questions, not to likert",
    ),
    # choice options
    (
        "one option",
        lambda d: question_of(d, "gender")["options"].pop(),
        "question gender: a choice question needs at least 2 options",
    ),
    (
        "duplicate value",
        _set(("gender", "options", 1, "value"), 1),
        "question gender: duplicate option value 1",
    ),
    (
        "value zero",
        _set(("gender", "options", 1, "value"), 0),
        "question gender: option #2: value must be 1..32767, got 0",
    ),
    (
        "value text",
        _set(("gender", "options", 1, "value"), "2"),
        "question gender: option #2: value must be a whole number",
    ),
    (
        "same labels folded",
        _set(("gender", "options", 1, "label"), _t("nam", "Men")),
        "labels 'Nam' (value 1) and 'nam' (value 2) are the same once case and accents",
    ),
    (
        "cross-language clash",
        _set(("gender", "options", 1, "label"), _t("Male", "Female")),
        "labels 'Male' (value 1) and 'Male' (value 2)",
    ),
    (
        "bare number label",
        _set(("gender", "options", 1, "label"), _t("1", "1")),
        "label '1' is a bare number",
    ),
    (
        "options not a list",
        _set(("gender", "options"), {"value": 1}),
        "question gender: 'options' must be a list",
    ),
    # gate options
    (
        "gate values",
        _set(("gate", "options", 1, "value"), 3),
        "question gate: a gate's options must be value 1 (yes) then 2 (no)",
    ),
    (
        "gate swapped labels",
        _set(("gate", "options", 0, "label"), _t("Không", "No")),
        "are the same once case and accents are ignored",
    ),
    # text
    (
        "max_length zero",
        _set(("other", "max_length"), 0),
        "question other: max_length must be a positive whole number, got 0",
    ),
    ("max_length negative", _set(("other", "max_length"), -5), "max_length must be a positive"),
    ("max_length text", _set(("other", "max_length"), "100"), "max_length must be a positive"),
    ("max_length bool", _set(("other", "max_length"), True), "max_length must be a positive"),
    (
        "max_length missing",
        _delete(("other", "max_length")),
        "question other: missing 'max_length'",
    ),
    # kinds and aggregation
    (
        "unknown kind",
        _set(("gender", "kind"), "multiple"),
        "question gender: unknown kind 'multiple' (expected one of: likert, choice, gate, text)",
    ),
    (
        "unknown aggregation",
        _set(("aggregation",), "mean"),
        "unknown aggregation 'mean' (expected one of: mean_of_factors, pooled_share)",
    ),
    ("missing aggregation", _delete(("aggregation",)), "missing 'aggregation'"),
    # unknown keys (typos)
    (
        "top-level typo",
        _set(("verifed",), False),
        "unknown key 'verifed' (did you mean 'verified'?)",
    ),
    (
        "question typo",
        _set(("F1.1", "factr"), "F1"),
        "question F1.1: unknown key 'factr' (did you mean 'factor'?)",
    ),
    (
        "option typo",
        _set(("gender", "options", 0, "lable"), _t("a", "b")),
        "question gender: option #1: unknown key 'lable'",
    ),
    ("factor typo", _set(("factors", 0, "titel"), _t("a", "b")), "factor F1: unknown key 'titel'"),
    ("scale typo", _set(("scale", "level"), []), "scale: unknown key 'level'"),
    # other shapes
    (
        "verified not bool",
        _set(("F1.1", "verified"), "no"),
        "question F1.1: 'verified' must be true or false",
    ),
    (
        "optional not bool",
        _set(("gender", "optional"), 1),
        "question gender: 'optional' must be true or false",
    ),
    (
        "scale values",
        _set(("scale", "levels", 4, "value"), 6),
        "scale: levels must be the values 1, 2, 3, 4, 5 in that order",
    ),
    (
        "scale clash",
        _set(("scale", "no_opinion"), _t("Bình thường", "Whatever")),
        "scale: labels 'Bình thường' (value 3) and 'Bình thường' (value 0)",
    ),
    ("id too long", _set(("F1.1", "id"), "x" * 33), "longer than 32 characters"),
    ("numeric id", _set(("F1.1", "id"), 1.1), "question id must be letters"),
    ("missing text", _delete(("F1.1", "text")), "question F1.1: missing 'text'"),
    ("missing source", _delete(("source",)), "missing 'source'"),
    ("no questions", _set(("questions",), []), "'questions' must be a non-empty list"),
    ("question not a mapping", _add_question("F3.1"), "question #6: expected a mapping"),
]


@pytest.mark.parametrize(("mutate", "message"), [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_validation_errors(tmp_path: Path, mutate: Mutation, message: str) -> None:
    data = copy.deepcopy(minimal())
    mutate(data)
    with pytest.raises(QuestionnaireError) as caught:
        load_questionnaire(write(tmp_path, data))
    assert str(caught.value).startswith("tiny.yaml: ")
    assert message in str(caught.value)


def test_error_message_format_from_the_brief(tmp_path: Path) -> None:
    data = minimal()
    _add_question({"id": "F5.9", "factor": "F7", "text": _t("a", "b")})(data)
    with pytest.raises(
        QuestionnaireError, match=r"^tiny\.yaml: question F5\.9: unknown factor 'F7'$"
    ):
        load_questionnaire(write(tmp_path, data))


def test_repeated_yaml_key_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, minimal())
    text = path.read_text(encoding="utf-8").replace(
        "  vi: Phiếu nhỏ\n", "  vi: Phiếu nhỏ\n  vi: Phiếu to\n", 1
    )
    path.write_text(text, encoding="utf-8")
    with pytest.raises(
        QuestionnaireError, match=r"^tiny\.yaml: not valid YAML: duplicate key 'vi'"
    ):
        load_questionnaire(path)


@pytest.mark.parametrize("text", ["id: [unclosed\n", "", "- just\n- a list\n"])
def test_not_a_questionnaire(tmp_path: Path, text: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(QuestionnaireError, match=r"^bad\.yaml: "):
        load_questionnaire(path)


def test_unquoted_no_label_is_caught(tmp_path: Path) -> None:
    path = write(tmp_path, minimal())
    text = path.read_text(encoding="utf-8")
    assert "en: 'No'" in text
    path.write_text(text.replace("en: 'No'", "en: No"), encoding="utf-8")
    with pytest.raises(QuestionnaireError, match="'en' translation must be text"):
        load_questionnaire(path)


def test_load_questionnaires_rejects_a_repeated_id(tmp_path: Path) -> None:
    write(tmp_path, minimal(), "a.yaml")
    write(tmp_path, minimal(), "b.yaml")
    with pytest.raises(
        QuestionnaireError, match="^b.yaml: questionnaire id 'tiny' is already used"
    ):
        load_questionnaires(tmp_path)


def test_load_questionnaires_reads_every_yaml(tmp_path: Path) -> None:
    data = minimal()
    write(tmp_path, data, "a.yaml")
    data["id"] = "tiny-2"
    write(tmp_path, data, "b.yaml")
    (tmp_path / "notes.txt").write_text("not a questionnaire", encoding="utf-8")
    assert sorted(load_questionnaires(tmp_path)) == ["tiny", "tiny-2"]


def test_question_built_directly_is_usable() -> None:
    """Other modules may build questions in tests without YAML; defaults must allow that."""
    question = Question("x", QuestionKind.TEXT, {"vi": "Ý kiến", "en": "Comments"}, max_length=9)
    assert question.options == () and question.skip_if_no == () and question.verified
