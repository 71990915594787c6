"""GET /metrics: the process's metrics (`bot.metrics`) in the Prometheus text format.

/metrics is installed by `bot.web.build_app`, so it exists whatever channels run.
Each scrape also reads the leader flag, the outbox backlog (`bot.outbox_backlog`,
cached a few seconds) of the app's database, and what this process took of each shared
rate budget (`bot.rate_budget`) over the last minute, as a share of the whole limit:
the processes' values add up to the limit's use.
The counters hold no personal data, but they tell an outsider how busy the bot is
and how often it is attacked, so they are not public: with METRICS_TOKEN set, only
`Authorization: Bearer <token>` reads them (compared in constant time); without
it, only a client on this machine does (a loopback peer and no forwarding header,
as a reverse proxy on the same host would add), and everyone else gets 404.
"""

from __future__ import annotations

import ipaddress

from aiohttp import web

from bot import metrics
from bot.boundary import secret_equals
from bot.database import Database
from bot.outbox_backlog import BacklogGauges
from bot.rate_budget import budget_of

PATH = "/metrics"
_FORWARDING_HEADERS = ("Forwarded", "X-Forwarded-For", "X-Real-IP")
TOKEN_KEY = web.AppKey("metrics_token", str)
BACKLOG_KEY = web.AppKey("metrics_backlog", BacklogGauges)
DATABASE_KEY = web.AppKey("metrics_database", Database)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _is_local(request: web.Request) -> bool:
    if any(header in request.headers for header in _FORWARDING_HEADERS):
        return False
    try:
        return ipaddress.ip_address(request.remote or "").is_loopback
    except ValueError:
        return False


def _bearer_matches(request: web.Request, token: str) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and secret_equals(given, token)


async def _metrics(request: web.Request) -> web.Response:
    token = request.app.get(TOKEN_KEY)
    if token:
        if not _bearer_matches(request, token):
            return web.Response(
                status=401, text="unauthorized", headers={"WWW-Authenticate": "Bearer"}
            )
    elif not _is_local(request):
        return web.Response(status=404, text="not found")
    database = request.app.get(DATABASE_KEY)
    if database is not None:
        metrics.set_gauge(metrics.LEADER, int(database.leadership.held))
        for use in budget_of(database).use():
            metrics.set_gauge(metrics.RATE_BUDGET_USE, use.taken / use.capacity, lane=use.name)
        await request.app[BACKLOG_KEY].refresh()
    return web.Response(body=metrics.render().encode(), headers={"Content-Type": CONTENT_TYPE})


def install(
    app: web.Application, token: str | None = None, database: Database | None = None
) -> None:
    """Add GET /metrics to the web app once, protected by `token` (see the docstring)."""
    if token:
        app[TOKEN_KEY] = token
    if database is not None:
        app[DATABASE_KEY] = database
        app[BACKLOG_KEY] = BacklogGauges(database)
    if not any(resource.canonical == PATH for resource in app.router.resources()):
        app.router.add_get(PATH, _metrics)
