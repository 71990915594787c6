"""An official on Zalo Bot (which cannot carry files), end to end against the fake Zalo
server: /export and digests come as signed links to the project's own server, which
serve the workbook while the link is genuine and unexpired, and refuse it otherwise."""

from __future__ import annotations

import base64
import io
import json
import re
from contextlib import asynccontextmanager
from datetime import date

import aiohttp
from openpyxl import load_workbook

from bot.channels import zalo_bot
from bot.jobs.digests import renderers, run_due
from bot.outbox import OutboxSender
from bot.settings import OfficialSettings, OutboxSettings
from bot.web import build_app, start_server
from bot.web.files import add_official_routes
from handlers.officials import access, links
from tests.bot.channels.zalo_harness import bot_settings, make_settings
from tests.builders import QUESTIONNAIRES, TRANSLATOR, FakeClock, make_processor
from tests.fakes.zalo_bot import FakeZaloBot
from tests.officials_helpers import (
    LINK_SECRET,
    all_at,
    digests,
    invite,
    officials,
    respond,
    seed_agencies,
    vn,
)

CHAT = "z-official-1"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@asynccontextmanager
async def running(database, fake: FakeZaloBot, clock: FakeClock):
    """The Zalo Bot channel by webhook on the project's server, with the download route."""
    settings = make_settings(database, bot=bot_settings(fake, "webhook"))
    settings = settings.model_copy(update={"officials": OfficialSettings(link_secret=LINK_SECRET)})
    processor = make_processor(database, clock, settings)
    app = build_app(database)
    add_official_routes(app, database, settings, QUESTIONNAIRES, clock)
    channel = zalo_bot.build(settings, processor, app)
    assert channel is not None
    runner = await start_server(app, *settings.http_host_port)
    await channel.start()
    try:
        yield settings, channel
    finally:
        await channel.stop()
        await runner.cleanup()


async def say(fake: FakeZaloBot, text: str, needle: str) -> str:
    start = len(fake.sent[CHAT])
    assert await fake.post_webhook(fake.text_update(CHAT, text)) == 200
    return fake.sent[CHAT][await fake.wait_for(CHAT, start, needle)]


def link_in(text: str, label: str) -> str:
    match = re.search(rf"{label}: (https?://\S+)", text)
    assert match, text
    return match[1]


async def fetch(url: str) -> tuple[int, str, bytes]:
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        return response.status, response.content_type, await response.read()


def forged(url: str, **changes: object) -> str:
    """The same link with its payload changed and the old signature kept."""
    prefix, token = url.rsplit("/", 1)
    body, mac = token.split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload.update(changes)
    encoded = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    return f"{prefix}/{encoded}.{mac}"


async def test_exports_and_digests_reach_zalo_as_signed_expiring_links(database):
    ids = await seed_agencies(database)
    await respond(database, ids, "DNAI-STP", date(2026, 11, 24), all_at(5))
    await respond(database, ids, "BPHUOC-PB", date(2026, 11, 25), all_at(2))
    await respond(database, ids, "DNAI-SYT", date(2026, 11, 25), all_at(1))  # out of scope
    clock = FakeClock(vn(2026, 11, 26, 9))
    code = await invite(database, agency="DNAI-STP", now=clock.now)
    async with FakeZaloBot() as fake, running(database, fake, clock) as (settings, channel):
        await say(fake, f"/register {code}", "Đăng ký thành công")

        exported = await say(fake, "/export 2026-11", "Bảng tính Excel: ")
        assert "(Đường dẫn hết hạn lúc 09:00 27/11/2026.)" in exported
        url = link_in(exported, "Bảng tính Excel")
        status, kind, body = await fetch(url)
        assert (status, kind) == (200, XLSX)
        sheet = load_workbook(io.BytesIO(body))["Tổng quan"]
        overview = dict(sheet.iter_rows(values_only=True))
        assert overview["Kỳ báo cáo"] == "2026-11" and overview["Số phiếu"] == 2
        assert overview["Cơ quan"] == "BPHUOC-PB, BPHUOC-STP, DNAI-STP, DNAI-STP-TTTG"

        # Tampered: another official, a later expiry, or a broken signature.
        (official,) = await officials(database)
        for changes in ({"o": official.id + 1}, {"x": 4_102_444_800}, {"a": "DNAI-SYT"}):
            assert (await fetch(forged(url, **changes)))[0] == 403, changes
        assert (await fetch(url[:-2] + ("AA" if not url.endswith("AA") else "BB")))[0] == 403
        assert (await fetch(url.rsplit("/", 1)[0] + "/garbage"))[0] == 403
        # Even a genuinely signed link cannot reach outside the official's scope.
        outside = links.sign(
            LINK_SECRET.encode(),
            {
                "k": "xlsx",
                "o": official.id,
                "a": "DNAI-SYT",
                "p": ["2026-11-01", "2026-11-30", "month"],
                "x": 4_102_444_800,
            },
        )
        assert (await fetch(f"{settings.public_base_url}{links.PATH}/{outside}"))[0] == 403

        # The chart of /scores comes as a link as well.
        scores = await say(fake, "/scores 2026-11", "Biểu đồ: ")
        status, kind, body = await fetch(link_in(scores, "Biểu đồ"))
        assert (status, kind) == (200, "image/png") and body.startswith(b"\x89PNG")

        # Four days later the export link has expired; the Monday digest falls due and
        # goes through the outbox, with fresh links to its own stored files.
        clock.now = vn(2026, 11, 30, 8)
        status, _, body = await fetch(url)
        assert (status, body.decode()) == (410, "Liên kết này đã hết hạn.")
        assert await run_due(database, settings, QUESTIONNAIRES, TRANSLATOR, clock()) == 1
        sender = OutboxSender(
            database,
            OutboxSettings(platform_rates={"zalo_bot": 1000.0}),
            {channel.name: channel},
            renderers(settings, TRANSLATOR, clock),
            clock=clock,
        )
        assert (await sender.drain()).sent == 1
        (row,) = await digests(database)
        title = await fake.wait_for(CHAT, 0, "📊 Bản tin SIPAS hằng tuần: 23/11/2026 – 29/11/2026")
        assert fake.sent[CHAT][title] == row.text
        digest_links = fake.sent[CHAT][await fake.wait_for(CHAT, title, "Bảng tính Excel: ")]
        assert "(Đường dẫn hết hạn lúc 08:00 01/12/2026.)" in digest_links
        status, kind, body = await fetch(link_in(digest_links, "Bảng tính Excel"))
        assert (status, kind, body) == (200, XLSX, row.workbook)
        # The chart has its own message (caption and link), before the workbook's.
        chart_at = await fake.wait_for(CHAT, title, "Biểu đồ: ")
        chart_links = fake.sent[CHAT][chart_at]
        assert chart_links.startswith("Biểu đồ chỉ số hài lòng theo yếu tố\n")
        status, kind, body = await fetch(link_in(chart_links, "Biểu đồ"))
        assert (status, kind, body) == (200, "image/png", row.chart)
        assert body.startswith(b"\x89PNG\r\n\x1a\n")
        clock.advance(hours=24)
        assert (await fetch(link_in(digest_links, "Bảng tính Excel")))[0] == 410

        # Revoked: a fresh link stops working the moment the official is revoked.
        fresh = link_in(await say(fake, "/export 2026-11", "Bảng tính Excel: "), "Bảng tính Excel")
        assert (await fetch(fresh))[0] == 200
        async with database.transaction() as session:
            await access.revoke(session, official.id, clock.now)
        assert (await fetch(fresh))[0] == 403
