"""The officials' web dashboard under /dashboard/ (issue 14): pages, exports, sign-in.

An official sends `/web` in chat and opens the one-time link it returns; from then on a
session cookie identifies them, and every page and export checks the session, the
official's standing and the scope on each request (`auth`). What the pages show comes
from the use cases (`handlers.dashboard`, `handlers.dossiers`); this package only
translates HTTP, validates the query (`query`), and writes HTML (`pages`, `views`,
templates in `templates/`, one style sheet in `static/`) and files (`exports`). No
script, no CDN, no build step: charts are SVG drawn on the server.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from importlib.resources import files

from aiohttp import web

from bot.clock import utc_now
from bot.database import Database
from bot.questionnaire import Questionnaire
from bot.settings import Settings
from bot.web.dashboard import auth, exports, pages, views

STYLE = files("bot.web.dashboard").joinpath("static/dashboard.css").read_bytes()


async def _style(request: web.Request) -> web.Response:
    return web.Response(
        body=STYLE,
        content_type="text/css",
        headers={"Cache-Control": "max-age=3600", "X-Content-Type-Options": "nosniff"},
    )


def install(
    app: web.Application,
    database: Database,
    settings: Settings,
    questionnaires: Mapping[str, Questionnaire],
    clock: Callable[[], datetime] = utc_now,
) -> None:
    """Add the dashboard's routes to the bot's web application."""
    deps = auth.Deps(database, settings, questionnaires, clock)
    pages.setup(app)
    auth.add_routes(app, deps)
    views.add_routes(app, deps)
    exports.add_routes(app, deps)
    app.router.add_get("/dashboard/static/dashboard.css", _style)
