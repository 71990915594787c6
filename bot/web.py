"""The project's aiohttp server. Channels and APIs add their routes to it."""

from __future__ import annotations

from aiohttp import web

from bot.database import Database

DATABASE_KEY = web.AppKey("database", Database)


async def healthz(request: web.Request) -> web.Response:
    """200 when the database answers, 503 otherwise, so a load balancer can route around."""
    reachable = await request.app[DATABASE_KEY].ping()
    body = {"status": "ok" if reachable else "unavailable", "database": reachable}
    return web.json_response(body, status=200 if reachable else 503)


def build_app(database: Database) -> web.Application:
    app = web.Application(client_max_size=1024 * 1024)
    app[DATABASE_KEY] = database
    app.router.add_get("/healthz", healthz)
    return app


async def start_server(app: web.Application, host: str, port: int) -> web.AppRunner:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
