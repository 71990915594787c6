"""Rows from the CSV or Excel files that agencies send, with 1-based row numbers.

Headers are matched loosely (case, spaces, accents ignored) because the files
come from many offices' spreadsheets.
"""

from __future__ import annotations

import argparse
import codecs
import csv
import io
import re
import sys
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
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


# The day and time formats one-stop exports write: 22/10/2026, 22-10-2026, 22.10.2026
# and 2026-10-22, then optionally a time (09:15, 09:15:30, fractions) after a space or
# a "T", then optionally a zone (Z, +07:00, +0700, +07). ASCII digits only: strptime
# and int() would take "٢" or "²" for a digit.
_DAY = (
    r"(?:(?P<y>[0-9]{4})-(?P<m>[0-9]{1,2})-(?P<d>[0-9]{1,2})"
    r"|(?P<d2>[0-9]{1,2})(?P<sep>[/.-])(?P<m2>[0-9]{1,2})(?P=sep)(?P<y2>[0-9]{4}))"
)
_TIME = (
    r"(?:(?:T|\s+)(?P<H>[0-9]{1,2}):(?P<M>[0-9]{2})(?::(?P<S>[0-9]{2})(?:[.,](?P<f>[0-9]{1,6}))?)?)"
)
_ZONE = r"(?:\s*(?P<z>Z|[+-][0-9]{2}(?::?[0-9]{2})?))"
_MOMENT = re.compile(rf"{_DAY}(?:{_TIME}{_ZONE}?)?", re.ASCII | re.IGNORECASE)
DAY_FORMATS = "YYYY-MM-DD or DD/MM/YYYY"
MOMENT_FORMATS = "DD/MM/YYYY HH:MM[:SS] or ISO 8601"


def _offset(text: str) -> tzinfo:
    if text.upper() == "Z":
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:] or 0)
    if hours > 23 or minutes > 59:
        raise ValueError("not a time zone offset")
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def parse_moment_text(text: str, zone: tzinfo) -> datetime:
    """The instant of a day or time as exports write it.

    A time without a zone is local time in `zone`; a day alone is its midnight there.
    ValueError for anything else, never naming the value.
    """
    text = text.strip()
    match = _MOMENT.fullmatch(text)
    if match is None:
        if not text.isascii():
            raise ValueError("not a date or time")
        try:  # the rest of ISO 8601: 20261022T0915, week dates
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError("not a date or time") from None  # its message holds the value
        return moment if moment.tzinfo else moment.replace(tzinfo=zone)
    parts = match.groupdict()
    year, month, day = (
        (parts["y"], parts["m"], parts["d"])
        if parts["y"]
        else (parts["y2"], parts["m2"], parts["d2"])
    )
    clock = time()
    if parts["H"] is not None:
        fraction = (parts["f"] or "").ljust(6, "0")
        clock = time(int(parts["H"]), int(parts["M"]), int(parts["S"] or 0), int(fraction or 0))
    moment = datetime.combine(date(int(year), int(month), int(day)), clock)
    given_zone = _offset(parts["z"]) if parts["z"] else zone
    return moment.replace(tzinfo=given_zone)


def parse_day_text(text: str) -> date:
    """A day written as 22/10/2026, 22-10-2026, 22.10.2026 or 2026-10-22; ValueError else."""
    match = _MOMENT.fullmatch(text.strip())
    if match is None or match.group("H") is not None:
        raise ValueError("not a date")
    return parse_moment_text(text, UTC).date()


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
        try:
            return parse_day_text(text)
        except ValueError:
            raise ValueError(
                f"{name}: {text!r} is not a date (use YYYY-MM-DD or DD/MM/YYYY)"
            ) from None
    return None


class LazyHelp(argparse.Action):
    """`-h/--help` whose epilog (e.g. every column an import reads) is built only when asked
    for, so no other command pays for loading what it lists.

        parser.add_argument("-h", "--help", action=LazyHelp, epilog=build_text)
    """

    def __init__(self, option_strings, dest, epilog: Callable[[], str], **kwargs):
        super().__init__(option_strings, dest, nargs=0, help="show this help and every column")
        self.build_epilog = epilog

    def __call__(self, parser, namespace, values, option_string=None):
        parser.epilog = self.build_epilog()
        parser.print_help()
        parser.exit()


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
