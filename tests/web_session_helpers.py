"""Builders for the dashboard's web tests: registered officials without a chat, their
sign-in links and sessions as `/web` and the sign-in button make them, and the
dashboard served on loopback (`dashboard_site`)."""

from __future__ import annotations

import socket
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import aiohttp
from sqlalchemy import func, select

from bot.database import Database
from bot.models import DashboardSession, DashboardSignin, Official
from bot.settings import (
    OfficialSettings,
    ScoringSettings,
    Settings,
    SurveySettings,
    TelegramSettings,
)
from bot.web import build_app, dashboard, start_server
from bot.web.dashboard import auth
from handlers.officials import access, signin
from tests.builders import QUESTIONNAIRES, FakeClock
from tests.dashboard_helpers import SETTINGS as SCORING
from tests.officials_helpers import invite

NOW = datetime(2025, 8, 5, 3, 0, tzinfo=UTC)  # 10:00 in Hà Nội, in August 2025


async def registered_official(
    database: Database, agency: str | None, *, now: datetime, role: str = access.OFFICIAL
) -> int:
    """A registered official of `agency` (None: the province); its id."""
    code = await invite(database, role, agency, now=now)
    async with database.transaction() as session:
        official = await session.scalar(
            select(Official).where(Official.invite_hash == access.hash_code(code))
        )
        official.registered_at = now
        return official.id


async def sign_in_link(database: Database, official_id: int, now: datetime) -> str:
    async with database.transaction() as session:
        official = await session.get(Official, official_id)
        return await signin.issue_link(session, official, now)


async def signed_in(database: Database, official_id: int, now: datetime, hours=8.0) -> str:
    """A session cookie for the official, through a fresh sign-in link."""
    token = await sign_in_link(database, official_id, now)
    async with database.transaction() as session:
        cookie = await signin.open_session(session, token, now, hours)
    assert cookie is not None
    return cookie


async def access_rows(database: Database) -> tuple[int, int]:
    """(sign-in links, sessions) stored."""
    async with database.transaction() as session:
        links = await session.scalar(select(func.count()).select_from(DashboardSignin))
        sessions = await session.scalar(select(func.count()).select_from(DashboardSession))
    return links or 0, sessions or 0


@dataclass
class Site:
    """The dashboard on a loopback server: its address, clock and settings."""

    base: str
    clock: FakeClock
    settings: Settings
    database: Database

    async def cookie_of(self, official_id: int) -> str:
        hours = self.settings.officials.dashboard_session_hours
        return await signed_in(self.database, official_id, self.clock.now, hours)

    def client(self, cookie: str | None = None) -> aiohttp.ClientSession:
        """A client sending the session cookie as a browser would (or none)."""
        headers = {"Cookie": f"{auth.COOKIE}={cookie}"} if cookie else None
        # An IP address host keeps its cookies only in an "unsafe" jar.
        jar = aiohttp.CookieJar(unsafe=True)
        return aiohttp.ClientSession(base_url=self.base, headers=headers, cookie_jar=jar)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@asynccontextmanager
async def dashboard_site(
    database: Database,
    now: datetime = NOW,
    scoring: ScoringSettings = SCORING,
    scheme: str = "http",
    **officials: object,
):
    """The bot's web app (as `build_web_app` makes it) on a free loopback port;
    PUBLIC_BASE_URL names it, with `scheme` (https only changes what the cookie says)."""
    port = free_port()
    settings = Settings(
        database_url=database.url,
        public_base_url=f"{scheme}://127.0.0.1:{port}",
        telegram=TelegramSettings(bot_token=None),
        survey=SurveySettings(),
        scoring=scoring,
        officials=OfficialSettings(**officials),
    )
    clock = FakeClock(now)
    app = build_app(database)
    dashboard.install(app, database, settings, QUESTIONNAIRES, clock)
    runner = await start_server(app, "127.0.0.1", port)
    try:
        yield Site(f"http://127.0.0.1:{port}", clock, settings, database)
    finally:
        await runner.cleanup()
