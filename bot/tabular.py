"""Rows from the CSV or Excel files that agencies send, with 1-based row numbers.

Headers are matched loosely (case, spaces, accents ignored) because the files
come from many offices' spreadsheets.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any, Protocol

from bot.textnorm import fold


class TableError(ValueError):
    """The file as a whole cannot be read (wrong type, no header)."""


def _header(name: Any) -> str:
    return fold(str(name or "")).replace(" ", "_")


def read_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(row number as a spreadsheet shows it, {header: value}) for every non-empty row."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        with open(path, encoding="utf-8-sig", newline="") as file:
            sample = file.read(4096)
            file.seek(0)
            dialect = csv.Sniffer().sniff(sample, delimiters=",;\t") if sample else csv.excel
            reader = csv.reader(file, dialect)
            header = [_header(name) for name in next(reader, [])]
            if not any(header):
                raise TableError(f"{path.name}: no header row")
            for number, values in enumerate(reader, start=2):
                if any(value.strip() for value in values):
                    yield number, dict(zip(header, (v.strip() for v in values), strict=False))
    elif suffix in (".xlsx", ".xlsm"):
        from openpyxl import load_workbook

        workbook = load_workbook(path, read_only=True, data_only=True)
        try:
            rows = workbook.active.iter_rows(values_only=True)
            header = [_header(name) for name in next(rows, ())]
            if not any(header):
                raise TableError(f"{path.name}: no header row")
            for number, values in enumerate(rows, start=2):
                cleaned = [v.strip() if isinstance(v, str) else v for v in values]
                if any(v not in (None, "") for v in cleaned):
                    yield number, dict(zip(header, cleaned, strict=False))
        finally:
            workbook.close()
    else:
        raise TableError(f"{path.name}: expected a .csv or .xlsx file")


def text_cell(row: dict[str, Any], *names: str) -> str:
    for name in names:
        value = row.get(name)
        if value not in (None, ""):
            return str(value).strip()
    return ""


def date_cell(row: dict[str, Any], *names: str) -> date | None:
    """A date written as 2025-07-01, 01/07/2025 (Vietnamese order) or an Excel date."""
    for name in names:
        value = row.get(name)
        if value in (None, ""):
            continue
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        text = str(value).strip()
        for pattern in ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y"):
            try:
                return datetime.strptime(text, pattern).date()
            except ValueError:
                continue
        raise ValueError(f"{name}: {text!r} is not a date (use YYYY-MM-DD or DD/MM/YYYY)")
    return None


class RowReport(Protocol):
    rejected: list[tuple[int, str]]
    warnings: list[str]

    def summary(self) -> str: ...


def print_import_report(report: RowReport, path: Path) -> int:
    """Rejected rows and warnings to stderr, the summary to stdout; exit status 1 if any
    row was rejected, so a script notices."""
    for number, reason in report.rejected:
        print(f"{path.name}: row {number}: {reason}", file=sys.stderr)
    for warning in report.warnings:
        print(f"{path.name}: warning: {warning}", file=sys.stderr)
    print(f"{path.name}: {report.summary()}")
    return 1 if report.rejected else 0
