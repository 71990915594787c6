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
from bot.settings import ScoringSettings
from handlers.reports import Period, ReportFilters, build_report
from handlers.survey.forms_import import import_responses

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


async def test_the_same_form_number_of_two_agencies_is_two_forms(database, tmp_path):
    await seed(database)
    async with database.transaction() as session:
        await session.execute(
            insert(Agency).values(
                code="XA", name="UBND xã A", name_folded="ubnd xa a", level="commune"
            )
        )
    path = tmp_path / "forms.csv"
    write_csv(path, [form("1", 5), form("1", 1, agency="XA")])
    report = await run(database, path)
    assert (report.stored, report.replaced, report.rejected) == (2, 0, [])
    write_csv(path, [form("1", 4, agency="XA")])  # the commune corrects its own form 1
    report = await run(database, path)
    assert (report.stored, report.replaced) == (1, 1)
    assert report.warnings == ["row 2: form '1' of this agency replaces the one imported before"]
    async with database.transaction() as session:
        stored = sorted(
            (
                await session.execute(
                    select(Agency.code, ResponseAnswer.value)
                    .join(Response, Response.agency_id == Agency.id)
                    .join(ResponseAnswer, ResponseAnswer.response_id == Response.id)
                    .where(ResponseAnswer.item_id == "F1.1")
                )
            ).all()
        )
    assert stored == [("STP", 5), ("XA", 4)]  # the province's form 1 is untouched


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


# --------------------------------------------------------------------------- the template


def filled_template(tmp_path, rows):
    """The template of sipas-2017 with `rows` ({header: value}) written on its data sheet."""
    from openpyxl import load_workbook

    from bot.rendering.forms_template import write_template

    path = tmp_path / "mau.xlsx"
    q = QUESTIONNAIRES["sipas-2017"]
    write_template(q, [("STP", "Sở Tư pháp")], [("KS", "Khai sinh")], path)
    workbook = load_workbook(path)
    sheet = workbook["Phiếu"]
    headers = [cell.value for cell in sheet[1]]
    for number, values in enumerate(rows, start=2):
        for column, header in enumerate(headers, start=1):
            if header in values:
                sheet.cell(row=number, column=column, value=values[header])
    workbook.save(path)
    return path, headers


def header_of(headers, question_id):
    return next(h for h in headers if h.split(" ")[0] == question_id)


async def test_a_filled_template_imports_back_unchanged(database, tmp_path):
    await seed(database)
    q = QUESTIONNAIRES["sipas-2017"]
    path, headers = filled_template(tmp_path, [])
    answers_a = {header_of(headers, c.id): 4 for c in q.criteria() if c.factor != "F5"}
    answers_a[header_of(headers, "F1.1")] = "Không ý kiến"
    row_a = {
        "Mã phiếu": "A-001",
        "Mã cơ quan": "STP",
        "Mã thủ tục": "KS",
        "Ngày khảo sát": date(2025, 7, 9),
        "Kênh": "Giấy",
        "Mẫu phiếu": "sipas-2017",
        **answers_a,
        "Có góp ý, phản ánh, kiến nghị": "Không",
        header_of(headers, "F5.1"): 5,  # behind a "Không": ignored
        "Giới tính": "Nữ",
        "Nhóm tuổi": "Trên 60 tuổi",
        "Nghề nghiệp": "Cán bộ, công chức, viên chức",  # a label with commas
        "Ý kiến khác": "Cán bộ rất nhiệt tình",
    }
    row_b = {
        "Mã phiếu": "A-002",
        "Mã cơ quan": "STP",
        "Ngày khảo sát": "10/07/2025",
        "Kênh": "Trực tuyến",
        "Mẫu phiếu": "sipas-2017",
        **{header_of(headers, c.id): 2 for c in q.criteria()},
        "Có góp ý, phản ánh, kiến nghị": "Có",
    }
    path, _ = filled_template(tmp_path, [row_a, row_b])
    report = await run(database, path)
    assert (report.stored, report.rejected) == (2, [])
    assert report.warnings == ["row 2: F5.1 left out: the gate before them was answered no"]
    async with database.transaction() as session:
        stored = {
            (row.item_id, row.value, row.text)
            for row in (await session.scalars(select(ResponseAnswer))).all()
        }
        kinds = sorted(await session.scalars(select(Response.channel_kind)))
    assert kinds == ["paper", "web"]
    assert ("F1.1", 0, None) in stored  # "Không ý kiến"
    assert ("F1.2", 4, None) in stored and ("F5.1", 5, None) not in stored
    assert ("feedback_given", 2, None) in stored and ("feedback_given", 1, None) in stored
    assert ("gender", 2, None) in stored and ("age_band", 5, None) in stored
    assert ("occupation", 1, None) in stored
    assert ("suggestion", None, "Cán bộ rất nhiệt tình") in stored
    assert ("F5.4", 2, None) in stored  # row B said "Có": its F5 answers count


def test_the_template_shows_what_the_import_accepts(tmp_path):
    from openpyxl import load_workbook

    path, headers = filled_template(tmp_path, [])
    workbook = load_workbook(path)
    assert workbook.active.title == "Phiếu"
    assert workbook.sheetnames[:3] == ["Phiếu", "Hướng dẫn", "Danh mục"]
    sheet = workbook["Phiếu"]
    assert headers[:6] == ["Mã phiếu", "Mã cơ quan", "Mã thủ tục", "Ngày khảo sát", "Kênh",
                           "Mẫu phiếu"]  # fmt: skip
    f11 = header_of(headers, "F1.1")
    assert f11.startswith("F1.1 Nơi ngồi chờ") and len(f11) <= 60
    comment = sheet.cell(row=1, column=headers.index(f11) + 1).comment.text
    assert comment == QUESTIONNAIRES["sipas-2017"].question("F1.1").text["vi"]
    assert "Có góp ý, phản ánh, kiến nghị" in headers and "Giới tính" in headers
    assert sheet.freeze_panes == "B2"
    lists = [v.formula1 for v in sheet.data_validations.dataValidation]
    assert '"1,2,3,4,5,Không ý kiến"' in lists
    assert '"Giấy,Trực tuyến"' in lists
    assert "'Danh mục'!$A$2:$A$2" in lists  # the agency codes
    assert [row[0] for row in workbook["Danh mục"].iter_rows(values_only=True)] == [
        "Mã cơ quan",
        "STP",
    ]
    example = list(workbook["Hướng dẫn"].iter_rows(values_only=True))[-1]
    assert example[4:6] == ("Giấy", "sipas-2017")


# --------------------------------------------------------------------------- office files


def cp1258(text: str) -> bytes:
    """Text as Excel writes it on a Vietnamese Windows: base letters with tone marks apart."""
    import unicodedata

    out = bytearray()
    for char in unicodedata.normalize("NFC", text):
        try:
            out += char.encode("cp1258")
            continue
        except UnicodeEncodeError:
            pass
        parts = unicodedata.normalize("NFD", char)
        for cut in range(len(parts), 0, -1):
            try:
                out += unicodedata.normalize("NFC", parts[:cut]).encode("cp1258")
            except UnicodeEncodeError:
                continue
            out += parts[cut:].encode("cp1258")
            break
    return bytes(out)


def csv_text(rows) -> str:
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(HEADER)
    writer.writerows(rows)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "encode",
    [
        lambda text: text.encode("utf-8"),
        lambda text: text.encode("utf-8-sig"),
        lambda text: text.encode("utf-16"),  # Excel's "Unicode Text"
        cp1258,  # Excel's "CSV (Comma delimited)" on a Vietnamese Windows
    ],
    ids=["utf-8", "utf-8-bom", "utf-16", "windows-1258"],
)
async def test_csv_encodings_excel_writes(database, tmp_path, encode):
    await seed(database)
    path = tmp_path / "forms.csv"
    path.write_bytes(encode(csv_text([form("P1", "Rất hài lòng", gender="Nữ")])))
    report = await run(database, path)
    assert (report.stored, report.rejected) == (1, [])
    async with database.transaction() as session:
        stored = dict(
            (await session.execute(select(ResponseAnswer.item_id, ResponseAnswer.value))).all()
        )
    assert stored["F1.1"] == 5 and stored["gender"] == 2


async def test_a_file_that_is_not_text_says_how_to_save_it(database, tmp_path):
    from bot.tabular import TableError

    await seed(database)
    path = tmp_path / "forms.csv"
    path.write_bytes(b"\x81\x8d\x8f\x90\x9d" * 50)  # undefined in Windows-1258
    with pytest.raises(TableError, match="save it from Excel as 'CSV UTF-8"):
        await run(database, path)
    assert await counts(database) == (0, 0)


async def test_a_missing_required_column_is_one_error_for_the_file(database, tmp_path):
    from bot.tabular import TableError

    await seed(database)
    path = tmp_path / "forms.csv"
    without_id = csv_text([form(f"P{n}") for n in range(50)]).replace("Mã phiếu,", "", 1)
    path.write_text(without_id, encoding="utf-8")
    with pytest.raises(TableError) as failure:
        await run(database, path)
    assert str(failure.value) == "forms.csv: missing column Mã phiếu (Form id)"
    assert await counts(database) == (0, 0)


async def test_the_template_command_writes_the_catalogue_of_the_database(
    database, tmp_path, capsys
):
    from openpyxl import load_workbook

    from bot.cli import UsageError, build_parser
    from tests.officials_helpers import officials_settings

    await seed(database)
    output = tmp_path / "forms.xlsx"
    argv = ["responses", "template", "--questionnaire", "sipas-2023", "--output", str(output)]
    args = build_parser().parse_args(argv)
    assert await args.func(args, officials_settings(database), database) == 0
    assert f"import template for sipas-2023 written to {output}" in capsys.readouterr().out
    catalogue = list(load_workbook(output)["Danh mục"].iter_rows(values_only=True))
    assert catalogue[1] == ("STP", "Sở Tư pháp", "KS", "Khai sinh")
    args = build_parser().parse_args([*argv[:4], "--output", str(tmp_path / "x.csv")])
    with pytest.raises(UsageError, match="--output must name an .xlsx file"):
        await args.func(args, officials_settings(database), database)
