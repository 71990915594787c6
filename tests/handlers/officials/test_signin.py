"""`signin`: one-time dashboard links and sessions, on both databases."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from sqlalchemy import select

from bot.models import DashboardSession, DashboardSignin
from handlers.officials import access, signin
from tests.officials_helpers import seed_agencies, vn
from tests.web_session_helpers import access_rows, registered_official, sign_in_link, signed_in

NOW = vn(2026, 11, 20)


async def test_a_link_opens_one_session_once_and_only_hashes_are_stored(database):
    await seed_agencies(database)
    official = await registered_official(database, "DNAI-STP", now=NOW)
    token = await sign_in_link(database, official, NOW)
    async with database.transaction() as session:
        assert await signin.link_usable(session, token, NOW)
        assert await signin.link_usable(session, token, NOW)  # looking spends nothing
        cookie = await signin.open_session(session, token, NOW, 8)
        assert cookie is not None and cookie != token
        assert await signin.open_session(session, token, NOW, 8) is None
        assert not await signin.link_usable(session, token, NOW)
        viewer = await signin.session_viewer(session, cookie, NOW)
        assert viewer.official_id == official and viewer.scope.root_code == "DNAI-STP"
        link = await session.scalar(select(DashboardSignin))
        kept = await session.scalar(select(DashboardSession))
    assert link.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert kept.token_hash == hashlib.sha256(cookie.encode()).hexdigest()
    stored = repr([link.__dict__, kept.__dict__])
    assert token not in stored and cookie not in stored


async def test_a_link_expires_after_ten_minutes(database):
    await seed_agencies(database)
    official = await registered_official(database, None, now=NOW)
    token = await sign_in_link(database, official, NOW)
    expiry = NOW + timedelta(minutes=signin.LINK_MINUTES)
    async with database.transaction() as session:
        assert not await signin.link_usable(session, token, expiry)
        assert await signin.open_session(session, token, expiry, 8) is None
    async with database.transaction() as session:  # the refusal above spent nothing
        just_before = expiry - timedelta(seconds=1)
        assert await signin.open_session(session, token, just_before, 8) is not None


async def test_a_link_is_bound_to_the_official_who_asked(database):
    await seed_agencies(database)
    stp = await registered_official(database, "DNAI-STP", now=NOW)
    syt = await registered_official(database, "DNAI-SYT", now=NOW)
    cookie = await signed_in(database, syt, NOW)
    async with database.transaction() as session:
        viewer = await signin.session_viewer(session, cookie, NOW)
    assert viewer.official_id == syt and viewer.scope.codes == ("DNAI-SYT",)
    assert stp != syt


async def test_sessions_expire_after_the_setting_and_sign_out_ends_them(database):
    await seed_agencies(database)
    official = await registered_official(database, "DNAI-STP", now=NOW)
    cookie = await signed_in(database, official, NOW, hours=2)
    async with database.transaction() as session:
        late = NOW + timedelta(hours=2)
        assert await signin.session_viewer(session, cookie, late - timedelta(seconds=1))
        assert await signin.session_viewer(session, cookie, late) is None
    other = await signed_in(database, official, NOW)
    async with database.transaction() as session:
        await signin.close_session(session, other)
    async with database.transaction() as session:
        assert await signin.session_viewer(session, other, NOW) is None
        assert await signin.session_viewer(session, cookie, NOW) is not None


async def test_revoking_the_official_ends_every_session_at_once(database):
    await seed_agencies(database)
    official = await registered_official(database, "DNAI-STP", now=NOW)
    other = await registered_official(database, "DNAI-SYT", now=NOW)
    cookies = [await signed_in(database, official, NOW) for _ in range(2)]
    pending = await sign_in_link(database, official, NOW)
    kept = await signed_in(database, other, NOW)
    assert await access_rows(database) == (4, 3)
    async with database.transaction() as session:
        assert await access.revoke(session, official, NOW)
    assert await access_rows(database) == (1, 1)  # the other official's
    async with database.transaction() as session:
        for cookie in cookies:
            assert await signin.session_viewer(session, cookie, NOW) is None
        assert await signin.open_session(session, pending, NOW, 8) is None
        assert await signin.session_viewer(session, kept, NOW) is not None


async def test_a_revoked_official_is_refused_even_while_the_row_remains(database):
    """The per-request check does not rely on the rows being deleted."""
    await seed_agencies(database)
    official = await registered_official(database, "DNAI-STP", now=NOW)
    cookie = await signed_in(database, official, NOW)
    token = await sign_in_link(database, official, NOW)
    async with database.transaction() as session:
        row = await access.entitled_official(session, official)
        row.revoked_at = NOW
    async with database.transaction() as session:
        assert await signin.session_viewer(session, cookie, NOW) is None
        assert await signin.open_session(session, token, NOW, 8) is None


async def test_malformed_tokens_are_refused_without_a_query(database):
    for token in ("", "x" * 42, "x" * 44, "a/" * 22, "é" * 43):
        assert not signin.well_formed(token)
    async with database.transaction() as session:
        assert await signin.open_session(session, "x" * 44, NOW, 8) is None
        assert await signin.session_viewer(session, "", NOW) is None
    assert await access_rows(database) == (0, 0)
