"""Builders for the dashboard's tests: registered officials without a chat, and their
sign-in links and sessions as `/web` and the sign-in button would make them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from bot.database import Database
from bot.models import DashboardSession, DashboardSignin, Official
from handlers.officials import access, signin
from tests.officials_helpers import invite


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
