"""Upserting dossiers: every write goes through `upsert_dossiers`.

Whatever the source (spreadsheet, API), the derived columns (`due_date`, `watch_date`,
pauses, closing times) follow one set of rules (`handlers.dossiers.deadlines`). Writers
are serialised (PostgreSQL advisory lock; SQLite's `BEGIN IMMEDIATE`), so two batches
naming the same new dossier cannot both insert it.

A batch is written inside a savepoint. The model in `handlers.dossiers.records` refuses
everything known to fail in a database; should a record still fail, the savepoint is
rolled back and the batch written again with a savepoint per record, so only the
refused record is rejected and the good ones go on (the usual case pays for one
savepoint, not one per record). A lost database is the one failure that stops the
batch (the caller answers 503).

A procedure first named by a dossier is added to the catalogue as the property of
that dossier's agency: it appears in that agency's survey menu only, so one agency
(or one API key) cannot fill every other agency's menu.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import date, datetime, tzinfo
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.database import LockKey, is_unavailable, transaction_lock
from bot.logs import describe
from bot.models import Dossier, StartCode
from handlers.dossiers.records import RecordError, local_zone, parse_record, raw_code
from handlers.dossiers.store._batch import Batch, Outcome, discard_unflushed
from handlers.dossiers.workdays import WorkCalendar

log = logging.getLogger(__name__)


async def lock_writes(session: AsyncSession) -> None:
    """Serialise dossier writers (SQLite already is, by `BEGIN IMMEDIATE`)."""
    await transaction_lock(session, LockKey.DOSSIER_WRITES)


async def upsert_dossiers(
    session: AsyncSession,
    records: Sequence[tuple[int, Mapping[str, Any]]],
    *,
    now: datetime,
    calendar: WorkCalendar,
    zone: tzinfo,
    scope_agency_id: int | None = None,
    code_length: int = 10,
    cells: bool = False,
) -> list[Outcome]:
    """Create or update dossiers from raw records; each bad record is rejected alone.

    `records` are (reference, raw record) pairs: a row number or a list index.
    `scope_agency_id` limits writes to one agency's dossiers (an API key's).
    `cells`: the records are spreadsheet rows, not JSON (see `parse_record`).
    `zone` (the TIMEZONE setting) reads times given without one and makes local days.
    A new dossier whose procedure is known gets a single-use start code, the
    survey/link code printed on its receipt.
    """
    await lock_writes(session)
    outcomes: list[Outcome] = []
    parsed: list[tuple[int, dict[str, Any]]] = []
    seen: set[str] = set()
    for ref, raw in records:
        try:
            with local_zone(zone):
                values = parse_record(raw, cells=cells)
        except RecordError as error:
            outcomes.append(Outcome(ref, raw_code(raw), "rejected", reasons=error.reasons))
            continue
        if values["code"] in seen:
            outcomes.append(
                Outcome(ref, values["code"], "rejected", reasons=["code: appears twice"])
            )
            continue
        seen.add(values["code"])
        parsed.append((ref, values))

    batch = Batch(session, now, calendar, scope_agency_id, code_length, zone)
    try:
        async with session.begin_nested():
            written = await batch.write(parsed, isolate=False)
    except Exception as error:
        if is_unavailable(error):
            raise
        # Validation should have refused whatever failed: find it, keep the others.
        log.warning("dossier batch rolled back, retried record by record: %s", describe(error))
        discard_unflushed(session)
        batch = Batch(session, now, calendar, scope_agency_id, code_length, zone)
        written = await batch.write(parsed, isolate=True)
    outcomes += [outcome for outcome, _ in written]
    accepted = [(outcome, dossier) for outcome, dossier in written if dossier is not None]

    ids = [dossier.id for _, dossier in accepted]
    codes: dict[int, str] = {}
    for start in range(0, len(ids), 500):
        rows = await session.execute(
            select(StartCode.dossier_id, StartCode.code).where(
                StartCode.dossier_id.in_(ids[start : start + 500])
            )
        )
        codes.update({key: value for key, value in rows})
    for outcome, dossier in accepted:
        outcome.start_code = codes.get(dossier.id)
    outcomes.sort(key=lambda outcome: outcome.ref)
    return outcomes


async def stored_dates(
    session: AsyncSession, codes: Sequence[str]
) -> dict[str, tuple[date | None, date | None]]:
    """(appointment date, due date) of each named dossier, as now stored."""
    dates: dict[str, tuple[date | None, date | None]] = {}
    for start in range(0, len(codes), 500):
        rows = await session.execute(
            select(Dossier.code, Dossier.appointment_date, Dossier.due_date).where(
                Dossier.code.in_(codes[start : start + 500])
            )
        )
        dates.update({code: (appointment, due) for code, appointment, due in rows})
    return dates
