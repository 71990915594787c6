"""Importing dossiers from spreadsheets: upsert on the code, row errors, idempotent."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from openpyxl import Workbook
from sqlalchemy import func, select

from bot.models import Dossier, StartCode
from handlers.dossiers.importer import import_dossiers
from tests.builders import ZONE, seed_catalog
from tests.dossier_helpers import dossier, vn_time

HEADER = (
    "Mã hồ sơ,Mã cơ quan,Mã thủ tục,Tên thủ tục,Họ tên,Số điện thoại,"
    "Ngày tiếp nhận,Ngày hẹn trả,Trạng thái,Tạm dừng\n"
)


async def test_csv_rows_are_upserted_and_bad_rows_reported(database, tmp_path):
    await seed_catalog(database)
    path = tmp_path / "hoso.csv"
    path.write_text(
        HEADER
        + "HS-1,DNAI-XTEST,HT-KS,Đăng ký khai sinh,Nguyễn Văn An,0912 345 678,"
        + "01/02/2027,03/02/2027,4,\n"
        + "HS-2,DNAI-XTEST,HT-KS,,Lê Thị Cúc,+84 987654321,2027-02-01,,2,\n"
        + "HS-3,NOPE,HT-KS,,Trần Văn Dũng,0912345678,2027-02-01,2027-02-05,2,\n"
        + "HS-4,DNAI-XTEST,HT-KS,,Phạm Thị Em,0912345678,2027-02-01,2027-02-05,5,2027-02-02/\n",
        encoding="utf-8",
    )
    seen: list[tuple[int, int]] = []
    result = await import_dossiers(
        database,
        path,
        now=vn_time(2027, 2, 2),
        zone=ZONE,
        code_length=10,
        progress=lambda done, total: seen.append((done, total)),
    )
    assert seen == [(0, 4), (4, 4)]
    assert [(o.ref, o.status) for o in result.outcomes] == [
        (2, "created"),
        (3, "rejected"),
        (4, "rejected"),
        (5, "created"),
    ]
    assert result.outcomes[1].reasons == ["appointment_date: required for a new dossier"]
    assert result.outcomes[2].reasons == ["agency: unknown agency code"]
    assert "Lê" not in str(result.outcomes) and "0987" not in str(result.outcomes)
    first = await dossier(database, "HS-1")
    assert (first.phone, first.appointment_date, first.state) == (
        "84912345678",
        date(2027, 2, 3),
        4,
    )
    paused = await dossier(database, "HS-4")
    assert paused.pauses == [["2027-02-02", None]] and paused.watch_date is None

    again = await import_dossiers(
        database, path, zone=ZONE, now=vn_time(2027, 2, 3), code_length=10
    )
    assert again.summary() == "0 created, 0 updated, 2 unchanged, 2 rejected"
    async with database.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(Dossier)) == 2
        assert await session.scalar(select(func.count()).select_from(StartCode)) == 2


async def test_xlsx_with_processing_days(database, tmp_path):
    await seed_catalog(database)
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["code", "agency", "procedure_code", "received_at", "processing_days", "state"])
    # Received Wed 3 Feb 2027 at 10:00, 3 working days: Mon 15 Feb (Tết in between).
    sheet.append(["X-1", "DNAI-XTEST", "HT-KS", "2027-02-03T10:00:00+07:00", 3, 2])
    path = tmp_path / "hoso.xlsx"
    workbook.save(path)
    # Imported at 11:00, after the receipt (a receipt ahead of the clock is refused).
    result = await import_dossiers(
        database, path, zone=ZONE, now=vn_time(2027, 2, 3, 11), code_length=10
    )
    assert result.summary() == "1 created, 0 updated, 0 unchanged, 0 rejected"
    imported = await dossier(database, "X-1")
    assert imported.appointment_date == date(2027, 2, 15)
    assert imported.procedure_name == "Đăng ký khai sinh"  # from the catalogue


async def test_xlsx_cells_are_read_as_excel_gives_them_and_checked_like_json(database, tmp_path):
    """Excel drops a phone's leading 0, gives dates as datetimes and codes as numbers;
    the same strict rules as the API apply after that."""
    await seed_catalog(database)
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(
        ["Mã hồ sơ", "Mã cơ quan", "Mã thủ tục", "Họ tên", "Số điện thoại"]
        + ["Ngày tiếp nhận", "Ngày hẹn trả", "Trạng thái"]
    )
    received = datetime(2027, 2, 1, 8, 30)  # a naive cell: Vietnamese local time
    rows = [
        ["HS-A", "DNAI-XTEST", "HT-KS", "Nguyễn Văn An", 912345678, received, "03/02/2027", 4],
        [12345, "DNAI-XTEST", "HT-KS", "Lê Thị Cúc", "0912 345 678", received]
        + [datetime(2027, 2, 5), "4"],
        ["HS-C", "DNAI-XTEST", "HT-KS", "Trần Văn Dũng", 912345678, received, "03/02/2027", True],
        ["HS-D", "DNAI-XTEST", "HT-KS", "Phạm Thị Em", "09¹2345678", received, "03/02/2027", 4],
        ["HS-E", "DNAI-XTEST", "HT-KS", "Võ Văn Phúc", 912345678]
        + [datetime(9999, 12, 31), "03/02/2027", 4],
        ["HS-F", "DNAI-XTEST", "HT-KS", "Đỗ Thị Giang", 912345678, received, "03/02/2027", 4.5],
        ["HS-G", "DNAI-XTEST", "HT-KS", "Bùi Văn Hải", 2438251234, received, "22/10/2026", "٤"],
    ]
    for row in rows:
        sheet.append(row)
    path = tmp_path / "hoso.xlsx"
    workbook.save(path)
    result = await import_dossiers(
        database, path, zone=ZONE, now=vn_time(2027, 2, 2), code_length=10
    )
    assert [(o.ref, o.status) for o in result.outcomes] == [
        (2, "created"),
        (3, "created"),
        (4, "rejected"),
        (5, "rejected"),
        (6, "rejected"),
        (7, "rejected"),
        (8, "rejected"),
    ]
    reasons = [o.reasons for o in result.outcomes[2:]]
    assert reasons == [
        ["state: must be a number from 1 to 10"],
        ["phone: not a Vietnamese phone number (expected 0… or +84…)"],
        ["received_at: must be between 2000 and 2100"],
        ["state: must be a number from 1 to 10"],
        ["state: must be a number from 1 to 10"],
    ]
    first = await dossier(database, "HS-A")
    assert (first.phone, first.appointment_date, first.state) == (
        "84912345678",
        date(2027, 2, 3),
        4,
    )
    assert first.received_at == vn_time(2027, 2, 1, 8) + timedelta(minutes=30)
    numbered = await dossier(database, "12345")  # a code typed as a number
    assert (numbered.appointment_date, numbered.state) == (date(2027, 2, 5), 4)


async def test_csv_reads_the_time_formats_of_one_stop_exports(database, tmp_path):
    """Times as one-stop exports write them, days in Vietnamese order, pauses too."""
    await seed_catalog(database)
    path = tmp_path / "hoso.csv"
    path.write_text(
        "Mã hồ sơ,Mã cơ quan,Mã thủ tục,Ngày tiếp nhận,Ngày hẹn trả,Số ngày giải quyết,"
        "Trạng thái,Tạm dừng,Ngày xử lý xong\n"
        # Wed 3 Feb 2027, 3 working days: Mon 15 Feb (Tết runs 4-10 Feb)
        "T-1,DNAI-XTEST,HT-KS,03/02/2027 10:00,,3,4,,\n"
        "T-2,DNAI-XTEST,HT-KS,03/02/2027 10:00:30,,3,4,,\n"
        "T-3,DNAI-XTEST,HT-KS,03-02-2027 10:00,,3,4,,\n"
        "T-4,DNAI-XTEST,HT-KS,2027-02-03 10:00,,3,4,,\n"
        "T-5,DNAI-XTEST,HT-KS,2027-02-03T03:00:00Z,,3,4,,\n"
        # a pause of Tue 2 - Wed 3 Feb moves Wed 3 Feb by one working day: Thu 11 Feb
        "P-1,DNAI-XTEST,HT-KS,01/02/2027 08:00,03-02-2027,,4,02/02/2027-03/02/2027,\n"
        "P-2,DNAI-XTEST,HT-KS,01/02/2027 08:00,03/02/2027,,9,02/02/2027 - 03/02/2027,"
        "12/02/2027 16:45\n"
        "B-1,DNAI-XTEST,HT-KS,03/02/2027 9h15,,3,4,,\n"
        "B-2,DNAI-XTEST,HT-KS,03/02/2027 10:00,03.02.27,,4,,\n"
        "B-3,DNAI-XTEST,HT-KS,03/02/2027 10:00,03/02/2027,,4,03/02/2027-x,\n",
        encoding="utf-8",
    )
    result = await import_dossiers(
        database, path, zone=ZONE, now=vn_time(2027, 2, 13), code_length=10
    )
    assert result.summary() == "7 created, 0 updated, 0 unchanged, 3 rejected"
    for code in ("T-1", "T-2", "T-3", "T-4", "T-5"):
        stored = await dossier(database, code)
        assert (stored.received_on, stored.appointment_date) == (
            date(2027, 2, 3),
            date(2027, 2, 15),
        )
    assert (await dossier(database, "T-2")).received_at == vn_time(2027, 2, 3, 10) + timedelta(
        seconds=30
    )
    for code in ("P-1", "P-2"):
        stored = await dossier(database, code)
        assert stored.pauses == [["2027-02-02", "2027-02-03"]], code
        assert stored.due_date == date(2027, 2, 11), code
    finished = await dossier(database, "P-2")
    assert finished.finished_at == vn_time(2027, 2, 12, 16) + timedelta(minutes=45)
    assert [o.reasons for o in result.outcomes if o.status == "rejected"] == [
        ["received_at: not a date or time (use DD/MM/YYYY HH:MM[:SS] or ISO 8601)"],
        ["appointment_date: not a date (use YYYY-MM-DD or DD/MM/YYYY)"],
        ["pauses.0.to: not a date (use YYYY-MM-DD or DD/MM/YYYY)"],
    ]


def test_every_documented_header_is_an_accepted_one():
    """`dossiers import --help` and the README list COLUMNS; the model reads ALIASES."""
    from bot.textnorm import fold
    from handlers.dossiers.records import ALIASES, COLUMNS

    assert list(COLUMNS) == list(ALIASES)
    for name, (vi, en, _, _) in COLUMNS.items():
        assert fold(vi).replace(" ", "_") in ALIASES[name], vi
        assert fold(en).replace(" ", "_") in ALIASES[name], en
