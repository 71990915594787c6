"""An official on Telegram, end to end: the real PTB client against the fake Bot API
server registers, reads /scores (a photo), /export (a document), and receives a
scheduled digest (text, photo, document) through the outbox sender."""

from __future__ import annotations

import io
from datetime import date

import pytest
from openpyxl import load_workbook

from bot.database import Database
from bot.jobs.digests import renderers, run_due
from bot.outbox import OutboxSender
from bot.settings import OutboxSettings
from tests.bot.channels.telegram_harness import running_bot
from tests.builders import QUESTIONNAIRES, TRANSLATOR, FakeClock
from tests.fakes.telegram import FakeTelegram
from tests.officials_helpers import (
    all_at,
    digests,
    invite,
    officials_settings,
    respond,
    seed_agencies,
    vn,
)

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
FAST = OutboxSettings(platform_rates={"telegram": 1000.0})
PNG = b"\x89PNG\r\n\x1a\n"


async def test_an_official_registers_reads_scores_and_receives_a_digest(database: Database):
    ids = await seed_agencies(database)
    # The harness's clock: Monday 23 Nov 2026, 10:00 in Vietnam.
    for agency, value in [("DNAI-STP", 5), ("BPHUOC-STP", 5), ("DNAI-STP-TTTG", 2)]:
        await respond(database, ids, agency, date(2026, 11, 24), all_at(value))
    await respond(database, ids, "DNAI-SYT", date(2026, 11, 24), all_at(1))  # out of scope
    code = await invite(database, agency="DNAI-STP", now=vn(2026, 11, 20))
    async with FakeTelegram() as fake, running_bot(database, fake, "polling") as (channel, _):
        user = fake.user(6001)
        user.send(f"/register {code}")
        await user.expect("Đăng ký thành công")

        user.send("/scores week")
        photo = await user.expect(lambda message: message.kind == "photo")
        assert photo.text.startswith("Chỉ số hài lòng 23/11/2026 – 29/11/2026")
        assert "Số phiếu: 3 (kỳ trước: 0)." in photo.text
        assert photo.size > 10_000 and photo.content.startswith(PNG)

        user.send("/export week")
        document = await user.expect(lambda message: message.kind == "document")
        assert document.file_name == "sipas-2026-11-23_2026-11-29.xlsx"
        assert document.text.startswith("Bảng tính SIPAS 23/11/2026 – 29/11/2026")
        overview = dict(load_workbook(io.BytesIO(document.content))["Tổng quan"].values)
        assert overview["Số phiếu"] == 3 and overview["Kỳ báo cáo"] == "2026-11-23..2026-11-29"

        # The next Monday at 08:00 the digest falls due and the outbox delivers it.
        settings = officials_settings(database)
        clock = FakeClock(vn(2026, 11, 30, 8))
        assert await run_due(database, settings, QUESTIONNAIRES, TRANSLATOR, clock()) == 1
        sender = OutboxSender(
            database,
            FAST,
            {channel.name: channel},
            renderers(settings, TRANSLATOR, clock),
            clock=clock,
        )
        report = await sender.drain()
        assert (report.sent, report.failed) == (1, 0)
        (row,) = await digests(database)
        text = await user.expect("📊 Bản tin SIPAS hằng tuần: 23/11/2026 – 29/11/2026")
        assert text.text == row.text and "Số phiếu: 3 (kỳ trước: 0)." in text.text
        chart = await user.expect(lambda message: message.kind == "photo")
        assert chart.content == row.chart and chart.content.startswith(PNG)
        workbook = await user.expect(lambda message: message.kind == "document")
        assert workbook.file_name == "sipas-digest-2026-11-23_2026-11-29.xlsx"
        assert workbook.content == row.workbook
        assert (
            dict(load_workbook(io.BytesIO(workbook.content))["Tổng quan"].values)["Số phiếu"] == 3
        )
        # Delivered once: nothing left to send, and no second digest for the period.
        assert (await sender.drain()).sent == 0
        assert await run_due(database, settings, QUESTIONNAIRES, TRANSLATOR, clock()) == 0
        assert [m.kind for m in user.unread()] == []
