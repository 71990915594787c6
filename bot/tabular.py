"""Rows from the CSV or Excel files that agencies send, with 1-based row numbers.

Headers are matched loosely (case, spaces, accents ignored) because the files
come from many offices' spreadsheets.
"""

from __future__ import annotations

import codecs
import csv
import io
import sys
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Protocol

from bot.textnorm import fold


class TableError(ValueError):
    """The file as a whole cannot be read (wrong type, no header)."""


def _header(name: Any) -> str:
    return fold(str(name or "")).replace(" ", "_")


# What a CSV may be written in, and how to tell. Excel on a Vietnamese Windows saves
# "CSV (Comma delimited)" in the ANSI code page, Windows-1258, whose tone marks are
# separate combining characters; "CSV UTF-8" adds a BOM; "Unicode Text" is UTF-16.
ENCODINGS = ("utf-8", "utf-16", "cp1258", "cp1252")
SAVE_AS_UTF8 = (
    "save it from Excel as 'CSV UTF-8 (Comma delimited) (*.csv)' or as an Excel workbook "
    "(.xlsx), or name its encoding with --encoding"
)


@dataclass
class Table:
    """A file's header (as read, and folded for matching) and its non-empty rows."""

    headers: list[str]
    rows: Iterator[tuple[int, dict[str, Any]]]
    notes: list[str] = field(default_factory=list)  # e.g. the encoding guessed


def _decode(path: Path, data: bytes, encoding: str | None) -> tuple[str, str | None]:
    """The text of a CSV and, when the encoding was guessed from its bytes, a note."""
    if encoding is not None:
        try:
            return unicodedata.normalize("NFC", data.decode(encoding)), None
        except (UnicodeDecodeError, LookupError):
            raise TableError(f"{path.name}: cannot be read as {encoding}: {SAVE_AS_UTF8}") from None
    try:
        if data.startswith(codecs.BOM_UTF8):
            return data[len(codecs.BOM_UTF8) :].decode("utf-8"), None
        if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return data.decode("utf-16"), None
    except UnicodeDecodeError:
        raise TableError(f"{path.name}: its text is damaged: {SAVE_AS_UTF8}") from None
    if data[:4096].count(0) > len(data[:4096]) // 4:
        raise TableError(
            f"{path.name}: looks like UTF-16 without a byte order mark: " + SAVE_AS_UTF8
        )
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("cp1258")
    except UnicodeDecodeError:
        raise TableError(
            f"{path.name}: is neither UTF-8 nor Windows-1258: " + SAVE_AS_UTF8
        ) from None
    note = "read as Windows-1258 (Excel's Vietnamese CSV); if letters look wrong, " + SAVE_AS_UTF8
    return unicodedata.normalize("NFC", text), note


def read_table(path: Path, encoding: str | None = None) -> Table:
    """The header and rows of a CSV or Excel file; TableError if it cannot be read at all.

    A CSV is read whole (files from offices are small next to memory); its encoding is
    taken from a byte order mark, else UTF-8, else Windows-1258, unless `encoding` says.
    """
    suffix = path.suffix.lower()
    if suffix == ".csv":
        text, note = _decode(path, path.read_bytes(), encoding)
        if text and "\x00" in text:
            raise TableError(f"{path.name}: contains NUL bytes, not a CSV file: {SAVE_AS_UTF8}")
        try:
            dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t") if text else csv.excel
        except csv.Error:
            dialect = csv.excel
        reader = csv.reader(io.StringIO(text, newline=""), dialect)
        raw_header = next(reader, [])
        header = [_header(name) for name in raw_header]
        if not any(header):
            raise TableError(f"{path.name}: no header row")

        def csv_rows() -> Iterator[tuple[int, dict[str, Any]]]:
            for number, values in enumerate(reader, start=2):
                if any(value.strip() for value in values):
                    yield number, dict(zip(header, (v.strip() for v in values), strict=False))

        return Table(header, csv_rows(), [note] if note else [])
    if suffix in (".xlsx", ".xlsm"):
        from openpyxl import load_workbook

        try:
            workbook = load_workbook(path, read_only=True, data_only=True)
        except Exception:  # noqa: BLE001 - openpyxl raises many kinds for a broken file
            raise TableError(f"{path.name}: is not a readable Excel workbook") from None
        rows = workbook.active.iter_rows(values_only=True)
        header = [_header(name) for name in next(rows, ())]
        if not any(header):
            workbook.close()
            raise TableError(f"{path.name}: no header row")

        def sheet_rows() -> Iterator[tuple[int, dict[str, Any]]]:
            try:
                for number, values in enumerate(rows, start=2):
                    cleaned = [v.strip() if isinstance(v, str) else v for v in values]
                    if any(v not in (None, "") for v in cleaned):
                        yield number, dict(zip(header, cleaned, strict=False))
            finally:
                workbook.close()

        return Table(header, sheet_rows())
    raise TableError(f"{path.name}: expected a .csv or .xlsx file")


def read_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(row number as a spreadsheet shows it, {header: value}) for every non-empty row."""
    yield from read_table(path).rows


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
