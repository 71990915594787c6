"""`/web` through the real inbound path: a one-time dashboard link for officials only."""

from __future__ import annotations

import re

from sqlalchemy import select

from bot.models import DashboardSignin
from bot.settings import OfficialSettings, Settings, SurveySettings, TelegramSettings
from handlers.officials import access, signin
from tests.builders import TRANSLATOR, Citizen, FakeClock, make_processor
from tests.officials_helpers import invite, officials, seed_agencies, vn
from tests.web_session_helpers import access_rows

BASE = "https://sipas.example.gov.vn"
REFUSED = TRANSLATOR("vi", "official_refused")


def settings(database, base_url: str | None = BASE) -> Settings:
    return Settings(
        database_url=database.url,
        public_base_url=base_url,
        telegram=TelegramSettings(bot_token=None),
        survey=SurveySettings(),
        officials=OfficialSettings(),
    )


async def test_an_official_gets_a_single_use_link_of_their_own(database):
    await seed_agencies(database)
    clock = FakeClock(vn(2026, 11, 20))
    processor = make_processor(database, clock, settings(database))
    official = Citizen(processor, "7101")
    code = await invite(database, access.ADMIN, "DNAI-STP", now=clock.now)
    (registered,) = await official.say(f"/register {code}")
    assert "/web" in registered.text
    (reply,) = await official.say("/web")
    links = re.findall(rf"{re.escape(BASE)}/dashboard/signin/([A-Za-z0-9_-]+)", reply.text)
    assert len(links) == 1 and "10 phút" in reply.text
    (row,) = await officials(database)
    async with database.transaction() as session:
        stored = await session.scalar(select(DashboardSignin))
        assert stored.official_id == row.id
        assert await signin.link_usable(session, links[0], clock.now)
    assert links[0] not in repr(stored.__dict__)
    (again,) = await official.say("/web")  # a second link; the first one still works
    assert again.text != reply.text and await access_rows(database) == (2, 0)


async def test_citizens_and_revoked_officials_are_refused_with_the_generic_answer(database):
    await seed_agencies(database)
    clock = FakeClock(vn(2026, 11, 20))
    processor = make_processor(database, clock, settings(database))
    citizen = Citizen(processor, "7110")
    assert [r.text for r in await citizen.say("/web")] == [REFUSED]
    official = Citizen(processor, "7111")
    await official.say(f"/register {await invite(database, now=clock.now)}")
    (row,) = await officials(database)
    async with database.transaction() as session:
        await access.revoke(session, row.id, clock.now)
    assert [r.text for r in await official.say("/web")] == [REFUSED]
    assert await access_rows(database) == (0, 0)


async def test_without_a_public_address_the_dashboard_is_said_to_be_not_set_up(database):
    await seed_agencies(database)
    clock = FakeClock(vn(2026, 11, 20))
    official = Citizen(make_processor(database, clock, settings(database, None)), "7120")
    await official.say(f"/register {await invite(database, now=clock.now)}")
    (reply,) = await official.say("/web")
    assert reply.text == TRANSLATOR("vi", "official_web_unavailable")
    assert await access_rows(database) == (0, 0)
    await official.say("/lang en")
    (english,) = await official.say("/web")
    assert english.text == TRANSLATOR("en", "official_web_unavailable")
