"""`POST /api/v1/dossiers`: one-stop systems push dossiers and state changes.

Body: `{"dossiers": [record, …]}` (or a bare list), each record as in
`handlers.dossiers.records` (code, agency, procedure_code, procedure_name, field,
citizen_name, phone, received_at, appointment_date or processing_days, state,
state_changed_at, pauses, new_appointment_date, delay_reason…). A record with a
code and a state only is a state change.

The key (`Authorization: Bearer sipas_…` or `X-Api-Key`) is checked before the
body is read; a missing, wrong or revoked key gets 401 and nothing is stored. Then
the body is read up to a limit (413), parsed as UTF-8 JSON of bounded depth (400,
whatever the Content-Type says), and each record is checked on its own by the strict
model of `handlers.dossiers.records`. A key writes only its own agency's dossiers: another
agency's record is rejected on its own, like any bad record, while the good ones are
kept. The answer (`dossiers_api.schema.json`, beside this module) lists, for each record in
order, its index, code and status, then either the reasons it was rejected or what to
print on the receipt: the start code of the survey (null when the dossier names no
catalogue procedure), the appointment date (as given, or computed from processing_days
and the working-day calendar) and, when supplement pauses moved it, the due date.
Times without a zone are read in the TIMEZONE setting's local time.

Statuses: 200 when at least one record was accepted (or the list was empty), 422
when every record was rejected (the same per-record body), 503 only when the
database is unavailable (the one-stop system should retry); nothing else is 5xx.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from datetime import date, datetime

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from bot.boundary import BoundaryError, parse_json
from bot.clock import utc_now
from bot.database import Database, is_unavailable
from bot.settings import Settings
from bot.web import presented_key
from handlers.dossiers import Outcome, load_calendar, stored_dates, upsert_dossiers, verify_key

log = logging.getLogger(__name__)
PATH = "/api/v1/dossiers"


class DossierApi:
    def __init__(
        self, database: Database, settings: Settings, clock: Callable[[], datetime] = utc_now
    ):
        self.database = database
        self.settings = settings
        self.clock = clock

    async def _read_body(self, request: web.Request) -> bytes | None:
        """The body, or None when it is larger than the limit."""
        limit = self.settings.dossier.api_max_body_bytes
        if request.content_length is not None and request.content_length > limit:
            return None
        chunks, size = [], 0
        async for chunk in request.content.iter_chunked(64 * 1024):
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
        return b"".join(chunks)

    async def post(self, request: web.Request) -> web.Response:
        presented = presented_key(request)
        if presented is None:
            return _error(401, "missing API key (Authorization: Bearer <key>)")
        try:
            async with self.database.transaction() as session:
                key = await verify_key(session, presented, self.clock())
                scope = key.agency_id if key is not None else None
        except Exception as error:
            if is_unavailable(error):
                return _error(503, "database unavailable, try again")
            raise
        if scope is None:
            return _error(401, "invalid or revoked API key")

        body = await self._read_body(request)
        if body is None:
            limit = self.settings.dossier.api_max_body_bytes
            return _error(413, f"body larger than {limit} bytes: send smaller batches")
        try:
            payload = parse_json(body)
        except BoundaryError as error:
            return _error(error.status, error.reason)
        records = payload.get("dossiers") if isinstance(payload, dict) else payload
        if not isinstance(records, list):
            return _error(400, 'expected {"dossiers": [ … ]}')
        if len(records) > self.settings.dossier.api_max_records:
            return _error(413, f"at most {self.settings.dossier.api_max_records} records a request")

        now = self.clock()
        try:
            async with self.database.transaction() as session:
                outcomes = await upsert_dossiers(
                    session,
                    list(enumerate(records)),
                    now=now,
                    calendar=await load_calendar(session),
                    zone=self.settings.zone,
                    scope_agency_id=scope,
                    code_length=self.settings.survey.code_length,
                )
                dates = await _dates(session, outcomes)
        except Exception as error:
            if is_unavailable(error):
                return _error(503, "database unavailable, try again")
            raise
        counts = Counter(outcome.status for outcome in outcomes)
        log.info("dossier API: %s", dict(counts))
        all_rejected = bool(outcomes) and counts["rejected"] == len(outcomes)
        return web.json_response(
            {
                "results": [_result(outcome, dates) for outcome in outcomes],
                "counts": {
                    status: counts.get(status, 0)
                    for status in ("created", "updated", "unchanged", "rejected")
                },
            },
            status=422 if all_rejected else 200,
        )


async def _dates(
    session: AsyncSession, outcomes: list[Outcome]
) -> dict[str, tuple[date | None, date | None]]:
    """(appointment date, due date) of each accepted record's dossier, as now stored."""
    return await stored_dates(
        session, [outcome.code for outcome in outcomes if outcome.status != "rejected"]
    )


def _result(outcome: Outcome, dates: dict[str, tuple[date | None, date | None]]) -> dict:
    """One record's answer (`dossiers_api.schema.json`): the receipt's start code and dates.

    `appointment_date` is the one given or the one computed from processing_days and
    the calendar; `due_date` appears only when pauses moved it past the appointment.
    """
    body = outcome.as_json()
    if outcome.status != "rejected" and outcome.code in dates:
        appointment, due = dates[outcome.code]
        body["appointment_date"] = appointment.isoformat() if appointment else None
        if due is not None and due != appointment:
            body["due_date"] = due.isoformat()
    return body


def _error(status: int, message: str) -> web.Response:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return web.json_response({"error": message}, status=status, headers=headers)


def add_dossier_routes(
    app: web.Application,
    database: Database,
    settings: Settings,
    clock: Callable[[], datetime] = utc_now,
) -> DossierApi:
    api = DossierApi(database, settings, clock)
    app.router.add_post(PATH, api.post)
    return api
