"""The dashboard in a real headless Chromium (Debian's /usr/bin/chromium, driven by
Playwright), on both databases: sign in by the link `/web` sends in chat, read the
overview, open a unit, download the exports; another agency's official cannot reach
that unit by URL; a used or expired link is refused; the figures on the page are those
of `python -m bot report --format json` for the same filters.

Screenshots of every page (vi and en, desktop and phone widths) are written to
tests/artifacts/screenshots/ (git-ignored); the path is printed (run with -s).
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
from openpyxl import load_workbook
from playwright.async_api import async_playwright

from bot.cli import build_parser
from bot.i18n import number
from handlers.officials import access
from tests.builders import Citizen, make_processor
from tests.dashboard_helpers import JULY, all_at, answer, seeded
from tests.dossier_helpers import vn_time
from tests.officials_helpers import invite
from tests.timeliness_helpers import seed_february
from tests.web_session_helpers import dashboard_site

pytestmark = pytest.mark.xdist_group("chromium")
SHOTS = Path(__file__).resolve().parents[4] / "tests" / "artifacts" / "screenshots"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
LINK = re.compile(r"https?://\S+/dashboard/signin/[A-Za-z0-9_-]{43}")


@pytest.fixture(scope="session")
async def browser():
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--lang=vi-VN"],
        )
        yield launched
        await launched.close()


async def chat_link(site, chat_key: str, role: str, agency: str | None) -> str:
    """Register an official in chat and ask for the dashboard with /web: the link sent."""
    official = Citizen(make_processor(site.database, site.clock, site.settings), chat_key)
    code = await invite(site.database, role, agency, now=site.clock.now)
    await official.say(f"/register {code}")
    (reply,) = await official.say("/web")
    (link,) = LINK.findall(reply.text)
    return link


async def shoot(page, name: str, backend: str) -> None:
    """The page at desktop and phone width, full length."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    for width, size in (("desktop", DESKTOP), ("phone", PHONE)):
        await page.set_viewport_size(size)
        path = SHOTS / f"{backend}-{name}-{width}.png"
        await page.screenshot(path=str(path), full_page=True)
        print(f"screenshot: {path}")
    await page.set_viewport_size(DESKTOP)


async def bot_report_json(site, capsys, *argv: str) -> dict:
    """`python -m bot report --format json …` on the site's database and settings."""
    capsys.readouterr()
    args = build_parser().parse_args(["report", "--format", "json", *argv])
    assert await args.func(args, site.settings, site.database) == 0
    return json.loads(capsys.readouterr().out)


async def bot_report_text(site, capsys, *argv: str) -> str:
    capsys.readouterr()
    args = build_parser().parse_args(["report", *argv])
    assert await args.func(args, site.settings, site.database) == 0
    return capsys.readouterr().out


SUGGESTION = "<b>Cần thêm ghế</b> ở khu chờ & bảng số"


async def test_an_official_signs_in_by_the_chat_link_and_reads_the_pages(
    database, backend, browser, capsys, tmp_path
):
    ids = await seeded(database)
    await answer(database, ids, "S2", JULY, all_at(5, suggestion=SUGGESTION), channel="telegram")
    async with dashboard_site(database) as site:
        link = await chat_link(site, "8001", access.ADMIN, None)
        context = await browser.new_context(viewport=DESKTOP, accept_downloads=True, locale="vi-VN")
        page = await context.new_page()

        await page.goto(link)
        assert await page.inner_text("h1") == "Đăng nhập trang tổng hợp"
        await shoot(page, "signin-vi", backend)
        await page.click("button[type=submit]")
        await page.wait_for_url("**/dashboard/?lang=vi")
        await page.goto(site.base + "/dashboard/?period=2025-07")
        assert (await page.inner_text("h1")).startswith("Tổng quan: toàn tỉnh")
        await shoot(page, "overview-vi", backend)

        # The figures are the command's, for the same filters, as Vietnamese writes them.
        report = await bot_report_json(
            site, capsys, "--period", "2025-07", "--merge-successors", "--group-by", "agency"
        )
        sipas = report["total"]["overall"]["index"]
        shown = await page.inner_text("[data-figure=SIPAS]")
        assert shown == f"{number(sipas, 'vi')}%"
        for factor in report["total"]["factors"]:
            cell = await page.inner_text(f"[data-figure={factor['factor']}]")
            assert cell == ("—" if factor["index"] is None else f"{number(factor['index'], 'vi')}%")
        for group in report["groups"]:
            code = group["key"]["agency"]
            cells = await page.locator(f"td[data-unit={code}]").all_inner_texts()
            assert cells and set(cells) == {number(group["overall"]["index"], "vi")}, code

        await page.click("text=English")
        assert (await page.inner_text("h1")).startswith("Overview: the whole province")
        await shoot(page, "overview-en", backend)
        assert await page.inner_text("[data-figure=SIPAS]") == f"{number(sipas, 'en')}%"

        # Open a unit from the ranking.
        await page.click("a[href^='/dashboard/units/S2']")
        assert (await page.inner_text("h1")).startswith("S2")
        await shoot(page, "unit-en", backend)
        unit = await bot_report_json(
            site,
            capsys,
            "--period",
            "2025-07",
            "--merge-successors",
            "--agency",
            "S2",
            "--group-by",
            "channel",
        )
        shown = await page.inner_text("[data-figure=SIPAS]")
        assert shown == f"{number(unit['total']['overall']['index'], 'en')}%"
        await page.click("text=Tiếng Việt")
        await shoot(page, "unit-vi", backend)
        # The citizen's words, as text (escaped), with the day and nothing else.
        assert SUGGESTION in await page.inner_text(".suggestions")
        assert await page.locator(".suggestions b").count() == 0
        assert "10/07/2025" in await page.inner_text(".suggestions")

        # Exports: the files `bot report` writes for the same filters.
        async with page.expect_download() as waiting:
            await page.click("a[href^='/dashboard/export.csv']")
        download = await waiting.value
        saved = tmp_path / download.suggested_filename
        await download.save_as(saved)
        expected = await bot_report_text(
            site,
            capsys,
            "--format",
            "csv",
            "--period",
            "2025-07",
            "--merge-successors",
            "--agency",
            "S2",
            "--group-by",
            "channel",
        )
        assert saved.read_text(encoding="utf-8") == expected
        assert next(csv.reader(io.StringIO(expected)))  # a header row
        async with page.expect_download() as waiting:
            await page.click("a[href^='/dashboard/export.xlsx']")
        workbook_path = tmp_path / "unit.xlsx"
        await (await waiting.value).save_as(workbook_path)
        assert load_workbook(workbook_path).sheetnames
        async with page.expect_download() as waiting:
            await page.click("a[href^='/dashboard/export.png']")
        chart = tmp_path / "unit.png"
        await (await waiting.value).save_as(chart)
        assert chart.read_bytes().startswith(b"\x89PNG")

        # The link was spent: opening it again is refused.
        await page.goto(link)
        assert await page.inner_text("h1") == "Đường dẫn không dùng được"

        await page.goto(site.base + "/dashboard/")  # still signed in
        await page.click("text=Đăng xuất")
        assert await page.inner_text("h1") == "Đã đăng xuất"
        await page.goto(site.base + "/dashboard/")
        assert await page.inner_text("h1") == "Chưa đăng nhập"
        await context.close()


async def test_another_agency_cannot_reach_the_unit_and_old_links_are_refused(
    database, backend, browser
):
    await seeded(database)
    async with dashboard_site(database) as site:
        context = await browser.new_context(viewport=PHONE)
        page = await context.new_page()
        await page.goto(await chat_link(site, "8101", access.OFFICIAL, "S2"))
        await page.click("button[type=submit]")
        await page.wait_for_url("**/dashboard/?lang=vi")
        assert "S2" in await page.inner_text("main")
        assert await page.locator("a[href^='/dashboard/units/S1']").count() == 0
        for code in ("S1", "NO-SUCH"):
            response = await page.goto(f"{site.base}/dashboard/units/{code}?lang=en")
            assert response.status == 404
            assert await page.inner_text("h1") == "Not found"
        await shoot(page, "not-found-en", backend)
        response = await page.goto(f"{site.base}/dashboard/units/S2?period=2025-07")
        assert response.status == 200

        expired = await chat_link(site, "8102", access.OFFICIAL, "S1")
        site.clock.advance(minutes=10)
        fresh = await browser.new_context()
        other = await fresh.new_page()
        response = await other.goto(expired)
        assert response.status == 410
        assert await other.inner_text("h1") == "Đường dẫn không dùng được"
        await shoot(other, "link-refused-vi", backend)
        await fresh.close()
        await context.close()


async def test_the_dossiers_page_in_the_browser(database, backend, browser):
    await seed_february(database)
    async with dashboard_site(database, now=vn_time(2027, 3, 1)) as site:
        context = await browser.new_context(viewport=DESKTOP)
        page = await context.new_page()
        await page.goto(await chat_link(site, "8201", access.ADMIN, None))
        await page.click("button[type=submit]")
        await page.wait_for_url("**/dashboard/?lang=vi")
        await page.click("text=Hồ sơ đúng hạn")
        await page.wait_for_url("**/dashboard/dossiers**")
        await page.click("text=Tháng trước")
        assert "period=2027-02" in page.url
        assert await page.inner_text("[data-figure=share]") == "50,0%"
        await shoot(page, "dossiers-vi", backend)
        await page.click("text=English")
        assert await page.inner_text("[data-figure=share]") == "50.0%"
        await shoot(page, "dossiers-en", backend)
        await context.close()
