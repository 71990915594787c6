"""A `WorkbookAttachment` written as an XLSX file.

Plain values with number formats and no formulas, so that LibreOffice and Excel open
it the same and nothing needs recalculating.
"""

from __future__ import annotations

import io

from handlers.messages import COUNT, PERCENT, Sheet, WorkbookAttachment


def _add(workbook, sheet: Sheet) -> None:
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    out = workbook.create_sheet(sheet.name[:31])
    out.append(list(sheet.headers))
    for cell in out[1]:
        cell.font = Font(bold=True)
    for row in sheet.rows:
        out.append(list(row))
    for index, header in enumerate(sheet.headers, start=1):
        values = [header, *(row[index - 1] for row in sheet.rows)]
        longest = max(len(str(v)) for v in values if v is not None)
        out.column_dimensions[get_column_letter(index)].width = min(max(10, longest + 2), 70)
    out.freeze_panes = "A2"
    for row in out.iter_rows(min_row=2):
        for column, number_format in sheet.formats:
            row[column].number_format = number_format
        if sheet.typed_column is not None:
            cell = row[sheet.typed_column]
            if isinstance(cell.value, float):
                cell.number_format = PERCENT
            elif isinstance(cell.value, int) and not isinstance(cell.value, bool):
                cell.number_format = COUNT


def write_sheets(workbook: WorkbookAttachment) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    book.remove(book.active)
    for sheet in workbook.sheets:
        _add(book, sheet)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
