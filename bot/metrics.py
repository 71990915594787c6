"""Process-wide event counters, served at GET /metrics in the Prometheus text format.

Some failures must not pass silently yet must not stop the bot either (a reply
outside Zalo's free window, a failed token refresh, a forged webhook call): each
is logged and counted, so an operator can alert on a number instead of reading logs.

/metrics is installed by `bot.web.build_app`, so it exists whatever channels run.
The counters hold no personal data, but they tell an outsider how busy the bot is
and how often it is attacked, so they are not public: with METRICS_TOKEN set, only
`Authorization: Bearer <token>` reads them (compared in constant time); without
it, only a client on this machine does (a loopback peer and no forwarding header,
as a reverse proxy on the same host would add), and everyone else gets 404.
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter

from aiohttp import web

from bot.boundary import secret_equals

COUNTERS: Counter[str] = Counter()
PATH = "/metrics"
_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
_FORWARDING_HEADERS = ("Forwarded", "X-Forwarded-For", "X-Real-IP")
TOKEN_KEY = web.AppKey("metrics_token", str)


def increment(name: str, amount: int = 1) -> None:
    if not _NAME.match(name):
        raise ValueError(f"bad metric name {name!r}")
    COUNTERS[name] += amount


def value(name: str) -> int:
    return COUNTERS[name]


def render() -> str:
    lines = []
    for name in sorted(COUNTERS):
        lines += [f"# TYPE {name} counter", f"{name} {COUNTERS[name]}"]
    return "\n".join(lines) + "\n"


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
    return web.Response(text=render(), content_type="text/plain")


def install(app: web.Application, token: str | None = None) -> None:
    """Add GET /metrics to the web app once, protected by `token` (see the docstring)."""
    if token:
        app[TOKEN_KEY] = token
    if not any(resource.canonical == PATH for resource in app.router.resources()):
        app.router.add_get(PATH, _metrics)
