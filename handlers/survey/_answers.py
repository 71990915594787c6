"""Reading a typed reply as the answer to the current question.

Citizens reply with a number from the numbered list, with the label itself (often
without accents or in capitals), or with both ("4. Hài lòng"). Labels are matched as
whole phrases after folding, never as substrings: "không hài lòng" contains "hài lòng"
but means the opposite. Anything not clearly an answer gives None, so the bot can ask
again instead of storing a guess.
"""

from __future__ import annotations

import re

from bot.questionnaire import (
    GATE_WORDS,
    NO_OPINION,
    Question,
    QuestionKind,
    Questionnaire,
)
from bot.textnorm import fold

# A short leading number, optionally followed by a label. The length cap keeps int()
# away from the huge digit strings it refuses to convert.
_NUMBERED = re.compile(r"([0-9]{1,3})(?: (.+))?")


# Folded phrases per question, kept: folding every label of every language costs a
# tenth of a typed answer's turn. Keyed by identity (questions are not hashable), with
# the objects kept beside so that an id is never reused while its entry lives.
_PHRASES_KEPT = 256
_phrases_of: dict[tuple[int, int], tuple[Questionnaire, Question, dict[str, int]]] = {}


def _phrases(questionnaire: Questionnaire, question: Question) -> dict[str, int]:
    """Folded label phrase -> stored value, for every language of the questionnaire."""
    kept = _phrases_of.get((id(questionnaire), id(question)))
    if kept is not None:
        return kept[2]
    if len(_phrases_of) >= _PHRASES_KEPT:
        _phrases_of.clear()
    phrases = _fold_phrases(questionnaire, question)
    _phrases_of[id(questionnaire), id(question)] = (questionnaire, question, phrases)
    return phrases


def _fold_phrases(questionnaire: Questionnaire, question: Question) -> dict[str, int]:
    phrases: dict[str, int] = {}
    if question.kind is QuestionKind.GATE:
        for value, words in GATE_WORDS.items():
            phrases |= dict.fromkeys(words, value)
    if question.kind is QuestionKind.LIKERT and question.no_opinion:
        no_opinion = question.no_opinion_label or questionnaire.no_opinion_label
        for lang in questionnaire.languages:
            if lang in no_opinion:
                phrases[fold(no_opinion[lang])] = NO_OPINION
    for option in question.options:
        for lang in questionnaire.languages:
            if lang in option.labels:
                phrases[fold(option.labels[lang])] = option.value
    phrases.pop("", None)
    return phrases


# Typed words that mean "skip this question" (folded): the skip button's label in each
# language, as a citizen who cannot press it types it back.
SKIP_WORDS = frozenset({"bo qua", "skip"})


def is_skip(text: str) -> bool:
    """True when ``text`` asks to skip ("Bỏ qua", "bo qua", "skip", "/skip")."""
    return isinstance(text, str) and fold(text.removeprefix("/")) in SKIP_WORDS


def parse_typed_answer(questionnaire: Questionnaire, question: Question, text: str) -> int | None:
    """The value to store for ``text`` typed in reply to ``question``, or None.

    Accepted: a label in any language of the questionnaire (accents and case optional),
    the option's number as shown in the numbered list, or that number followed by its
    own label. A number with another option's label is ambiguous and gives None. Free-text
    questions are not parsed here.
    """
    if question.kind is QuestionKind.TEXT or not isinstance(text, str):
        return None
    folded = fold(text)
    if not folded:
        return None
    phrases = _phrases(questionnaire, question)
    if folded in phrases:
        return phrases[folded]
    numbered = _NUMBERED.fullmatch(folded)
    if numbered is None:
        return None
    position = int(numbered.group(1))
    if not 1 <= position <= len(question.options):
        return None
    value = question.options[position - 1].value
    label = numbered.group(2)
    if label is not None and phrases.get(label) != value:
        return None
    return value
