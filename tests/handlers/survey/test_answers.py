"""Typed replies are read as answers only when they clearly are one."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.questionnaire import Question, QuestionKind, Questionnaire, load_questionnaires
from bot.textnorm import fold
from handlers.survey._answers import parse_typed_answer

SHIPPED = load_questionnaires()
Q2017 = SHIPPED["sipas-2017"]
LIKERT = Q2017.question("F1.1")
GATE = Q2017.question("feedback_given")


def _no_diacritics(text: str) -> str:
    """The label as typed on a keyboard without Vietnamese input: no accents, same case."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in decomposed if unicodedata.category(c) != "Mn")


def _labels() -> list[tuple[str, str, int, str]]:
    """(questionnaire id, question id, value, label) for every label of every option."""
    rows = []
    for questionnaire in SHIPPED.values():
        for question in questionnaire.questions:
            for option in question.options:
                for label in option.labels.values():
                    rows.append((questionnaire.id, question.id, option.value, label))
            if question.kind is QuestionKind.LIKERT and question.no_opinion:
                for label in questionnaire.no_opinion_label.values():
                    rows.append((questionnaire.id, question.id, 0, label))
    return rows


LABELS = _labels()


def test_every_question_with_options_is_covered() -> None:
    with_options = {
        (q.id, question.id)
        for q in SHIPPED.values()
        for question in q.questions
        if question.options
    }
    assert {(row[0], row[1]) for row in LABELS} == with_options
    assert len(LABELS) > 500


@pytest.mark.parametrize(("questionnaire_id", "question_id", "value", "label"), LABELS)
def test_every_label_parses_back_to_its_value(
    questionnaire_id: str, question_id: str, value: int, label: str
) -> None:
    questionnaire = SHIPPED[questionnaire_id]
    question = questionnaire.question(question_id)
    for typed in (
        label,
        _no_diacritics(label),
        fold(label),
        label.upper(),
        label.lower(),
        f"  {label}. ",
        f"{label}!",
    ):
        assert parse_typed_answer(questionnaire, question, typed) == value, typed


@pytest.mark.parametrize(("questionnaire_id", "question_id", "value", "label"), LABELS)
def test_every_label_after_its_number(
    questionnaire_id: str, question_id: str, value: int, label: str
) -> None:
    questionnaire = SHIPPED[questionnaire_id]
    question = questionnaire.question(question_id)
    if value == 0:  # "no opinion" has no number in the list
        return
    number = [o.value for o in question.options].index(value) + 1
    for typed in (f"{number} {label}", f"{number}. {label}", f"{number}) {fold(label)}"):
        assert parse_typed_answer(questionnaire, question, typed) == value, typed
    other = 1 if number != 1 else 2
    assert parse_typed_answer(questionnaire, question, f"{other} {label}") is None


@pytest.mark.parametrize("questionnaire", SHIPPED.values(), ids=sorted(SHIPPED))
def test_digits_are_option_numbers(questionnaire: Questionnaire) -> None:
    for question in questionnaire.questions:
        if question.kind is QuestionKind.TEXT:
            continue
        for number, option in enumerate(question.options, start=1):
            assert parse_typed_answer(questionnaire, question, str(number)) == option.value
            assert parse_typed_answer(questionnaire, question, f" {number}. ") == option.value
        for outside in (0, len(question.options) + 1, 10, 100):
            assert parse_typed_answer(questionnaire, question, str(outside)) is None


@pytest.mark.parametrize("questionnaire", SHIPPED.values(), ids=sorted(SHIPPED))
def test_likert_digits_1_to_5(questionnaire: Questionnaire) -> None:
    for criterion in questionnaire.criteria():
        assert [parse_typed_answer(questionnaire, criterion, str(n)) for n in range(1, 6)] == [
            1,
            2,
            3,
            4,
            5,
        ]


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("khong hai long", 2),
        ("Không hài lòng", 2),
        ("KHONG HAI LONG", 2),
        ("rat hai long", 5),
        ("rất hài lòng", 5),
        ("rat khong hai long", 1),
        ("hai long", 4),
        ("HÀI LÒNG", 4),
        ("Hài lòng.", 4),
        ("binh thuong", 3),
        ("very satisfied", 5),
        ("Dissatisfied", 2),
        ("4 hài lòng", 4),
        ("4. Hài lòng", 4),
        ("4 - hai long", 4),
        ("2. Không hài lòng", 2),
        ("không ý kiến", 0),
        ("Khong y kien", 0),
        ("No opinion", 0),
        ("4 không hài lòng", None),
        ("2 hài lòng", None),
        ("5 satisfied", None),
        ("hài lòng 4", None),
        ("4 4", None),
        ("4/5", None),
        ("không", None),
        ("hài", None),
        ("khá hài lòng", None),
        ("hai long lam", None),
        ("6", None),
        ("0", None),
        ("4.5", None),
        ("", None),
        ("   ", None),
        ("👍", None),
        ("9" * 5000, None),
    ],
)
def test_likert_phrases(typed: str, expected: int | None) -> None:
    assert parse_typed_answer(Q2017, LIKERT, typed) == expected


def test_khong_hai_long_is_never_4() -> None:
    for questionnaire in SHIPPED.values():
        for criterion in questionnaire.criteria():
            for typed in ("khong hai long", "không hài lòng", "Không hài lòng", "KHÔNG HÀI LÒNG"):
                assert parse_typed_answer(questionnaire, criterion, typed) == 2


def test_no_opinion_only_where_allowed() -> None:
    strict = Question(
        id=LIKERT.id,
        kind=LIKERT.kind,
        text=LIKERT.text,
        factor=LIKERT.factor,
        no_opinion=False,
        options=LIKERT.options,
        no_opinion_label=LIKERT.no_opinion_label,
    )
    assert parse_typed_answer(Q2017, LIKERT, "không ý kiến") == 0
    assert parse_typed_answer(Q2017, strict, "không ý kiến") is None
    assert parse_typed_answer(Q2017, strict, "No opinion") is None
    assert parse_typed_answer(Q2017, strict, "hài lòng") == 4
    # "no opinion" is no answer to a choice or a gate either
    assert parse_typed_answer(Q2017, Q2017.question("gender"), "không ý kiến") is None
    assert parse_typed_answer(Q2017, GATE, "không ý kiến") is None


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("có", 1),
        ("Có", 1),
        ("co", 1),
        ("CÓ", 1),
        ("yes", 1),
        ("Yes!", 1),
        ("y", 1),
        ("1", 1),
        ("1. Có", 1),
        ("không", 2),
        ("khong", 2),
        ("Không.", 2),
        ("no", 2),
        ("NO", 2),
        ("n", 2),
        ("2", 2),
        ("2 không", 2),
        ("1 không", None),
        ("2 yes", None),
        ("3", None),
        ("có không", None),
        ("maybe", None),
        ("hài lòng", None),
    ],
)
def test_gate(typed: str, expected: int | None) -> None:
    assert parse_typed_answer(Q2017, GATE, typed) == expected


@pytest.mark.parametrize(
    ("question_id", "typed", "expected"),
    [
        ("gender", "nu", 2),
        ("gender", "Nữ", 2),
        ("gender", "2. Nữ", 2),
        ("gender", "1 nữ", None),
        ("age_band", "18-24", 1),
        ("age_band", "18 – 24 tuổi", 1),
        ("age_band", "2. 25–34 tuổi", 2),
        ("age_band", "25", None),
        ("age_band", "tren 60 tuoi", 5),
        ("age_band", "over 60", 5),
        ("education", "dai hoc", 5),
        ("education", "sau dai hoc", 6),
        ("education", "7", None),
        ("occupation", "khac", 8),
        ("occupation", "Học sinh, sinh viên", 6),
        ("occupation", "hoc sinh sinh vien", 6),
        ("occupation", "học sinh", None),
        ("ethnicity", "kinh", 1),
    ],
)
def test_choice(question_id: str, typed: str, expected: int | None) -> None:
    assert parse_typed_answer(Q2017, Q2017.question(question_id), typed) == expected


def test_text_questions_are_not_parsed_here() -> None:
    suggestion = Q2017.question("suggestion")
    for typed in ("1", "hài lòng", "Cần thêm chỗ ngồi", ""):
        assert parse_typed_answer(Q2017, suggestion, typed) is None


_QUESTIONS = [(q, question) for q in SHIPPED.values() for question in q.questions]
_WORDS = sorted(
    {fold(label) for *_, label in LABELS} | {"co", "khong", "yes", "no", "y", "n", "có", "Không"}
)
_TYPED = st.one_of(
    st.text(),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=50),
    st.builds(
        " ".join,
        st.lists(
            st.one_of(
                st.sampled_from(_WORDS), st.integers(-10, 1000).map(str), st.text(max_size=3)
            ),
            max_size=5,
        ),
    ),
    st.text(alphabet="0123456789", min_size=1, max_size=6000),
)


@settings(max_examples=400, deadline=None)
@given(pair=st.sampled_from(_QUESTIONS), typed=_TYPED)
def test_never_raises_and_only_returns_valid_values(
    pair: tuple[Questionnaire, Question], typed: str
) -> None:
    questionnaire, question = pair
    value = parse_typed_answer(questionnaire, question, typed)
    assert value is None or value in questionnaire.valid_values(question)


def test_a_question_reworded_under_the_same_id_is_read_by_its_own_labels() -> None:
    """The folded labels are kept per question object: a questionnaire loaded again with
    other wording (same ids) reads typed answers by the new labels, not the kept ones."""
    from dataclasses import replace

    from bot.questionnaire import Option

    assert parse_typed_answer(Q2017, LIKERT, "Hài lòng") == 4
    reworded = replace(
        LIKERT, options=tuple(Option(o.value, {"vi": f"mức {o.value}"}) for o in LIKERT.options)
    )
    edited = replace(
        Q2017,
        questions=tuple(reworded if q.id == LIKERT.id else q for q in Q2017.questions),
    )
    assert parse_typed_answer(edited, reworded, "muc 4") == 4
    assert parse_typed_answer(edited, reworded, "Hài lòng") is None
    assert parse_typed_answer(Q2017, LIKERT, "Hài lòng") == 4
