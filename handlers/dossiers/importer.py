"""`python -m bot dossiers import FILE`: dossiers from a one-stop system's export.

Upserts on the dossier code in batches (one transaction each), so a second run of
the same file changes nothing; every bad row is reported with its row number and
the reason, never with its values. Cells are read as spreadsheet cells (a phone
typed as a number, a date cell), then checked by the same model as the API's JSON.
A progress bar goes to stderr.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path
from typing import TextIO

from bot.database import Database
from bot.tabular import read_rows
from handlers.dossiers.store import Outcome, load_calendar, upsert_dossiers

BATCH = 500


@dataclass
class ImportResult:
    outcomes: list[Outcome] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(outcome.status == status for outcome in self.outcomes)

    def summary(self) -> str:
        return ", ".join(
            f"{self.count(status)} {status}"
            for status in ("created", "updated", "unchanged", "rejected")
        )


def progress_bar(label: str, stream: TextIO) -> Callable[[int, int], None]:
    def show(done: int, total: int) -> None:
        width = 30
        filled = width * done // max(total, 1)
        stream.write(f"\r{label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total} rows")
        if done >= total:
            stream.write("\n")
        stream.flush()

    return show


async def import_dossiers(
    database: Database,
    path: Path,
    *,
    now: datetime,
    zone: tzinfo,
    code_length: int,
    progress: Callable[[int, int], None] | None = None,
) -> ImportResult:
    rows = list(read_rows(path))  # TableError for a file that cannot be read at all
    result = ImportResult()
    if progress is not None:
        progress(0, len(rows))
    for start in range(0, len(rows), BATCH):
        chunk = rows[start : start + BATCH]
        async with database.transaction() as session:
            result.outcomes += await upsert_dossiers(
                session,
                chunk,
                now=now,
                calendar=await load_calendar(session),
                zone=zone,
                code_length=code_length,
                cells=True,
            )
        if progress is not None:
            progress(start + len(chunk), len(rows))
    return result


def default_progress(path: Path) -> Callable[[int, int], None]:
    return progress_bar(path.name, sys.stderr)
