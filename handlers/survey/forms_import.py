"""Completed paper or web survey forms from a CSV or Excel file, one row per form.

Columns (`FORM_COLUMNS`, Vietnamese or English headers, accents optional): a form id
(re-importing a form id replaces that form, it never counts twice), agency code,
service code (optional), level (optional: the agency's), date, questionnaire
(optional: the default), channel (paper or web; or `--channel`), then one column per
question, found by its id ("F1.1"), by a header that starts with its id ("F1.1 Nơi
ngồi chờ…", as `responses template` writes it) or by the question's short column
title ("Giới tính", "Có góp ý, phản ánh, kiến nghị"), holding the coded value or its
label. A missing required column is one error for the whole file. A bad row is
reported with its number and reason and skipped; the good rows are stored through
`handlers.survey.store.responses`, in batches of their own transactions, so a large
file never holds the database's write lock for long (SQLite) and a re-run after a
failure simply replaces what was stored.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.boundary import ascii_int
from bot.catalog import LEVELS
from bot.database import Database
from bot.questionnaire import (
    GATE_NO,
    GATE_WORDS,
    NO_OPINION,
    Question,
    QuestionKind,
    Questionnaire,
)
from bot.tabular import TableError, date_cell, read_table, text_cell
from bot.textnorm import fold
from handlers.survey.store import catalogue_codes
from handlers.survey.store.responses import (
    FormKey,
    NewResponse,
    form_key,
    store_responses,
    stored_forms,
)

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


@dataclass(frozen=True)
class FormColumn:
    """A column of the form file other than the questions: its titles and accepted headers."""

    vi: str
    en: str
    aliases: tuple[str, ...]  # folded headers, see `column_name`
    required: bool
    meaning: str


FORM_COLUMNS = {
    "form": FormColumn(
        "Mã phiếu",
        "Form id",
        ("form_id", "form", "ma_phieu", "so_phieu"),
        True,
        "the office's number for the form: importing it again for the same agency replaces it",
    ),
    "agency": FormColumn(
        "Mã cơ quan",
        "Agency code",
        ("agency", "agency_code", "ma_co_quan", "co_quan"),
        True,
        "the agency that served the citizen, as in the catalogue",
    ),
    "service": FormColumn(
        "Mã thủ tục",
        "Service code",
        ("service", "service_code", "ma_thu_tuc", "thu_tuc"),
        False,
        "the procedure used (optional)",
    ),
    "level": FormColumn(
        "Cấp",
        "Level",
        ("level", "cap"),
        False,
        "province, commune or district (optional: the agency's own)",
    ),
    "date": FormColumn(
        "Ngày khảo sát",
        "Date",
        ("date", "response_date", "ngay", "ngay_khao_sat"),
        True,
        "the day the form was filled in: 01/07/2025 or 2025-07-01",
    ),
    "questionnaire": FormColumn(
        "Mẫu phiếu",
        "Questionnaire",
        ("questionnaire", "mau_phieu"),
        False,
        "sipas-2017 or sipas-2023 (optional: --questionnaire, else SURVEY_QUESTIONNAIRE)",
    ),
    "channel": FormColumn(
        "Kênh",
        "Channel",
        ("channel", "channel_kind", "kenh", "hinh_thuc"),
        False,
        "Giấy (paper) or Trực tuyến (web); or --channel for the whole file",
    ),
}
_FORM = FORM_COLUMNS["form"].aliases
_AGENCY = FORM_COLUMNS["agency"].aliases
_SERVICE = FORM_COLUMNS["service"].aliases
_LEVEL = FORM_COLUMNS["level"].aliases
_DATE = FORM_COLUMNS["date"].aliases
_QUESTIONNAIRE = FORM_COLUMNS["questionnaire"].aliases
_CHANNEL = FORM_COLUMNS["channel"].aliases
KNOWN_COLUMNS = frozenset(alias for column in FORM_COLUMNS.values() for alias in column.aliases)


def column_name(title: str) -> str:
    """How `bot.tabular` spells a header: folded, spaces (and dots) as underscores."""
    return fold(title).replace(" ", "_")


def question_columns(questionnaires: Mapping[str, Questionnaire]) -> dict[str, str]:
    """Exact headers (folded) that name a question: its id and its short column titles."""
    found: dict[str, str] = {}
    for questionnaire in questionnaires.values():
        for question in questionnaire.questions:
            key = column_name(question.id)
            found[key] = key
            for title in question.column.values():
                found[column_name(title)] = key
    return found


def resolve_headers(
    headers: list[str], questionnaires: Mapping[str, Questionnaire]
) -> dict[str, str]:
    """Each header of the file -> the column it stands for (a question's id, or itself).

    A header that starts with a question's id and a space ("F1.1 Nơi ngồi chờ…") is that
    question, so a template's long titles, or an office's own, still import.
    """
    exact = question_columns(questionnaires)
    ids = sorted({key for key in exact.values()}, key=len, reverse=True)
    resolved = {}
    for header in headers:
        if header in KNOWN_COLUMNS or header in exact:
            resolved[header] = exact.get(header, header)
            continue
        prefix = next((key for key in ids if header.startswith(key + "_")), None)
        resolved[header] = prefix or header
    return resolved


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
    if not re.fullmatch(r"[0-9]{1,3}[.,]0+", text):  # "4,0" or "4.0" from a spreadsheet
        return None
    return int(text[: max(text.find(","), text.find("."))])


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


def _check_columns(path: Path, present: set[str], channel_given: bool) -> None:
    """Refuse the whole file, once, when a column every row needs is not there."""
    missing = [
        f"{column.vi} ({column.en})"
        for name, column in FORM_COLUMNS.items()
        if (column.required or (name == "channel" and not channel_given))
        and not present & set(column.aliases)
    ]
    if missing:
        hint = " or use --channel" if any(m.startswith("Kênh") for m in missing) else ""
        raise TableError(f"{path.name}: missing column {', '.join(missing)}{hint}")


async def import_responses(
    database: Database,
    path: Path,
    questionnaires: Mapping[str, Questionnaire],
    default_questionnaire: str,
    channel_kind: str | None = None,
    progress: Callable[[int], None] | None = None,
    batch: int = BATCH,
    encoding: str | None = None,
) -> ResponseImportReport:
    """Store the file's good rows (see the module docstring); `progress(rows_read)` is
    called every few thousand rows."""
    if channel_kind is not None and channel_kind not in CHANNELS.values():
        raise ValueError(f"channel must be paper or web, not {channel_kind!r}")
    async with database.transaction() as session:
        agencies, services = await catalogue_codes(session)
    context = _Context(questionnaires, default_questionnaire, channel_kind, agencies, services)
    table = read_table(path, encoding)
    columns = resolve_headers(table.headers, questionnaires)
    recognised = KNOWN_COLUMNS | set(question_columns(questionnaires).values())
    _check_columns(path, set(columns.values()), channel_kind is not None)
    report = ResponseImportReport()
    report.warnings += table.notes
    unknown = sorted(h for h, column in columns.items() if h and column not in recognised)
    if unknown:
        report.warnings.append(f"columns ignored: {', '.join(unknown)}")
    pending: list[tuple[int, NewResponse]] = []
    seen: set[FormKey] = set()

    async def flush() -> None:
        async with database.transaction() as session:
            earlier = {
                form for _, form in await stored_forms(session, [form_key(r) for _, r in pending])
            }
            await store_responses(
                session, [response for _, response in pending], context.questionnaires
            )
        for number, response in pending:
            if form_key(response) in earlier:
                report.replaced += 1
                report.warnings.append(
                    f"row {number}: form {response.form_id!r} of this agency replaces the one "
                    "imported before"
                )
        report.stored += len(pending)
        pending.clear()

    read = 0
    for number, raw in table.rows:
        row = {columns.get(header, header): value for header, value in raw.items()}
        read += 1
        try:
            response = _parse(row, context, report.warnings, number)
        except ValueError as error:
            report.rejected.append((number, str(error)))
            continue
        if form_key(response) in seen:
            report.rejected.append((number, f"form id {response.form_id!r} appears twice"))
            continue
        seen.add(form_key(response))
        pending.append((number, response))
        if len(pending) >= batch:
            await flush()
        if progress is not None and read % PROGRESS_EVERY == 0:
            progress(read)
    if pending:
        await flush()
    if progress is not None and read >= PROGRESS_EVERY:
        progress(read)
    return report
