"""The workbook an office fills in to import paper forms (`responses template`).

It is the import's own column list made visible, so a filled template imports back
unchanged: the same headers (`FORM_COLUMNS`, then each question's `header`), a drop-down
in every answer cell with exactly the values the import accepts, the agency and
service codes on a sheet of their own, and an example row on the instructions sheet
(never on the data sheet, where it would be imported as a form).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.worksheet.datavalidation import DataValidation

from bot.i18n import shipped
from bot.questionnaire import GATE_NO, Question, QuestionKind, Questionnaire
from handlers.survey.forms_import import FORM_COLUMNS

ROWS = 2000  # answer rows prepared with drop-downs; more can be added by copying a row
HEADER_CHARS = 60
CHANNEL_WORDS = {"vi": ("Giấy", "Trực tuyến"), "en": ("Paper", "Web")}
NO_OPINION_WORDS = {"vi": "Không ý kiến", "en": "No opinion"}
SHEETS = {
    "vi": ("Phiếu", "Hướng dẫn", "Danh mục", "Lựa chọn"),
    "en": ("Forms", "Instructions", "Catalogue", "Choices"),
}
_BOLD = Font(bold=True)
_HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")


def _short(text: str) -> str:
    return text if len(text) <= HEADER_CHARS else text[: HEADER_CHARS - 1].rstrip() + "…"


def _meta_columns(lang: str) -> list[tuple[str, str]]:
    """(key, header) of the non-question columns the template carries."""
    keys = ("form", "agency", "service", "date", "channel", "questionnaire")
    return [(key, getattr(FORM_COLUMNS[key], lang)) for key in keys]


def _inline_list(values: Sequence[str]) -> str:
    return '"' + ",".join(values) + '"'


def write_template(
    questionnaire: Questionnaire,
    agencies: Sequence[tuple[str, str]],
    services: Sequence[tuple[str, str]],
    path: Path,
    lang: str = "vi",
) -> None:
    """Write the import workbook for `questionnaire`; `agencies`/`services` are (code, name)."""
    data_title, help_title, catalogue_title, choices_title = SHEETS[lang]
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = data_title
    meta = _meta_columns(lang)
    questions = list(questionnaire.questions)
    headers = [header for _, header in meta] + [
        _short(question.header(lang)) for question in questions
    ]
    sheet.append(headers)
    for index, cell in enumerate(sheet[1], start=1):
        cell.font, cell.fill = _BOLD, _HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        sheet.column_dimensions[get_column_letter(index)].width = 14 if index > len(meta) else 16
    for offset, question in enumerate(questions):
        cell = sheet.cell(row=1, column=len(meta) + 1 + offset)
        comment = Comment(question.text.get(lang) or question.text["vi"], "SIPAS")
        comment.width, comment.height = 320, 120
        cell.comment = comment
    sheet.row_dimensions[1].height = 60
    sheet.freeze_panes = "B2"

    catalogue = workbook.create_sheet(catalogue_title)
    name = "Tên" if lang == "vi" else "Name"
    catalogue.append(
        [getattr(FORM_COLUMNS["agency"], lang), name, getattr(FORM_COLUMNS["service"], lang), name]
    )
    for row in range(max(len(agencies), len(services))):
        agency = agencies[row] if row < len(agencies) else ("", "")
        service = services[row] if row < len(services) else ("", "")
        catalogue.append([*agency, *service])
    for cell in catalogue[1]:
        cell.font = _BOLD
    for column, width in zip("ABCD", (18, 50, 18, 60), strict=True):
        catalogue.column_dimensions[column].width = width
    catalogue.freeze_panes = "A2"

    choices = workbook.create_sheet(choices_title)
    choices.sheet_state = "hidden"
    validations: list[tuple[DataValidation, int]] = []

    def listed(values: Sequence[str], column: int) -> None:
        """A drop-down over a column of the hidden sheet (labels may contain commas)."""
        letter = get_column_letter(len(validations) + 1)
        for row, value in enumerate(values, start=1):
            choices[f"{letter}{row}"] = value
        source = f"{quote_sheetname(choices_title)}!${letter}$1:${letter}${len(values)}"
        validations.append((DataValidation(type="list", formula1=source), column))

    last = ROWS + 1
    column_of = {key: index for index, (key, _) in enumerate(meta, start=1)}
    if agencies:
        source = f"{quote_sheetname(catalogue_title)}!$A$2:$A${len(agencies) + 1}"
        validations.append((DataValidation(type="list", formula1=source), column_of["agency"]))
    if services:
        source = f"{quote_sheetname(catalogue_title)}!$C$2:$C${len(services) + 1}"
        validations.append((DataValidation(type="list", formula1=source), column_of["service"]))
    validations.append(
        (
            DataValidation(type="list", formula1=_inline_list(CHANNEL_WORDS[lang])),
            column_of["channel"],
        )
    )
    validations.append(
        (
            DataValidation(type="list", formula1=_inline_list([questionnaire.id])),
            column_of["questionnaire"],
        )
    )
    date_check = DataValidation(type="date", operator="between", formula1="36526", formula2="73415")
    date_check.error = "dd/mm/yyyy"
    validations.append((date_check, column_of["date"]))
    for offset, question in enumerate(questions):
        column = len(meta) + 1 + offset
        if question.kind is QuestionKind.LIKERT:
            values = [str(option.value) for option in question.options]
            if question.no_opinion:
                values.append(NO_OPINION_WORDS[lang])
            validations.append((DataValidation(type="list", formula1=_inline_list(values)), column))
        elif question.kind in (QuestionKind.GATE, QuestionKind.CHOICE):
            listed(
                [option.labels.get(lang) or option.labels["vi"] for option in question.options],
                column,
            )
        elif question.max_length:
            length = DataValidation(
                type="textLength", operator="lessThanOrEqual", formula1=str(question.max_length)
            )
            validations.append((length, column))
    for validation, column in validations:
        letter = get_column_letter(column)
        validation.add(f"{letter}2:{letter}{last}")
        validation.showErrorMessage = True
        sheet.add_data_validation(validation)
    for row in range(2, last + 1):
        sheet.cell(row=row, column=column_of["date"]).number_format = "dd/mm/yyyy"

    _instructions(workbook.create_sheet(help_title, 1), questionnaire, headers, meta, lang)
    workbook.active = 0
    workbook.save(path)


def _example(question: Question, lang: str) -> object:
    if question.kind is QuestionKind.LIKERT:
        return 4
    if question.kind is QuestionKind.GATE:
        return question.label(GATE_NO, lang)
    if question.kind is QuestionKind.CHOICE:
        return question.label(question.options[0].value, lang)
    return ""


def _instructions(
    sheet,
    questionnaire: Questionnaire,
    headers: list[str],
    meta: list[tuple[str, str]],
    lang: str,
) -> None:
    words = shipped()
    lines = [
        words(lang, "paper_template_title", questionnaire=questionnaire.id),
        *(
            words(lang, f"paper_template_{part}")
            for part in ("rows", "answers", "gate", "again", "import", "example")
        ),
    ]
    for line in lines:
        sheet.append([line])
    sheet["A1"].font = Font(bold=True, size=13)
    sheet.append(headers)
    for cell in sheet[sheet.max_row]:
        cell.font, cell.fill = _BOLD, _HEADER_FILL
    example_meta = {
        "form": "0001",
        "agency": "",
        "service": "",
        "date": date(2026, 12, 1),
        "channel": CHANNEL_WORDS[lang][0],
        "questionnaire": questionnaire.id,
    }
    sheet.append(
        [example_meta[key] for key, _ in meta]
        + [_example(question, lang) for question in questionnaire.questions]
    )
    sheet.cell(row=sheet.max_row, column=4).number_format = "dd/mm/yyyy"
    sheet.column_dimensions["A"].width = 18
