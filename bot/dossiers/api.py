"""`POST /api/v1/dossiers`: one-stop systems push dossiers and state changes.

Body: `{"dossiers": [record, …]}` (or a bare list), each record as in
`bot.dossiers.records` (code, agency, procedure_code, procedure_name, field,
citizen_name, phone, received_at, appointment_date or processing_days, state,
state_changed_at, pauses, new_appointment_date, delay_reason…). A record with a
code and a state only is a state change.

The key (`Authorization: Bearer sipas_…` or `X-Api-Key`) is checked before the
body is read; a missing, wrong or revoked key gets 401 and nothing is stored. A key
writes only its own agency's dossiers: another agency's record is rejected on its
own, like any bad record, while the good ones are kept. The answer lists, for each
record in order, its status and the start code to print on the receipt.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable
from datetime import datetime

from aiohttp import web
from sqlalchemy.exc import InterfaceError, OperationalError

from bot.database import Database
from bot.dossiers.keys import verify_key
from bot.dossiers.store import upsert_dossiers
from bot.inbound import utc_now
from bot.settings import Settings
from bot.workdays import load_calendar

log = logging.getLogger(__name__)
PATH = "/api/v1/dossiers"


class DossierApi:
    def __init__(
        self, database: Database, settings: Settings, clock: Callable[[], datetime] = utc_now
    ):
        self.database = database
        self.settings = settings
        self.clock = clock

    @staticmethod
    def _presented_key(request: web.Request) -> str | None:
        header = request.headers.get("Authorization", "")
        if header[:7].lower() == "bearer ":
            return header[7:].strip() or None
        return request.headers.get("X-Api-Key") or None

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
        presented = self._presented_key(request)
        if presented is None:
            return _error(401, "missing API key (Authorization: Bearer <key>)")
        try:
            async with self.database.transaction() as session:
                key = await verify_key(session, presented, self.clock())
                scope = key.agency_id if key is not None else None
        except (OperationalError, InterfaceError, OSError):
            return _error(503, "database unavailable, try again")
        if scope is None:
            return _error(401, "invalid or revoked API key")

        body = await self._read_body(request)
        if body is None:
            limit = self.settings.dossier.api_max_body_bytes
            return _error(413, f"body larger than {limit} bytes: send smaller batches")
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return _error(400, "body is not JSON")
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
                    scope_agency_id=scope,
                    code_length=self.settings.survey.code_length,
                )
        except (OperationalError, InterfaceError, OSError):
            return _error(503, "database unavailable, try again")
        counts = Counter(outcome.status for outcome in outcomes)
        log.info("dossier API: %s", dict(counts))
        return web.json_response(
            {
                "results": [outcome.as_json() for outcome in outcomes],
                "counts": {
                    status: counts.get(status, 0)
                    for status in ("created", "updated", "unchanged", "rejected")
                },
            }
        )


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
