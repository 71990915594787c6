"""The dashboard's exports and its dossiers page over loopback HTTP, on both databases:
every file is what `python -m bot report` writes for the page's filters, and the QĐ 766
figures are `timeliness_report`'s for the official's scope."""

from __future__ import annotations

import csv
import io

from openpyxl import load_workbook

from bot.cli import build_parser
from bot.settings import DossierSettings
from handlers.dossiers import timeliness_report
from handlers.reports import Period
from tests.builders import ZONE
from tests.dashboard_helpers import seeded
from tests.dossier_helpers import vn_time
from tests.timeliness_helpers import seed_february
from tests.web_session_helpers import dashboard_site, registered_official


async def bot_report(site, capsys, *argv: str) -> str:
    """`python -m bot report …` (the command's own function) on the site's database."""
    capsys.readouterr()
    args = build_parser().parse_args(["report", *argv])
    assert await args.func(args, site.settings, site.database) == 0
    return capsys.readouterr().out


async def test_exports_are_the_report_commands_files_for_the_same_filters(database, capsys):
    await seeded(database)
    async with dashboard_site(database) as site:
        province = await registered_official(database, None, now=site.clock.now)
        agency = await registered_official(database, "S2", now=site.clock.now)
        merged, by_channel = ["--merge-successors"], ["--group-by", "channel"]
        cases = [
            (province, "view=overview", [*merged, "--group-by", "agency"]),
            (province, "view=unit&unit=X1", [*merged, "--agency", "X1", *by_channel]),
            (agency, "view=overview", ["--agency", "S2", "--group-by", "agency"]),
            (agency, "view=unit&unit=S2", ["--agency", "S2", *by_channel]),
        ]
        for official, view, argv in cases:
            async with site.client(await site.cookie_of(official)) as client:
                for lang in ("vi", "en"):
                    query = f"{view}&period=2025-07&lang={lang}"
                    response = await client.get(f"/dashboard/export.csv?{query}")
                    assert response.status == 200, query
                    expected = await bot_report(
                        site,
                        capsys,
                        "--format",
                        "csv",
                        "--period",
                        "2025-07",
                        "--lang",
                        lang,
                        *argv,
                    )
                    assert await response.text() == expected, query
                    assert "attachment" in response.headers["Content-Disposition"]
                workbook = await client.get(f"/dashboard/export.xlsx?{view}&period=2025-07")
                assert workbook.headers["Content-Type"].startswith("application/vnd.openxml")
                sheets = load_workbook(io.BytesIO(await workbook.read())).sheetnames
                assert sheets
                chart = await client.get(
                    f"/dashboard/export.png?{view}&from=2025-07-01&to=2025-07-31"
                )
                assert (await chart.read()).startswith(b"\x89PNG")
                assert "2025-07-01_2025-07-31" in chart.headers["Content-Disposition"]


async def test_the_dossiers_page_shows_the_qd766_figures_of_the_scope(database, capsys):
    ids = await seed_february(database)
    now = vn_time(2027, 3, 1)
    async with database.transaction() as session:
        figures = await timeliness_report(
            session, None, Period.month(2027, 2), now, DossierSettings(), zone=ZONE
        )
    (unit,) = figures.units
    async with dashboard_site(database, now=now) as site:
        province = await registered_official(database, None, now=now)
        other = await registered_official(database, "DNAI-STP", now=now)
        async with site.client(await site.cookie_of(province)) as client:
            page = await client.get("/dashboard/dossiers?period=2027-02")
            text = await page.text()
            assert page.status == 200
            share = f"{unit.on_time_share * 100:.1f}".replace(".", ",")
            assert f'data-figure="share">{share}%<' in text
            assert f'data-figure="finished">{unit.finished}<' in text
            assert f'data-figure="overdue">{unit.overdue_now}<' in text
            assert 'data-unit="DNAI-XTEST"' in text
            english = await (await client.get("/dashboard/dossiers?period=2027-02&lang=en")).text()
            assert f"{unit.on_time_share * 100:.1f}%" in english
            exported = await client.get("/dashboard/export.csv?view=dossiers&period=2027-02")
            rows = list(csv.reader(io.StringIO(await exported.text())))
            assert rows[1][:4] == ["1", "DNAI-XTEST", unit.agency_name, str(unit.finished)]
            assert rows[-1][2] == "Tổng cộng"
            workbook = await client.get("/dashboard/export.xlsx?view=dossiers&period=2027-02")
            sheet = load_workbook(io.BytesIO(await workbook.read())).active
            assert sheet.cell(2, 2).value == "DNAI-XTEST"
            assert sheet.cell(2, 6).value == round(unit.on_time_share * 100, 2)
            assert (await client.get("/dashboard/export.png?view=dossiers")).status == 404
        async with site.client(await site.cookie_of(other)) as client:
            text = await (await client.get("/dashboard/dossiers?period=2027-02")).text()
            assert "DNAI-XTEST" not in text and 'data-figure="finished">0<' in text
    assert ids
