"""Completed paper or web survey forms from a CSV or Excel file, one row per form.

Columns: a form id (re-importing a form id replaces that form, it never counts twice),
agency code, service code (optional), level (optional: the agency's), date,
questionnaire (optional: the default), channel (paper or web; or `--channel`), then
one column per question id of the questionnaire ("F1.1", …, "feedback_given",
"gender", …) holding the coded value or its label. A bad row is reported with its
number and reason and skipped; the good rows are stored through `bot.responses`, in
batches of their own transactions, so a large file never holds the database's write
lock for long (SQLite) and a re-run after a failure simply replaces what was stored.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bot.boundary import ascii_int
from bot.catalog import LEVELS
from bot.database import Database
from bot.models import Agency, Response, Service
from bot.questionnaire import (
    GATE_NO,
    GATE_WORDS,
    NO_OPINION,
    Question,
    QuestionKind,
    Questionnaire,
)
from bot.responses import NewResponse, store_responses
from bot.tabular import date_cell, read_rows, text_cell
from bot.textnorm import fold

CHANNELS = {
    "paper": "paper",
    "giay": "paper",
    "phieu giay": "paper",
    "web": "web",
    "online": "web",
    "truc tuyen": "web",
}
"""Accepted channel words (folded) -> stored channel kind of an imported form."""

FORM_ID_MAX = 64
BATCH = 500
PROGRESS_EVERY = 5000

_FORM = ("form_id", "form", "ma_phieu", "so_phieu")
_AGENCY = ("agency", "agency_code", "ma_co_quan", "co_quan")
_SERVICE = ("service", "service_code", "ma_thu_tuc", "thu_tuc")
_LEVEL = ("level", "cap")
_DATE = ("date", "response_date", "ngay", "ngay_khao_sat")
_QUESTIONNAIRE = ("questionnaire", "mau_phieu")
_CHANNEL = ("channel", "channel_kind", "kenh", "hinh_thuc")
KNOWN_COLUMNS = frozenset(
    (*_FORM, *_AGENCY, *_SERVICE, *_LEVEL, *_DATE, *_QUESTIONNAIRE, *_CHANNEL)
)


def column_name(question_id: str) -> str:
    """How `bot.tabular` spells a header: folded, spaces (and dots) as underscores."""
    return fold(question_id).replace(" ", "_")


@dataclass
class ResponseImportReport:
    stored: int = 0
    replaced: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{self.stored} forms stored ({self.replaced} replaced earlier imports), "
            f"{len(self.rejected)} rejected"
        )


@dataclass(frozen=True)
class _Context:
    questionnaires: Mapping[str, Questionnaire]
    default_questionnaire: str
    channel_kind: str | None
    agencies: Mapping[str, tuple[int, str]]  # code -> (id, level)
    services: Mapping[str, int]


def _number(raw: Any) -> int | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float) and raw.is_integer():
        return int(raw)
    text = str(raw).strip()
    if (whole := ascii_int(text)) is not None:
        return whole
    if not text.isascii():  # float() would read "٣" or "５" as numbers too
        return None
    try:
        number = float(text.replace(",", "."))
    except ValueError:
        return None
    return int(number) if number.is_integer() else None


def _coded(question: Question, questionnaire: Questionnaire, raw: Any) -> int:
    """The stored value for a cell: the value itself or the label of an option."""
    allowed = questionnaire.valid_values(question)
    number = _number(raw)
    if number is not None:
        if number in allowed:
            return number
        if number == NO_OPINION and question.kind is QuestionKind.LIKERT:
            raise ValueError(f"{question.id}: no opinion (0) is not allowed for this question")
        raise ValueError(
            f"{question.id}: {raw!r} is not one of {', '.join(map(str, sorted(allowed)))}"
        )
    words = fold(str(raw))
    for option in question.options:
        if words in {fold(label) for label in option.labels.values()}:
            return option.value
    if question.kind is QuestionKind.GATE:
        for value, accepted in GATE_WORDS.items():
            if words in accepted:
                return value
    if (
        question.kind is QuestionKind.LIKERT
        and question.no_opinion
        and words in {fold(label) for label in questionnaire.no_opinion_label.values()}
    ):
        return NO_OPINION
    raise ValueError(f"{question.id}: {raw!r} is neither a value nor a label of this question")


def _answers(
    row: Mapping[str, Any], questionnaire: Questionnaire, warnings: list[str], number: int
) -> dict[str, int | str]:
    answers: dict[str, int | str] = {}
    for question in questionnaire.questions:
        raw = row.get(column_name(question.id))
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            continue
        if question.kind is QuestionKind.TEXT:
            text = str(raw).strip()
            if question.max_length and len(text) > question.max_length:
                raise ValueError(f"{question.id}: longer than {question.max_length} characters")
            answers[question.id] = text
        else:
            answers[question.id] = _coded(question, questionnaire, raw)
    skipped = {
        skipped_id
        for question in questionnaire.questions
        if question.kind is QuestionKind.GATE and answers.get(question.id) == GATE_NO
        for skipped_id in question.skip_if_no
    }
    dropped = sorted(skipped & answers.keys(), key=questionnaire.index_of)
    if dropped:
        warnings.append(
            f"row {number}: {', '.join(dropped)} left out: the gate before them was answered no"
        )
        for item_id in dropped:
            del answers[item_id]
    if not any(question.id in answers for question in questionnaire.criteria()):
        raise ValueError("no criterion is answered")
    return answers


def _parse(row: Mapping[str, Any], context: _Context, warnings: list[str], number: int):
    form_id = text_cell(row, *_FORM)
    if not form_id:
        raise ValueError("the form id is missing")
    if len(form_id) > FORM_ID_MAX:
        raise ValueError(f"the form id is longer than {FORM_ID_MAX} characters")
    agency_code = text_cell(row, *_AGENCY)
    if not agency_code:
        raise ValueError("the agency code is missing")
    if agency_code not in context.agencies:
        raise ValueError(f"unknown agency code {agency_code!r}")
    agency_id, level = context.agencies[agency_code]
    service_id = None
    if service_code := text_cell(row, *_SERVICE):
        if service_code not in context.services:
            raise ValueError(f"unknown service code {service_code!r}")
        service_id = context.services[service_code]
    if raw_level := text_cell(row, *_LEVEL):
        level = LEVELS.get(fold(raw_level).replace("cap ", ""))
        if level is None:
            raise ValueError(f"unknown level {raw_level!r} (province, commune or district)")
    day = date_cell(row, *_DATE)
    if day is None:
        raise ValueError("the date is missing")
    questionnaire_id = text_cell(row, *_QUESTIONNAIRE) or context.default_questionnaire
    questionnaire = context.questionnaires.get(questionnaire_id)
    if questionnaire is None:
        raise ValueError(f"unknown questionnaire {questionnaire_id!r}")
    raw_channel = text_cell(row, *_CHANNEL)
    if raw_channel:
        channel = CHANNELS.get(fold(raw_channel))
        if channel is None:
            raise ValueError(f"unknown channel {raw_channel!r} (paper or web)")
    elif context.channel_kind:
        channel = context.channel_kind
    else:
        raise ValueError("no channel: add a channel column (paper or web) or use --channel")
    return NewResponse(
        questionnaire=questionnaire.id,
        agency_id=agency_id,
        service_id=service_id,
        level=level,
        day=day,
        channel_kind=channel,
        answers=_answers(row, questionnaire, warnings, number),
        form_id=form_id,
    )


async def import_responses(
    database: Database,
    path: Path,
    questionnaires: Mapping[str, Questionnaire],
    default_questionnaire: str,
    channel_kind: str | None = None,
    progress: Callable[[int], None] | None = None,
    batch: int = BATCH,
) -> ResponseImportReport:
    """Store the file's good rows (see the module docstring); `progress(rows_read)` is
    called every few thousand rows."""
    if channel_kind is not None and channel_kind not in CHANNELS.values():
        raise ValueError(f"channel must be paper or web, not {channel_kind!r}")
    async with database.transaction() as session:
        agencies = {
            code: (agency_id, level)
            for code, agency_id, level in await session.execute(
                select(Agency.code, Agency.id, Agency.level)
            )
        }
        services = dict((await session.execute(select(Service.code, Service.id))).all())
    context = _Context(questionnaires, default_questionnaire, channel_kind, agencies, services)
    known = set(KNOWN_COLUMNS) | {
        column_name(question.id) for q in questionnaires.values() for question in q.questions
    }
    report = ResponseImportReport()
    pending: list[NewResponse] = []
    seen: set[str] = set()

    async def flush() -> None:
        async with database.transaction() as session:
            report.replaced += await session.scalar(
                select(func.count())
                .select_from(Response)
                .where(Response.form_id.in_([r.form_id for r in pending]))
            )
            await store_responses(session, pending)
        report.stored += len(pending)
        pending.clear()

    read = 0
    for number, row in read_rows(path):
        if read == 0:
            unknown = sorted(name for name in row if name and name not in known)
            if unknown:
                report.warnings.append(f"columns ignored: {', '.join(unknown)}")
        read += 1
        try:
            response = _parse(row, context, report.warnings, number)
        except ValueError as error:
            report.rejected.append((number, str(error)))
            continue
        if response.form_id in seen:
            report.rejected.append((number, f"form id {response.form_id!r} appears twice"))
            continue
        seen.add(response.form_id or "")
        pending.append(response)
        if len(pending) >= batch:
            await flush()
        if progress is not None and read % PROGRESS_EVERY == 0:
            progress(read)
    if pending:
        await flush()
    if progress is not None and read >= PROGRESS_EVERY:
        progress(read)
    return report
