"""`GET /api/v1/reports` and `GET /api/v1/reports/dossiers`: the operations centre's JSON.

`/api/v1/reports` answers exactly what `bot report --format json` prints for the same
filters (`handlers/reports/report.schema.json`): `period` (2025-07, 2025-Q3, 2025,
2025-01-15..2025-03-20) or `from` and `to`, `group_by` (agency, service, level,
channel, month, comma-separated, or none; default agency), `agency` and `service`
(codes, repeated or comma-separated), `channel` (channel kind), `lang` (vi, en).
Without a period: the current quarter. `/api/v1/reports/dossiers` answers what
`bot dossiers timeliness --format json` prints (`handlers/dossiers/timeliness.schema.json`):
`period` or `from`/`to` (default: the current month) and `agency`.

Order: the key (`Authorization: Bearer sipasr_…` or `X-Api-Key`) is checked before
the query is read: missing, wrong or revoked, the answer is 401 and the same body, so
nothing is learnt about keys. Then the query is validated by a strict model (400
with the reasons). An agency outside the key's scope is 404, word for word as an
unknown one. 503 only when the database is unavailable; nothing else is 5xx. Only
reads, apart from the key's `last_used_at` (at most once a minute).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime

from aiohttp import web
from pydantic import ValidationError

from bot.boundary import describe_errors
from bot.clock import utc_now
from bot.database import Database, is_unavailable
from bot.questionnaire import Questionnaire
from bot.settings import Settings
from bot.web import presented_key
from handlers.consumers import (
    Consumer,
    DossiersQuery,
    NotFound,
    QueryError,
    ReportQuery,
    dossiers_answer,
    from_query,
    report_answer,
    verify_consumer,
)

log = logging.getLogger(__name__)
PATH = "/api/v1/reports"
DOSSIERS_PATH = "/api/v1/reports/dossiers"
MAX_QUERY_BYTES = 4096
UNAVAILABLE = "database unavailable, try again"


class Unavailable(Exception):
    """The database could not be reached: 503, the consumer retries."""


class ReportsApi:
    def __init__(
        self,
        database: Database,
        settings: Settings,
        questionnaires: Mapping[str, Questionnaire],
        clock: Callable[[], datetime] = utc_now,
    ):
        self.database = database
        self.settings = settings
        self.questionnaires = questionnaires
        self.clock = clock

    async def _consumer(self, request: web.Request) -> Consumer | None:
        presented = presented_key(request)
        if presented is None:
            return None
        try:
            async with self.database.transaction() as session:
                return await verify_consumer(session, presented, self.clock())
        except Exception as error:
            if is_unavailable(error):
                raise Unavailable from error
            raise

    async def _answer(
        self,
        request: web.Request,
        model: type[ReportQuery] | type[DossiersQuery],
        answer: Callable[..., Awaitable[str]],
    ) -> web.Response:
        try:
            consumer = await self._consumer(request)
            if consumer is None:
                return _error(401, "unauthorized")
            if len(request.query_string.encode()) > MAX_QUERY_BYTES:
                return _error(400, "invalid query", [f"longer than {MAX_QUERY_BYTES} bytes"])
            try:
                query = from_query(request.query.items(), model)
            except QueryError as error:
                return _error(400, "invalid query", error.reasons)
            except ValidationError as error:
                return _error(400, "invalid query", _reasons(error))
            now = self.clock()
            try:
                async with self.database.transaction() as session:
                    text = await answer(session, consumer, query, now=now)
            except NotFound as error:
                return _error(404, str(error))
            except Exception as error:
                if is_unavailable(error):
                    raise Unavailable from error
                raise
        except Unavailable:
            return _error(503, UNAVAILABLE)
        log.info("reports API: %s answered for %s", request.path, consumer.key_id)
        return web.Response(text=text, content_type="application/json", charset="utf-8")

    async def report(self, request: web.Request) -> web.Response:
        async def answer(session, consumer, query, *, now):
            return await report_answer(
                session,
                consumer,
                query,
                questionnaires=self.questionnaires,
                settings=self.settings,
                now=now,
            )

        return await self._answer(request, ReportQuery, answer)

    async def dossiers(self, request: web.Request) -> web.Response:
        async def answer(session, consumer, query, *, now):
            return await dossiers_answer(session, consumer, query, settings=self.settings, now=now)

        return await self._answer(request, DossiersQuery, answer)


def _reasons(error: ValidationError) -> list[str]:
    return [reason.replace("record: ", "query: ", 1) for reason in describe_errors(error)]


def _error(status: int, message: str, reasons: list[str] | None = None) -> web.Response:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    body: dict[str, object] = {"error": message}
    if reasons:
        body["reasons"] = reasons
    return web.json_response(body, status=status, headers=headers)


def add_reports_routes(
    app: web.Application,
    database: Database,
    settings: Settings,
    questionnaires: Mapping[str, Questionnaire],
    clock: Callable[[], datetime] = utc_now,
) -> ReportsApi:
    api = ReportsApi(database, settings, questionnaires, clock)
    app.router.add_get(PATH, api.report)
    app.router.add_get(DOSSIERS_PATH, api.dossiers)
    return api
