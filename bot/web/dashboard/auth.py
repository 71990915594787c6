"""Signing in and out of the dashboard over HTTP, and who is asking on each request.

GET /dashboard/signin/<token> only shows a "Sign in" button (a chat app fetching the
link for its preview must not spend it); the button posts to the same address, which
spends the link and sets the session cookie: HttpOnly, SameSite=Strict, path
/dashboard/, Secure when PUBLIC_BASE_URL is https, lasting
OFFICIALS_DASHBOARD_SESSION_HOURS. POST /dashboard/signout deletes the session. Posts
from another origin are refused (SameSite already keeps the cookie off them).

`viewer` is asked by every page and export before it reads its query: the session, the
official's standing and the scope are checked in the database each time
(`handlers.officials.signin`). Tokens never reach a log line.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from bot.database import Database
from bot.questionnaire import Questionnaire
from bot.settings import Settings
from bot.web.dashboard import pages
from bot.web.dashboard.query import language_of
from handlers.officials import signin

COOKIE = "sipas_dashboard"
ROOT = "/dashboard/"


@dataclass(frozen=True)
class Deps:
    """What the dashboard's routes are built with."""

    database: Database
    settings: Settings
    questionnaires: Mapping[str, Questionnaire]
    clock: Callable[[], datetime]

    @property
    def secure(self) -> bool:
        return (self.settings.public_base_url or "").startswith("https://")

    def today(self):
        return self.clock().astimezone(self.settings.zone).date()


async def viewer(deps: Deps, session: AsyncSession, request: web.Request) -> signin.Viewer | None:
    """The signed-in official behind the request's cookie, checked now; None otherwise."""
    cookie = request.cookies.get(COOKIE, "")
    return await signin.session_viewer(session, cookie, deps.clock())


def signed_out(request: web.Request) -> web.Response:
    """The page for a missing, expired or ended session: how to get a new link."""
    return pages.message(request, language_of(request.query), 403, "signed_out")


def _same_origin(deps: Deps, request: web.Request) -> bool:
    """False for a post that the browser says comes from another site (Sec-Fetch-Site),
    or whose Origin names another one. A request that says neither is let through: the
    SameSite cookie and the one-time token already bind it."""
    if request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
        return False
    origin = request.headers.get("Origin")
    if origin is None or origin == "null":
        return True
    base = urlsplit(deps.settings.public_base_url or "")
    return origin == f"{base.scheme}://{base.netloc}"


def add_routes(app: web.Application, deps: Deps) -> None:
    async def signin_page(request: web.Request) -> web.Response:
        lang = language_of(request.query)
        token = request.match_info["token"]
        async with deps.database.transaction() as session:
            usable = await signin.link_usable(session, token, deps.clock())
        if not usable:
            return pages.message(request, lang, 410, "link_unusable")
        return pages.page(request, "signin.html", lang, {"signed_in": False})

    async def signin_post(request: web.Request) -> web.Response:
        lang = language_of(request.query)
        if not _same_origin(deps, request):
            return pages.message(request, lang, 403, "link_unusable")
        token = request.match_info["token"]
        hours = deps.settings.officials.dashboard_session_hours
        async with deps.database.transaction() as session:
            cookie = await signin.open_session(session, token, deps.clock(), hours)
        if cookie is None:
            return pages.message(request, lang, 410, "link_unusable")
        response = web.Response(
            status=303, headers={**pages.HEADERS, "Location": pages.link(ROOT, {"lang": lang})}
        )
        response.set_cookie(
            COOKIE,
            cookie,
            path=ROOT,
            max_age=int(hours * 3600),
            httponly=True,
            samesite="Strict",
            secure=deps.secure,
        )
        return response

    async def signout(request: web.Request) -> web.Response:
        lang = language_of(request.query)
        if not _same_origin(deps, request):
            return pages.message(request, lang, 403, "signed_out")
        async with deps.database.transaction() as session:
            await signin.close_session(session, request.cookies.get(COOKIE, ""))
        response = pages.message(request, lang, 200, "goodbye")
        response.del_cookie(COOKIE, path=ROOT, secure=deps.secure, samesite="Strict")
        return response

    app.router.add_get(signin.PATH + "{token}", signin_page)
    app.router.add_post(signin.PATH + "{token}", signin_post)
    app.router.add_post(ROOT + "signout", signout)
