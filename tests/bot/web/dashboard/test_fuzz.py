"""Hostile requests against every dashboard route, over real loopback HTTP, on both
databases: any path segment, query string, cookie and method is answered below 500, and
nothing is stored (no session, no sign-in link spent, no official changed).
"""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from bot.models import DashboardSession, DashboardSignin, Official
from bot.web.dashboard.auth import COOKIE
from tests.dashboard_helpers import seeded
from tests.web_session_helpers import dashboard_site, registered_official, sign_in_link

FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
ROUTES = [
    ("GET", "/dashboard/"),
    ("GET", "/dashboard/units/{segment}"),
    ("GET", "/dashboard/dossiers"),
    ("GET", "/dashboard/export.{segment}"),
    ("GET", "/dashboard/export.csv"),
    ("GET", "/dashboard/signin/{segment}"),
    ("POST", "/dashboard/signin/{segment}"),
    ("POST", "/dashboard/signout"),
    ("GET", "/dashboard/static/dashboard.css"),
]
KEYS = ["period", "from", "to", "trend", "lang", "view", "unit", "x", ""]
VALUES = st.one_of(
    st.sampled_from(
        [
            "2025-07",
            "2025-Q3",
            "2025-q5",
            "2025",
            "0000",
            "9999-12",
            "2025-07-01",
            "2025-02-30",
            "vi",
            "en",
            "month",
            "quarter",
            "unit",
            "overview",
            "dossiers",
            "S1",
            "S2",
            "",
            "\x00",
            "é" * 70,
            "../../etc/passwd",
            "<script>",
        ]
    ),
    st.text(max_size=40),
)
queries = st.lists(st.tuples(st.sampled_from(KEYS), VALUES), max_size=6)
segments = st.one_of(st.sampled_from(["S1", "S2", "xlsx", "png", "csv", "..", "%00"]), st.text())
COOKIES = ["good", "none", "garbage", "other"]


@pytest.fixture
async def site(database):
    """The province, an S2 official signed in, an unspent link of theirs, and the server."""
    await seeded(database)
    async with dashboard_site(database) as running:
        official = await registered_official(database, "S2", now=running.clock.now)
        await sign_in_link(database, official, running.clock.now)
        state = {"official": official, "cookie": await running.cookie_of(official)}
        yield running, state


async def snapshot(database) -> tuple:
    """Everything a request could change: sessions, links (spent or not), officials."""
    async with database.transaction() as session:
        sessions = (await session.execute(select(DashboardSession.token_hash))).all()
        links = (await session.execute(select(DashboardSignin.id, DashboardSignin.used_at))).all()
        officials = (await session.execute(select(Official.id, Official.revoked_at))).all()
    return sorted(sessions), sorted(links), sorted(officials)


@FUZZ
@given(
    route=st.sampled_from(ROUTES),
    segment=segments,
    query=queries,
    cookie=st.sampled_from(COOKIES),
)
async def test_any_request_is_answered_below_500_and_stores_nothing(
    site, route, segment, query, cookie
):
    running, state = site
    good = state["cookie"]
    before = await snapshot(running.database)
    method, template = route
    path = template.format(segment=quote(segment, safe=""))
    query_string = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in query)
    value = {"good": good, "garbage": "x" * 43, "other": "é;\x7f", "none": None}[cookie]
    headers = {"Cookie": f"{COOKIE}={quote(value)}"} if value else {}
    async with running.client() as client:
        response = await client.request(
            method, f"{path}?{query_string}" if query_string else path, headers=headers
        )
        body = await response.read()
    assert response.status < 500, (method, path, query_string, body[:200])
    after = await snapshot(running.database)
    if (method, template) == ("POST", "/dashboard/signout") and cookie == "good":
        # Signing out is the one change allowed: that session goes, nothing else.
        assert len(after[0]) == len(before[0]) - 1 and after[1:] == before[1:]
        state["cookie"] = await running.cookie_of(state["official"])
    else:
        assert after == before, (method, path, query_string)
