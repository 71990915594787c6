"""Hostile queries and keys against the reports API, over real loopback HTTP, both databases:
every answer is below 500, and nothing is stored (a key's `last_used_at` aside)."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from yarl import URL

from bot.models import Base, ReportConsumer
from bot.web.reports_api import DOSSIERS_PATH, PATH
from handlers.consumers import create_consumer, revoke_consumer
from tests.bot.web.test_reports_api import NOW, api
from tests.timeliness_helpers import seed_february

FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
STATUSES: Counter = Counter()
NAMES = ["period", "from", "to", "group_by", "agency", "service", "channel", "lang"]
VALUES = st.one_of(
    st.sampled_from(
        [
            "2027-02",
            "2027-Q1",
            "2027",
            "2027-02-01",
            "2027-02-31",
            "none",
            "agency,month",
            "DNAI-XTEST",
            "DNAI-STP",
            "HT-KS",
            "telegram",
            "vi",
            "en",
            "",
            " ",
            "1999-01",
            "2027-02-01..2027-01-01",
            "9999-99-99",
        ]
    ),
    st.text(max_size=60),
)
PAIRS = st.lists(
    st.tuples(st.one_of(st.sampled_from(NAMES), st.text(max_size=12)), VALUES), max_size=6
)
RAW = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=126, exclude_characters="#"),
    max_size=120,
)


@pytest.fixture(scope="session", autouse=True)
def print_statuses():
    yield
    print(f"\nreports API fuzz: {sum(STATUSES.values())} requests, statuses {dict(STATUSES)}")


@pytest.fixture
async def setup(database):
    await seed_february(database)
    async with database.transaction() as session:
        province = await create_consumer(session, agency_code=None, label="IOC", now=NOW)
        commune = await create_consumer(session, agency_code="DNAI-XTEST", label="xã", now=NOW)
        revoked = await create_consumer(session, agency_code=None, label="old", now=NOW)
        await revoke_consumer(session, revoked.split(".")[0][7:], NOW)
    keys = {
        "province": province,
        "commune": commune,
        "revoked": revoked,
        "wrong": province[:-3] + ("xyz" if not province.endswith("xyz") else "abc"),
        "none": None,
    }
    async with api(database) as client:
        yield database, client, keys


async def snapshot(database) -> tuple:
    """Row counts of every table, and the consumers as stored but for their last use."""
    async with database.transaction() as session:
        counts = [
            await session.scalar(select(func.count()).select_from(table))
            for table in Base.metadata.sorted_tables
        ]
        consumers = (
            await session.execute(
                select(
                    ReportConsumer.key_id,
                    ReportConsumer.secret_hash,
                    ReportConsumer.agency_id,
                    ReportConsumer.label,
                    ReportConsumer.revoked_at,
                ).order_by(ReportConsumer.id)
            )
        ).all()
    return tuple(counts), tuple(consumers)


def headers_for(key: str | None, style: int) -> dict[str, str]:
    if key is None:
        return {}
    return {"Authorization": f"Bearer {key}"} if style else {"X-Api-Key": key}


@FUZZ
@given(
    path=st.sampled_from([PATH, DOSSIERS_PATH]),
    who=st.sampled_from(["province", "commune", "revoked", "wrong", "none"]),
    style=st.integers(0, 1),
    pairs=PAIRS,
)
async def test_any_query_is_answered_below_500_and_stores_nothing(setup, path, who, style, pairs):
    database, client, keys = setup
    before = await snapshot(database)
    response = await client.get(path, params=pairs, headers=headers_for(keys[who], style))
    STATUSES[response.status] += 1
    assert response.status < 500, (path, pairs, await response.text())
    if who in ("revoked", "wrong", "none"):
        assert response.status == 401
    assert await snapshot(database) == before


@FUZZ
@given(path=st.sampled_from([PATH, DOSSIERS_PATH]), raw=RAW, key=st.text(max_size=80))
async def test_raw_query_strings_and_keys_are_answered_below_500(setup, path, raw, key):
    database, client, keys = setup
    before = await snapshot(database)
    url = URL(f"{path}?{raw}", encoded=True)
    for headers in ({"Authorization": f"Bearer {keys['province']}"}, {"X-Api-Key": key}):
        try:
            response = await client.get(url, headers=headers)
        except ValueError:  # a header value aiohttp itself refuses to send
            continue
        STATUSES[response.status] += 1
        assert response.status < 500, (raw, await response.text())
    assert await snapshot(database) == before
