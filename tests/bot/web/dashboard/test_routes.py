"""The dashboard's routes over real loopback HTTP, on both databases: signing in and out,
cookies, scope enforcement by URL editing, identical 404s, 400s for bad queries."""

from __future__ import annotations

import re
from contextlib import contextmanager
from datetime import timedelta
from http.cookies import SimpleCookie

from sqlalchemy import event

from handlers.officials import access
from tests.dashboard_helpers import JULY, all_at, answer, province, seeded
from tests.web_session_helpers import (
    access_rows,
    dashboard_site,
    registered_official,
    sign_in_link,
)

SIGNIN = "/dashboard/signin/"


def _cookie(response) -> SimpleCookie:
    jar = SimpleCookie()
    for header in response.headers.getall("Set-Cookie", []):
        jar.load(header)
    return jar


async def test_the_link_shows_a_button_and_only_the_post_signs_in(database):
    await seeded(database)
    async with dashboard_site(database) as site:
        official = await registered_official(database, None, now=site.clock.now)
        token = await sign_in_link(database, official, site.clock.now)
        async with site.client() as client:
            for _ in range(3):  # a link preview, then the official, then again: nothing spent
                page = await client.get(SIGNIN + token)
                assert page.status == 200 and '<form method="post"' in await page.text()
                assert "Set-Cookie" not in page.headers
            assert await access_rows(database) == (1, 0)
            signed = await client.post(SIGNIN + token, allow_redirects=False)
            assert signed.status == 303 and signed.headers["Location"] == "/dashboard/?lang=vi"
            cookie = _cookie(signed)["sipas_dashboard"]
            assert cookie["httponly"] and cookie["samesite"] == "Strict"
            assert cookie["path"] == "/dashboard/" and not cookie["secure"]
            assert int(cookie["max-age"]) == 8 * 3600
            overview = await client.get("/dashboard/")
            assert overview.status == 200, await overview.text()
            assert "Tổng quan" in await overview.text()
            again = await client.post(SIGNIN + token, allow_redirects=False)
            assert again.status == 410 and "Set-Cookie" not in again.headers
            assert (await client.get(SIGNIN + token)).status == 410


async def test_the_cookie_is_secure_when_the_public_address_is_https(database):
    await seeded(database)
    async with dashboard_site(database, scheme="https", dashboard_session_hours=2) as site:
        official = await registered_official(database, None, now=site.clock.now)
        token = await sign_in_link(database, official, site.clock.now)
        async with site.client() as client:
            signed = await client.post(SIGNIN + token, allow_redirects=False)
    cookie = _cookie(signed)["sipas_dashboard"]
    assert cookie["secure"] and int(cookie["max-age"]) == 2 * 3600


async def test_an_expired_or_foreign_origin_sign_in_is_refused(database):
    await seeded(database)
    async with dashboard_site(database) as site:
        official = await registered_official(database, None, now=site.clock.now)
        token = await sign_in_link(database, official, site.clock.now)
        async with site.client() as client:
            for foreign in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
                refused = await client.post(SIGNIN + token, headers=foreign)
                assert refused.status == 403 and await access_rows(database) == (1, 0)
            site.clock.advance(minutes=10)
            expired = await client.post(SIGNIN + token, allow_redirects=False)
            assert expired.status == 410 and "Set-Cookie" not in expired.headers
            assert (await client.get(SIGNIN + token)).status == 410
            assert (await client.get(SIGNIN + "x" * 43)).status == 410
    assert await access_rows(database) == (1, 0)


async def test_sign_out_revocation_and_expiry_end_the_session(database):
    await seeded(database)
    async with dashboard_site(database, dashboard_session_hours=1) as site:
        official = await registered_official(database, None, now=site.clock.now)
        for end in ("sign out", "revoke", "expire"):
            cookie = await site.cookie_of(official)
            async with site.client(cookie) as client:
                assert (await client.get("/dashboard/")).status == 200
                if end == "sign out":
                    out = await client.post("/dashboard/signout")
                    assert out.status == 200 and "Đã đăng xuất" in await out.text()
                    assert _cookie(out)["sipas_dashboard"].value == ""
                elif end == "revoke":
                    async with database.transaction() as session:
                        assert await access.revoke(session, official, site.clock.now)
                else:
                    site.clock.advance(hours=1)
                refused = await client.get("/dashboard/?lang=en")
                assert refused.status == 403, end
                assert "/web" in await refused.text()
                assert "Not signed in" in await refused.text()
            if end == "revoke":
                official = await registered_official(database, None, now=site.clock.now)


async def test_an_agency_official_cannot_reach_another_unit_by_editing_the_url(database):
    await seeded(database)
    async with dashboard_site(database) as site:
        s1 = await registered_official(database, "S1", now=site.clock.now)
        s2 = await registered_official(database, "S2", now=site.clock.now)
        async with site.client(await site.cookie_of(s2)) as client:
            own = await client.get("/dashboard/units/S2?period=2025-07")
            assert own.status == 200 and "S2" in await own.text()
            overview = await (await client.get("/dashboard/?period=2025-07")).text()
            assert "S2" in overview and "/dashboard/units/S1" not in overview
            bodies = set()
            for path in (
                "/dashboard/units/S1",
                "/dashboard/units/NO-SUCH",
                "/dashboard/units/S1?period=2025-07",
                "/dashboard/units/%20S1",
            ):
                response = await client.get(path)
                assert response.status == 404, path
                bodies.add(await response.text())
            assert len(bodies) == 1 and "S1" not in bodies.pop()
            for export in ("xlsx", "csv", "png"):
                for unit in ("S1", "NO-SUCH"):
                    response = await client.get(f"/dashboard/export.{export}?view=unit&unit={unit}")
                    assert response.status == 404
        async with site.client(await site.cookie_of(s1)) as client:
            assert (await client.get("/dashboard/units/S1")).status == 200


async def test_bad_queries_get_a_400_page_in_the_chosen_language(database):
    await seeded(database)
    async with dashboard_site(database) as site:
        official = await registered_official(database, None, now=site.clock.now)
        async with site.client(await site.cookie_of(official)) as client:
            for query in (
                "period=2025-13",
                "period=1999",
                "period=2025-07&from=2025-01-01&to=2025-02-01",
                "from=2025-03-01",
                "from=2025-03-01&to=2025-02-01",
                "trend=week",
                "period=2025-07&period=2025-08",
                "colour=red",
                "view=unit&unit=S1",
                "period=%00",
            ):
                response = await client.get(f"/dashboard/?{query}&lang=en")
                assert response.status == 400, query
                assert "Invalid request" in await response.text()
            for query in ("period=2025-13", "lang=fr", "lang=en&lang=en"):  # in Vietnamese
                response = await client.get(f"/dashboard/?{query}")
                assert response.status == 400 and "Yêu cầu không hợp lệ" in await response.text()
            assert (await client.get("/dashboard/export.pdf")).status == 404
            assert (await client.get("/dashboard/export.csv?view=unit")).status == 400


async def test_every_answer_is_not_cached_and_allows_no_script(database):
    await seeded(database)
    async with dashboard_site(database) as site:
        official = await registered_official(database, None, now=site.clock.now)
        async with site.client(await site.cookie_of(official)) as client:
            for path in (
                "/dashboard/",
                "/dashboard/units/S1",
                "/dashboard/units/NONE",
                SIGNIN + "x",
            ):
                response = await client.get(path)
                assert response.headers["Cache-Control"] == "no-store", path
                policy = response.headers["Content-Security-Policy"]
                assert "default-src 'none'" in policy and "script" not in policy
                assert response.headers["Referrer-Policy"] == "same-origin"
                assert "<script" not in await response.text()
        assert timedelta(0) < timedelta(hours=site.settings.officials.dashboard_session_hours)
        assert re.match(r"http://127\.0\.0\.1:\d+$", site.base)


@contextmanager
def statements(database):
    """The SQL statements the database runs inside the block (a list, filled as they run)."""
    ran: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        ran.append(statement)

    event.listen(database.engine.sync_engine, "before_cursor_execute", count)
    try:
        yield ran
    finally:
        event.remove(database.engine.sync_engine, "before_cursor_execute", count)


async def test_a_page_runs_the_same_few_queries_whatever_the_number_of_units(database):
    ids = await seeded(database)
    async with dashboard_site(database) as site:
        official = await registered_official(database, None, now=site.clock.now)
        async with site.client(await site.cookie_of(official)) as client:
            measured = []
            for more in (0, 25):
                if more:
                    codes = [f"Z{i:02d}" for i in range(more)]
                    ids.update(
                        await province(database, {c: ("commune", None, None) for c in codes})
                    )
                    for code in codes:
                        await answer(database, ids, code, JULY, all_at(5))
                for path in ("/dashboard/?period=2025-07", "/dashboard/dossiers?period=2025-07"):
                    with statements(database) as ran:
                        assert (await client.get(path)).status == 200
                    measured.append(len(ran))
    print("statements per page (overview, dossiers; 11 then 36 units):", measured)
    assert measured[:2] == measured[2:], measured  # 11 units, then 36: no query per unit
    assert measured[0] <= 40, measured
