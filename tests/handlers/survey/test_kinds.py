"""Question kinds as strategies: each kind's prompt and its reading of replies, pure.

No database and no translator: `say` writes the locale key and its parameters, so a
test sees which text a prompt would carry without depending on its wording.
"""

from __future__ import annotations

import dataclasses

import pytest

from bot.questionnaire import GATE_NO, GATE_YES, NO_OPINION, QuestionKind, load_questionnaires
from handlers.messages import Instruction
from handlers.survey import _payloads as payloads
from handlers.survey._kinds import (
    KINDS,
    Advance,
    Repeat,
    has_gate,
    kind_of,
    next_step,
    position,
    question_prompt,
    skipped_questions,
)

Q2017 = load_questionnaires()["sipas-2017"]
LIKERT = Q2017.question("F1.1")
GATE = Q2017.question("feedback_given")
CHOICE = Q2017.question("gender")
TEXT = Q2017.question("suggestion")
NONCE = "abc123"


def say(key: str, **params: object) -> str:
    return f"{key}{sorted(params.items())}" if params else key


def prompt(question_id: str, answers: dict | None = None, lang: str = "vi"):
    step = Q2017.index_of(question_id)
    return question_prompt(Q2017, step, answers or {}, NONCE, say, lang)


def test_every_kind_of_the_schema_has_a_strategy() -> None:
    assert set(KINDS) == set(QuestionKind)


def test_a_likert_prompt_has_one_button_per_level_and_no_opinion_one_per_row() -> None:
    reply = prompt("F1.1")
    step = Q2017.index_of("F1.1")
    lines = reply.text.split("\n")
    assert lines[0] == "progress[('number', 1), ('total', 29)]"
    assert lines[1] == LIKERT.text["vi"]
    assert len(lines) == 2  # required: no "optional" line
    assert [c.payload for c in reply.choices] == [
        payloads.answer(NONCE, step, value) for value in (1, 2, 3, 4, 5, NO_OPINION)
    ]
    assert reply.choices[0].label == f"1. {LIKERT.label(1, 'vi')}"
    assert reply.choices[-1].label == LIKERT.label(NO_OPINION, "vi")
    assert reply.columns == 1
    label = LIKERT.label(NO_OPINION, "vi")
    extra = f"hint_no_opinion_typed[('label', {label!r})]"
    assert reply.instruction == Instruction(
        "hint_likert", f"hint_likert_typed {extra}", f"hint_likert {extra}"
    )


def test_a_likert_question_without_no_opinion_offers_the_five_levels_only() -> None:
    question = dataclasses.replace(LIKERT, no_opinion=False)
    kind = kind_of(question)
    choices = kind.choices(question, "en", lambda value: str(value))
    assert [c.payload for c in choices] == ["1", "2", "3", "4", "5"]
    assert kind.instruction(question, "en", say) == Instruction(
        "hint_likert", "hint_likert_typed", "hint_likert"
    )


def test_an_optional_choice_prompt_says_so_and_offers_skip_two_per_row() -> None:
    reply = prompt("gender", lang="en")
    step = Q2017.index_of("gender")
    assert reply.text.split("\n")[1:] == [CHOICE.text["en"], "hint_optional"]
    assert reply.choices[-1].label == "skip_button"
    assert reply.choices[-1].payload == payloads.answer(NONCE, step, payloads.SKIP)
    assert len(reply.choices) == len(CHOICE.options) + 1
    assert reply.columns == 2
    assert reply.instruction == Instruction("hint_choice", "hint_choice_typed", "hint_choice")


def test_a_text_prompt_has_no_choices_but_skip_and_no_instruction() -> None:
    reply = prompt("suggestion")
    assert reply.text.split("\n")[2:] == ["hint_text[('max_length', 1000)]", "hint_optional"]
    assert [c.label for c in reply.choices] == ["skip_button"]
    assert reply.instruction is None


@pytest.mark.parametrize(
    ("question", "text", "reading"),
    [
        (LIKERT, "4", Advance(4)),
        (LIKERT, "khong y kien", Advance(NO_OPINION)),
        (LIKERT, "7", Repeat("remind_likert")),
        (LIKERT, "rất tốt đấy", Repeat("remind_likert")),
        (GATE, "Không", Advance(GATE_NO)),
        (GATE, "co", Advance(GATE_YES)),
        (GATE, "maybe", Repeat("remind_choice")),
        (CHOICE, "2", Advance(CHOICE.options[1].value)),
        (CHOICE, "9", Repeat("remind_choice")),
        (TEXT, "  Nhanh gọn, cảm ơn  ", Advance("Nhanh gọn, cảm ơn")),
        (TEXT, "dòng 1\ndòng 2\tcột", Advance("dòng 1\ndòng 2\tcột")),
        (TEXT, "   ", Repeat("remind_text_empty")),
        (TEXT, "bell\x07", Repeat("remind_text_invalid")),
        (TEXT, "x" * 1001, Repeat("remind_text_long", {"max_length": 1000, "length": 1001})),
    ],
)
def test_a_typed_reply_advances_or_repeats_with_feedback(question, text, reading) -> None:
    assert kind_of(question).read_typed(Q2017, question, text) == reading


@pytest.mark.parametrize(
    ("question", "value", "reading"),
    [
        (LIKERT, "5", Advance(5)),
        (LIKERT, "0", Advance(NO_OPINION)),
        (LIKERT, "6", None),
        (LIKERT, " 5", None),
        (LIKERT, "٥", None),  # an Arabic-Indic five: not what a button of ours sends
        (LIKERT, payloads.SKIP, None),  # skipping is the conversation's, not the kind's
        (GATE, "2", Advance(GATE_NO)),
        (GATE, "0", None),
        (TEXT, "1", None),
    ],
)
def test_a_pressed_option_is_read_only_if_the_question_has_it(question, value, reading) -> None:
    assert kind_of(question).read_button(Q2017, question, value) == reading


def test_a_no_at_the_gate_removes_its_questions_from_position_and_next_step() -> None:
    gate = Q2017.index_of("feedback_given")
    assert has_gate(Q2017)
    assert position(Q2017, {}, gate) == (gate + 1, 29)
    assert next_step(Q2017, {"feedback_given": GATE_YES}, gate) == gate + 1
    answers = {"feedback_given": GATE_NO}
    assert skipped_questions(Q2017, answers) == set(GATE.skip_if_no)
    following = next_step(Q2017, answers, gate)
    assert following is not None
    assert Q2017.questions[following].id == "gender"
    assert position(Q2017, answers, following) == (gate + 2, 29 - len(GATE.skip_if_no))
    assert next_step(Q2017, answers, len(Q2017.questions) - 1) is None
