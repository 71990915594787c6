"""Signing in to the web dashboard: a one-time link from `/web`, then a browser session.

`/web` makes a random sign-in token (256 bits) bound to the official who asked; only its
SHA-256 is stored, with an expiry of `LINK_MINUTES`. Opening the link only shows a button
(a chat app's link preview fetches the URL too, and must not use it up); pressing it
posts back, and `open_session` spends the link once and starts a session: another random
token, for the cookie, again stored only as a hash.

Every request asks `session_scope`, which checks the session's expiry and that the
official is still registered and not revoked, then recomputes the scope from the
catalogue: revoking an official, or moving an agency, takes effect on the next click.
Revocation also deletes the sessions (`store.revoke`), so nothing is left to reuse.
Tokens are never logged, and every refusal looks the same to the browser.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import DashboardSession, DashboardSignin, Official
from handlers.officials import access, store

LINK_MINUTES = 10
PATH = "/dashboard/signin/"
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Viewer:
    """Who is looking at the dashboard now, and what they may see."""

    official_id: int
    role: str
    scope: access.Scope


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def well_formed(token: str) -> bool:
    """Whether a string could be one of our tokens at all (checked before any query)."""
    return _TOKEN.fullmatch(token) is not None


def link_of(base_url: str, token: str) -> str:
    return f"{base_url}{PATH}{token}"


async def issue_link(session: AsyncSession, official: Official, now: datetime) -> str:
    """A new sign-in token for this official (shown once in the chat, never stored)."""
    token = secrets.token_urlsafe(32)
    await store.add_row(
        session,
        DashboardSignin(
            official_id=official.id,
            token_hash=_hash(token),
            created_at=now,
            expires_at=now + timedelta(minutes=LINK_MINUTES),
        ),
    )
    return token


async def link_usable(session: AsyncSession, token: str, now: datetime) -> bool:
    """Whether the link would open a session now; reading it spends nothing."""
    if not well_formed(token):
        return False
    row = await store.signin_state(session, _hash(token))
    return row is not None and row.used_at is None and row.expires_at > now


async def open_session(
    session: AsyncSession, token: str, now: datetime, hours: float
) -> str | None:
    """Spend the sign-in link and start a session; its cookie token, or None.

    Unknown, used, expired links and links of officials revoked since all give None.
    The row is locked, so two posts of one link open one session.
    """
    if not well_formed(token):
        return None
    row = await store.signin_locked(session, _hash(token))
    if row is None or row.used_at is not None or row.expires_at <= now:
        return None
    row.used_at = now
    official = await access.entitled_official(session, row.official_id)
    if not access.allowed(official, "web"):
        return None
    await store.prune_dashboard_access(session, now)
    cookie = secrets.token_urlsafe(32)
    await store.add_row(
        session,
        DashboardSession(
            official_id=official.id,
            token_hash=_hash(cookie),
            created_at=now,
            expires_at=now + timedelta(hours=hours),
        ),
    )
    return cookie


async def session_viewer(session: AsyncSession, cookie: str, now: datetime) -> Viewer | None:
    """The viewer behind a session cookie, with the scope as the catalogue has it now;
    None for an unknown or expired session, a revoked official, or one whose own agency
    left the catalogue."""
    if not well_formed(cookie):
        return None
    official = await store.session_official(session, _hash(cookie), now)
    if not access.allowed(official, "web"):
        return None
    try:
        scope = await access.official_scope(session, official)
    except access.OutOfScope:
        return None
    return Viewer(official.id, official.role, scope)


async def close_session(session: AsyncSession, cookie: str) -> None:
    """Sign out: the session row goes, so the cookie opens nothing even if kept."""
    if well_formed(cookie):
        await store.delete_session(session, _hash(cookie))
