"""Question kinds as strategies: how a question of each kind is asked, and how a reply is read.

A strategy sends nothing and touches no session or database. It turns a question into
the description of its prompt (the lines under the question, its choices, how to answer
them) and reads a typed reply or a pressed option into a result: `Advance` (store this
value and go on) or `Repeat` (say this feedback, then ask the same question again). What
happens next is the conversation's business (`_conversation`). Skipping is not a kind's
business either: any optional question may be skipped, whatever its kind.

Gates also decide which later questions a respondent is asked; `position` and
`next_step` follow from that.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from bot.questionnaire import GATE_NO, NO_OPINION, Question, QuestionKind, Questionnaire
from handlers.messages import Choice, Instruction, Outbound
from handlers.survey import _payloads as payloads
from handlers.survey._answers import parse_typed_answer

Say = Callable[..., str]
"""The translator bound to the chat's language: `say(key, **params)`."""

# Line breaks and tabs belong in a typed comment; other control characters do not (nor
# can the workbooks of exports hold them).
_TEXT_CONTROLS = frozenset("\n\r\t")


@dataclass(frozen=True)
class Advance:
    """The reply answers the question: store `value` and go on."""

    value: int | str


@dataclass(frozen=True)
class Repeat:
    """The reply does not answer the question: say `feedback` and ask it again."""

    feedback: str  # a locale key
    params: Mapping[str, object] = field(default_factory=dict)


Reading = Advance | Repeat


def menu_instruction(say: Say) -> Instruction:
    """How to pick from a list of choices (options, agencies, services)."""
    buttons = say("hint_choice")
    return Instruction(buttons, say("hint_choice_typed"), buttons)


class Kind:
    """A choice question: one button per option, a typed number or label picks one."""

    columns = 2  # buttons per row
    remind = "remind_choice"

    def hints(self, question: Question, say: Say) -> list[str]:
        """Lines under the question's text."""
        return []

    def choices(self, question: Question, lang: str, payload: Callable[[int], str]) -> list[Choice]:
        return [
            Choice(f"{option.value}. {question.label(option.value, lang)}", payload(option.value))
            for option in question.options
        ]

    def instruction(self, question: Question, lang: str, say: Say) -> Instruction | None:
        return menu_instruction(say)

    def read_typed(self, questionnaire: Questionnaire, question: Question, text: str) -> Reading:
        value = parse_typed_answer(questionnaire, question, text)
        return Repeat(self.remind) if value is None else Advance(value)

    def read_button(
        self, questionnaire: Questionnaire, question: Question, value: str
    ) -> Advance | None:
        """The option a button of this question carries; None if it is none of them."""
        chosen = payloads.number(value, 2)
        if chosen is not None and chosen in questionnaire.valid_values(question):
            return Advance(chosen)
        return None

    def removes(self, question: Question, answer: int | str | None) -> tuple[str, ...]:
        """Later questions this answer takes out of the respondent's questionnaire."""
        return ()


class GateKind(Kind):
    """A yes/no question; "no" removes the questions it names (`skip_if_no`)."""

    def removes(self, question: Question, answer: int | str | None) -> tuple[str, ...]:
        return question.skip_if_no if answer == GATE_NO else ()


class LikertKind(Kind):
    """A satisfaction level 1-5, one per row, and "no opinion" (0) where the file allows it."""

    columns = 1
    remind = "remind_likert"

    def choices(self, question: Question, lang: str, payload: Callable[[int], str]) -> list[Choice]:
        choices = super().choices(question, lang, payload)
        if question.no_opinion:
            choices.append(Choice(question.label(NO_OPINION, lang), payload(NO_OPINION)))
        return choices

    def instruction(self, question: Question, lang: str, say: Say) -> Instruction:
        """Choices beyond the buttons a channel has (its "no opinion") are listed to be typed."""
        buttons, typed = say("hint_likert"), say("hint_likert_typed")
        if question.no_opinion:
            extra = say("hint_no_opinion_typed", label=question.label(NO_OPINION, lang))
            return Instruction(buttons, f"{typed} {extra}", f"{buttons} {extra}")
        return Instruction(buttons, typed, buttons)


class TextKind(Kind):
    """A free-text comment: no choices, any readable text up to the question's length."""

    def hints(self, question: Question, say: Say) -> list[str]:
        return [say("hint_text", max_length=_limit(question))]

    def choices(self, question: Question, lang: str, payload: Callable[[int], str]) -> list[Choice]:
        return []

    def instruction(self, question: Question, lang: str, say: Say) -> None:
        return None

    def read_typed(self, questionnaire: Questionnaire, question: Question, text: str) -> Reading:
        limit = _limit(question)
        if not text.strip():
            return Repeat("remind_text_empty")
        if not clean_comment(text):
            return Repeat("remind_text_invalid")
        if len(text) > limit:
            return Repeat("remind_text_long", {"max_length": limit, "length": len(text)})
        return Advance(text.strip())


def _limit(question: Question) -> int:
    return question.max_length or 1000


def clean_comment(text: str) -> bool:
    """A free-text answer may be stored: no control characters but line breaks and tabs."""
    return not any(
        unicodedata.category(char) == "Cc" and char not in _TEXT_CONTROLS for char in text
    )


KINDS: Mapping[QuestionKind, Kind] = {
    QuestionKind.LIKERT: LikertKind(),
    QuestionKind.CHOICE: Kind(),
    QuestionKind.GATE: GateKind(),
    QuestionKind.TEXT: TextKind(),
}


def kind_of(question: Question) -> Kind:
    return KINDS[question.kind]


def question_prompt(
    questionnaire: Questionnaire,
    step: int,
    answers: Mapping[str, int | str],
    nonce: str,
    say: Say,
    lang: str,
) -> Outbound:
    """The question at ``step`` as a reply: progress, text, its kind's choices and hints."""
    question = questionnaire.questions[step]
    kind = kind_of(question)
    number, total = position(questionnaire, answers, step)
    lines = [
        say("progress", number=number, total=total),
        question.text[lang] if lang in question.text else question.text["vi"],
        *kind.hints(question, say),
    ]
    choices = kind.choices(question, lang, lambda value: payloads.answer(nonce, step, value))
    if question.optional:
        lines.append(say("hint_optional"))
        choices.append(Choice(say("skip_button"), payloads.answer(nonce, step, payloads.SKIP)))
    return Outbound(
        "\n".join(lines),
        tuple(choices),
        kind.instruction(question, lang, say),
        columns=kind.columns,
    )


# -- which questions a respondent is asked --------------------------------------------


def skipped_questions(questionnaire: Questionnaire, answers: Mapping[str, int | str]) -> set[str]:
    """Questions the answers given so far remove (a "no" on a gate) from this questionnaire."""
    skipped: set[str] = set()
    for question in questionnaire.questions:
        skipped |= set(kind_of(question).removes(question, answers.get(question.id)))
    return skipped


def position(
    questionnaire: Questionnaire, answers: Mapping[str, int | str], step: int
) -> tuple[int, int]:
    """(number, total) of the question at ``step`` among those this respondent is asked.

    A gate answered "no" takes its questions out of both; before it is answered they
    count as asked (the intro says "at most" for such questionnaires).
    """
    skipped = skipped_questions(questionnaire, answers)
    kept = [i for i, question in enumerate(questionnaire.questions) if question.id not in skipped]
    return sum(1 for i in kept if i <= step), len(kept)


def has_gate(questionnaire: Questionnaire) -> bool:
    """Some answer may remove questions: the total announced is a maximum."""
    return any(q.kind is QuestionKind.GATE and q.skip_if_no for q in questionnaire.questions)


def next_step(
    questionnaire: Questionnaire, answers: Mapping[str, int | str], after: int
) -> int | None:
    """The next question this respondent is asked after ``after``; None at the end."""
    skipped = skipped_questions(questionnaire, answers)
    for index in range(after + 1, len(questionnaire.questions)):
        if questionnaire.questions[index].id not in skipped:
            return index
    return None
