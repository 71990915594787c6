"""The project's aiohttp server. Channels and APIs add their routes to it.

It always serves /healthz and /metrics (bot.web.metrics), whatever channels run.
`read_bounded` is how a route reads a request body: never more than it allows;
`presented_key` is where the APIs find a client's key.
"""

from __future__ import annotations

from aiohttp import web
from pydantic import SecretStr

from bot.boundary import BoundaryError
from bot.database import Database
from bot.web import metrics

DATABASE_KEY = web.AppKey("database", Database)
MAX_REQUEST_BYTES = 1024 * 1024


async def healthz(request: web.Request) -> web.Response:
    """200 when the database answers, 503 otherwise, so a load balancer can route around;
    `leader` says whether this process runs the scheduled jobs (bot.scheduler)."""
    database = request.app[DATABASE_KEY]
    reachable = await database.ping()
    body = {
        "status": "ok" if reachable else "unavailable",
        "database": reachable,
        "leader": database.leadership.held,
    }
    return web.json_response(body, status=200 if reachable else 503)


def presented_key(request: web.Request) -> str | None:
    """The API key a client presents: `Authorization: Bearer <key>` or `X-Api-Key`."""
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    return request.headers.get("X-Api-Key") or None


async def read_bounded(request: web.Request, max_bytes: int) -> bytes:
    """The request body; BoundaryError 413 as soon as it is longer than `max_bytes`."""
    if (request.content_length or 0) > max_bytes:
        raise BoundaryError(413, "body too large")
    body = bytearray()
    async for chunk in request.content.iter_chunked(64 * 1024):
        body += chunk
        if len(body) > max_bytes:
            raise BoundaryError(413, "body too large")
    return bytes(body)


def build_app(database: Database, metrics_token: SecretStr | str | None = None) -> web.Application:
    app = web.Application(client_max_size=MAX_REQUEST_BYTES)
    app[DATABASE_KEY] = database
    app.router.add_get("/healthz", healthz)
    if isinstance(metrics_token, SecretStr):
        metrics_token = metrics_token.get_secret_value()
    metrics.install(app, metrics_token, database)
    return app


async def start_server(app: web.Application, host: str, port: int) -> web.AppRunner:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
