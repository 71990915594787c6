"""`responses import`: paper and web forms from CSV/XLSX, bad rows reported, re-import
replaces, on both databases."""

from __future__ import annotations

import csv
from datetime import date

import pytest
from openpyxl import Workbook
from sqlalchemy import func, insert, select

from bot.models import Agency, Response, ResponseAnswer, Service
from bot.questionnaire import load_questionnaires
from bot.reports import Period, ReportFilters, build_report
from bot.responses_import import import_responses
from bot.settings import ScoringSettings

QUESTIONNAIRES = load_questionnaires()
F1_TO_F4 = [
    *(f"F1.{i}" for i in range(1, 5)),
    *(f"F2.{i}" for i in range(1, 6)),
    *(f"F3.{i}" for i in range(1, 7)),
    *(f"F4.{i}" for i in range(1, 4)),
]
HEADER = ["Mã phiếu", "Mã cơ quan", "Mã thủ tục", "Ngày", "Kênh", *F1_TO_F4,
          "feedback_given", "F5.1", "gender", "suggestion"]  # fmt: skip


def form(form_id, value=5, *, agency="STP", service="KS", day="15/07/2025", channel="giấy",
         gate="Không", f5="", gender="Nữ", first=None):  # fmt: skip
    values = [value] * len(F1_TO_F4)
    if first is not None:
        values[0] = first
    return [form_id, agency, service, day, channel, *values, gate, f5, gender, "Cảm ơn"]


async def seed(database) -> None:
    async with database.transaction() as session:
        await session.execute(
            insert(Agency).values(
                code="STP", name="Sở Tư pháp", name_folded="so tu phap", level="province"
            )  # fmt: skip
        )
        await session.execute(
            insert(Service).values(code="KS", name="Khai sinh", name_folded="khai sinh")
        )


def write_csv(path, rows) -> None:
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(HEADER)
        writer.writerows(rows)


async def run(database, path, **options):
    return await import_responses(database, path, QUESTIONNAIRES, "sipas-2017", **options)


async def july(database):
    async with database.transaction() as session:
        report = await build_report(
            session,
            QUESTIONNAIRES,
            ReportFilters("sipas-2017", Period.month(2025, 7)),
            (),
            ScoringSettings(),
        )
    return report.total


async def counts(database) -> tuple[int, int]:
    async with database.transaction() as session:
        responses = await session.scalar(select(func.count()).select_from(Response))
        answers = await session.scalar(select(func.count()).select_from(ResponseAnswer))
    return responses, answers


async def test_bad_rows_reported_and_skipped_good_rows_kept(database, tmp_path):
    await seed(database)
    path = tmp_path / "forms.csv"
    write_csv(
        path,
        [
            form("P1", 5),  # row 2: good
            form("P2", "Hài lòng"),  # row 3: good, labels accepted (4)
            form("P3", 5, agency="XYZ"),  # row 4: unknown agency
            form("P4", 5, day="31/02/2025"),  # row 5: no such date
            form("P5", 5, first=7),  # row 6: value out of scale
            form("", 5),  # row 7: no form id
            form("P1", 1),  # row 8: P1 again in the same file
            form("P6", "", gate="Không"),  # row 9: no criterion answered
            form("P7", 1, channel="fax"),  # row 10: unknown channel
            form("P8", 2, first="Không ý kiến", gate="Có", f5=4),  # row 11: good
            form("P9", 4, gate="Không", f5=5),  # row 12: good, F5.1 dropped (gate no)
        ],
    )
    report = await run(database, path)
    assert report.rejected == [
        (4, "unknown agency code 'XYZ'"),
        (5, "ngay: '31/02/2025' is not a date (use YYYY-MM-DD or DD/MM/YYYY)"),
        (6, "F1.1: '7' is not one of 0, 1, 2, 3, 4, 5"),
        (7, "the form id is missing"),
        (8, "form id 'P1' appears twice"),
        (9, "no criterion is answered"),
        (10, "unknown channel 'fax' (paper or web)"),
    ]
    assert report.stored == 4
    assert report.warnings == ["row 12: F5.1 left out: the gate before them was answered no"]
    # 4 forms; each has 18 criteria + gate + gender + suggestion, P8 also F5.1
    assert await counts(database) == (4, 4 * 21 + 1)

    total = await july(database)
    assert total.counts.respondents == 4
    f11 = total.indices.criterion("F1.1")  # P1 5, P2 4, P8 no opinion, P9 4
    assert (f11.valid_n, f11.no_opinion, f11.satisfied) == (3, 1, 3)
    f12 = total.indices.criterion("F1.2")  # 5, 4, 2, 4 -> 3 of 4
    assert f12.index == pytest.approx(75.0)
    assert total.indices.criterion("F5.1").valid_n == 1  # only P8 said yes to the gate


async def test_reimport_replaces_never_doubles(database, tmp_path):
    await seed(database)
    path = tmp_path / "forms.csv"
    write_csv(path, [form("P1", 1), form("P2", 1)])
    first = await run(database, path)
    assert (first.stored, first.replaced) == (2, 0)
    write_csv(path, [form("P1", 5), form("P2", 1)])
    second = await run(database, path)
    assert (second.stored, second.replaced) == (2, 2)
    assert await counts(database) == (2, 2 * 21)
    total = await july(database)
    assert total.counts.respondents == 2
    assert total.indices.overall.index == pytest.approx(50.0)  # P1 now all 5, P2 all 1


async def test_xlsx_with_channel_option_and_dates(database, tmp_path):
    await seed(database)
    path = tmp_path / "web.xlsx"
    workbook = Workbook()
    sheet = workbook.active
    sheet.append([h for h in HEADER if h != "Kênh"])
    for form_id, day in (("W1", date(2025, 7, 2)), ("W2", "2025-07-03")):
        row = form(form_id, 4, day=day)
        del row[4]
        sheet.append(row)
    workbook.save(path)
    report = await run(database, path, channel_kind="web")
    assert (report.stored, report.rejected) == (2, [])
    async with database.transaction() as session:
        channels = set(await session.scalars(select(Response.channel_kind)))
    assert channels == {"web"}
    assert (await july(database)).indices.overall.index == pytest.approx(100.0)


async def test_rows_without_channel_need_the_option(database, tmp_path):
    await seed(database)
    path = tmp_path / "forms.csv"
    write_csv(path, [form("P1", 5, channel="")])
    report = await run(database, path)
    assert report.rejected == [
        (2, "no channel: add a channel column (paper or web) or use --channel")
    ]


async def test_progress_is_reported_on_large_files(database, tmp_path):
    await seed(database)
    path = tmp_path / "many.csv"
    write_csv(path, [form(f"P{n}", 4 + n % 2) for n in range(5200)])
    seen: list[int] = []
    report = await run(database, path, progress=seen.append)
    assert report.stored == 5200
    assert seen == [5000, 5200]
    assert (await july(database)).counts.respondents == 5200
