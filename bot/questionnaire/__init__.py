"""Questionnaires as data: the SIPAS forms live in YAML files an official can correct.

Much of the official wording is only known from secondary sources (see the domain notes),
so the questions, their order, labels and the aggregation rule are read from
``bot/questionnaires/*.yaml`` rather than written into code. The loader is strict: a
typo in a file must stop the bot at start-up with a message naming the file and the
problem, not silently change what citizens are asked or how answers are scored.

Nothing is loaded on import: the composition root (`bot.cli`, a command, a test
fixture) calls `load_questionnaires` and passes the result on.

`model` holds what the rest of the bot uses, `schema` the file's pydantic models, `load`
the reading of YAML and the wording of its errors.
"""

from bot.questionnaire.load import load_questionnaire, load_questionnaires
from bot.questionnaire.model import (
    GATE_NO,
    GATE_WORDS,
    GATE_YES,
    MAX_ID_LENGTH,
    MAX_OPTION_VALUE,
    NO_OPINION,
    QUESTIONNAIRE_DIR,
    SCALE_VALUES,
    Aggregation,
    Factor,
    Option,
    Question,
    QuestionKind,
    Questionnaire,
    QuestionnaireError,
)

__all__ = [
    "GATE_NO",
    "GATE_WORDS",
    "GATE_YES",
    "MAX_ID_LENGTH",
    "MAX_OPTION_VALUE",
    "NO_OPINION",
    "QUESTIONNAIRE_DIR",
    "SCALE_VALUES",
    "Aggregation",
    "Factor",
    "Option",
    "Question",
    "QuestionKind",
    "Questionnaire",
    "QuestionnaireError",
    "load_questionnaire",
    "load_questionnaires",
]
