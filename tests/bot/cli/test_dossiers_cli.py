"""The dossier commands as an official runs them, in-process on both databases."""

from __future__ import annotations

import pytest

from bot.cli import UsageError, build_parser
from bot.textnorm import fold
from handlers.dossiers.records import ALIASES, COLUMNS
from tests.builders import seed_catalog
from tests.dossier_helpers import dossier, dossier_settings, vn_time

HOSO = (
    "code,agency,procedure_code,procedure_name,citizen_name,phone,received_at,"
    "appointment_date,state\n"
    "HS-1,DNAI-XTEST,HT-KS,Đăng ký khai sinh,Nguyễn Văn An,0912345678,2020-02-03,2020-02-05,4\n"
    "HS-2,DNAI-XTEST,HT-KS,Đăng ký khai sinh,Lê Thị Cúc,12345,2020-02-03,2020-02-05,4\n"
)


async def run(database, *argv: str) -> int:
    args = build_parser().parse_args(list(argv))
    return await args.func(args, dossier_settings(database), database)


async def test_import_scan_list_show_and_print(database, tmp_path, capsys, monkeypatch):
    await seed_catalog(database)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "hoso.csv").write_text(HOSO, encoding="utf-8")
    assert await run(database, "dossiers", "import", "hoso.csv", "--codes-out", "codes.csv") == 1
    out, err = capsys.readouterr()
    assert "hoso.csv: row 3: phone: not a Vietnamese phone number" in err
    assert "2/2 rows" in err  # the progress bar
    assert "1 created, 0 updated, 0 unchanged, 1 rejected" in out
    assert "12345" not in err and "Lê Thị" not in err
    codes = (tmp_path / "codes.csv").read_text().splitlines()
    assert codes[0] == "code,start_code" and codes[1].startswith("HS-1,")

    assert (
        await run(
            database,
            "apologies",
            "signer",
            "--agency",
            "DNAI-XTEST",
            "--title",
            "Chủ tịch",
            "--name",
            "Trần Thị Bình",
            "--place",
            "Tân Lợi",
        )
        == 0
    )
    assert await run(database, "dossiers", "scan") == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("1 apology notices")

    assert await run(database, "apologies", "list", "--status", "pending") == 0
    listed = capsys.readouterr().out
    assert "HS-1" in listed and "1/PXL" in listed
    assert "Nguyễn" not in listed and "0912" not in listed
    assert await run(database, "apologies", "list", "--status", "sent") == 0
    assert "HS-1" not in capsys.readouterr().out

    notice_id = listed.splitlines()[1].split()[0]
    assert await run(database, "apologies", "show", notice_id) == 0
    shown = capsys.readouterr().out
    assert "Kính gửi: Ông/Bà Nguyễn Văn An" in shown and "Số: 1/PXL" in shown
    assert "CHỦ TỊCH" in shown and "Trần Thị Bình" in shown and "05/02/2020" in shown

    assert await run(database, "apologies", "print", notice_id, "--out", "notice.pdf") == 0
    pdf = (tmp_path / "notice.pdf").read_bytes()
    assert pdf.startswith(b"%PDF-") and b"/FontFile2" in pdf and b"DejaVuSerif" in pdf
    with pytest.raises(UsageError, match="tt01-2018"):
        await run(database, "apologies", "print", notice_id, "--template", "nope")


async def test_api_keys_and_calendar(database, capsys):
    await seed_catalog(database)
    assert await run(database, "apikeys", "create", "--agency", "DNAI-XTEST") == 0
    key = capsys.readouterr().out.strip()
    key_id, secret = key.removeprefix("sipas_").split(".")
    assert await run(database, "apikeys", "list") == 0
    listed = capsys.readouterr().out
    assert key_id in listed and secret not in listed and "active" in listed
    assert await run(database, "apikeys", "revoke", key_id) == 0
    assert await run(database, "apikeys", "list") == 0
    assert "revoked" in capsys.readouterr().out
    with pytest.raises(UsageError):
        await run(database, "apikeys", "create", "--agency", "NOPE")

    assert await run(database, "calendar", "add", "2027-02-11", "--off", "--note", "lễ hội") == 0
    assert await run(database, "calendar", "list", "--year", "2027") == 0
    calendar = capsys.readouterr().out
    assert "Lunar New Year" in calendar and "Thu 11/02/2027  day off  lễ hội" in calendar
    assert await run(database, "calendar", "remove", "2027-02-11") == 0
    with pytest.raises(UsageError):
        await run(database, "calendar", "remove", "2027-02-11")
    assert await run(database, "purge") == 0


def test_import_help_lists_every_column_in_both_languages(capsys):
    with pytest.raises(SystemExit) as exit:
        build_parser().parse_args(["dossiers", "import", "--help"])
    assert exit.value.code == 0
    text = capsys.readouterr().out
    folded = fold(text).replace(" ", "_")
    for name, (vi, en, _, _) in COLUMNS.items():
        assert f"{vi} / {en} (needed: " in text, name
        for alias in ALIASES[name]:
            assert alias in folded, alias  # each accepted header, as written or after 'also'
    assert "also: agency_code, ma_don_vi" in text
    assert "Mã hồ sơ / Code (needed: always)" in text
    assert "22/10/2026 09:15" in text and "2026-10-22T09:15:00+07:00" in text
    # The same lazy help action serves `responses import`.
    with pytest.raises(SystemExit):
        build_parser().parse_args(["responses", "import", "--help"])
    assert "Mã phiếu / Form id" in capsys.readouterr().out


async def test_import_reads_times_in_the_timezone_setting(database, tmp_path, capsys):
    await seed_catalog(database)  # receipts in the past: the import runs on today's clock
    (tmp_path / "hoso.csv").write_text(
        "Mã hồ sơ,Mã cơ quan,Mã thủ tục,Ngày tiếp nhận,Ngày hẹn trả\n"
        "HS-VN,DNAI-XTEST,HT-KS,02/11/2026 09:00,04/11/2026\n",
        encoding="utf-8",
    )
    assert await run(database, "dossiers", "import", str(tmp_path / "hoso.csv")) == 0
    assert (await dossier(database, "HS-VN")).received_at == vn_time(2026, 11, 2, 9)

    (tmp_path / "tokyo.csv").write_text(
        "Mã hồ sơ,Mã cơ quan,Mã thủ tục,Ngày tiếp nhận,Ngày hẹn trả\n"
        "HS-JP,DNAI-XTEST,HT-KS,02/11/2026 09:00,04/11/2026\n",
        encoding="utf-8",
    )
    args = build_parser().parse_args(["dossiers", "import", str(tmp_path / "tokyo.csv")])
    tokyo = dossier_settings(database).model_copy(update={"timezone": "Asia/Tokyo"})
    assert await args.func(args, tokyo, database) == 0
    assert (await dossier(database, "HS-JP")).received_at == vn_time(2026, 11, 2, 7)  # 00:00 UTC
    capsys.readouterr()


async def test_a_local_day_off_moves_open_dossiers_and_back(database, capsys):
    """Working days are working days: a day off added inside a dossier's window moves its
    appointment by a working day; removing it moves it back; each move is recorded."""
    from datetime import date

    from handlers.dossiers import dossier_history
    from tests.dossier_helpers import dossier, notices, record, scan_at, upsert, vn_time

    await seed_catalog(database)
    await upsert(
        database,
        [
            # Wed 3 Feb 2027 + 3 working days (Tết 4-10 Feb): Thu 11, Fri 12, Mon 15 Feb.
            record(
                "COUNTED",
                received_at="2027-02-03T10:00:00+07:00",
                appointment_date=None,
                processing_days=3,
            ),
            # Given as Fri 12 Feb: 4 working days after Mon 1 Feb (2, 3, 11, 12).
            record("GIVEN", appointment_date="2027-02-12"),
            record("APOLOGISED"),  # due Wed 3 Feb: apologised on 4 Feb, new date 17 Feb
            record("RETURNED", appointment_date="2027-02-15", state=10),
        ],
        vn_time(2027, 2, 3, 11),
    )
    await scan_at(database, vn_time(2027, 2, 4))
    # Received after the day off: 3 working days after Fri 12 Feb are 15, 16, 17 Feb.
    await upsert(
        database,
        [record("AFTER", received_at="2027-02-12T08:00:00+07:00", appointment_date="2027-02-17")],
        vn_time(2027, 2, 12),
    )
    capsys.readouterr()

    assert await run(database, "calendar", "add", "2027-02-11", "--off", "--note", "lễ hội") == 0
    out = capsys.readouterr().out
    assert "2 open dossiers moved to a later appointment" in out
    assert "1 apologised dossiers keep the new date given in their notice" in out
    counted, given = await dossier(database, "COUNTED"), await dossier(database, "GIVEN")
    assert (counted.appointment_date, counted.due_date) == (date(2027, 2, 16), date(2027, 2, 16))
    assert given.due_date == date(2027, 2, 15)
    assert (await dossier(database, "APOLOGISED")).new_due_date == date(2027, 2, 17)
    assert (await dossier(database, "RETURNED")).appointment_date == date(2027, 2, 15)
    assert (await dossier(database, "AFTER")).appointment_date == date(2027, 2, 17)
    after = await dossier(database, "AFTER")
    async with database.transaction() as session:
        (event,) = await dossier_history(session, counted.id)
        assert await dossier_history(session, after.id) == []
    assert (event.change, event.old_date, event.new_date) == (
        "appointment_date",
        date(2027, 2, 15),
        date(2027, 2, 16),
    )
    assert event.reason == "calendar: 2027-02-11 day off added"
    # On Tue 16 Feb only GIVEN (now due Mon 15) is late, not COUNTED (due Tue 16).
    assert (await scan_at(database, vn_time(2027, 2, 16, 16))).notices == 1
    assert [n.dossier_code for n in await notices(database)] == ["APOLOGISED", "GIVEN"]

    assert await run(database, "calendar", "remove", "2027-02-11") == 0
    out = capsys.readouterr().out
    assert "1 open dossiers moved back to an earlier appointment" in out
    assert "2 apologised dossiers keep the new date given in their notice" in out
    assert (await dossier(database, "COUNTED")).due_date == date(2027, 2, 15)
    kept = await dossier(database, "GIVEN")  # its notice's new date is the promise
    assert (kept.due_date, kept.new_due_date) == (date(2027, 2, 15), date(2027, 2, 23))
    async with database.transaction() as session:
        history = await dossier_history(session, counted.id)
    assert [(e.old_date, e.new_date, e.reason) for e in history] == [
        (date(2027, 2, 15), date(2027, 2, 16), "calendar: 2027-02-11 day off added"),
        (date(2027, 2, 16), date(2027, 2, 15), "calendar: 2027-02-11 day off removed"),
    ]
    capsys.readouterr()
    assert await run(database, "dossiers", "show", "COUNTED") == 0
    shown = capsys.readouterr().out
    assert "calendar: 2027-02-11 day off added" in shown  # the operator sees the moves
    assert "calendar: 2027-02-11 day off removed" in shown


async def test_apologies_list_says_reason_missing(database, capsys):
    from tests.dossier_helpers import record, scan_at, upsert, vn_time

    await seed_catalog(database)
    await upsert(
        database,
        [record("NO-REASON"), record("REASON", delay_reason="Chờ xác minh")],
        vn_time(2027, 2, 1),
    )
    await scan_at(database, vn_time(2027, 2, 4))
    capsys.readouterr()
    assert await run(database, "apologies", "list") == 0
    lines = {line.split()[3]: line for line in capsys.readouterr().out.splitlines()[1:]}
    assert "reason missing" in lines["NO-REASON"] and "reason missing" not in lines["REASON"]


async def test_a_local_working_saturday_moves_open_dossiers_earlier(database, capsys):
    """Symmetric: an extra working day inside the window counts, so the date comes back."""
    from datetime import date

    from handlers.dossiers import dossier_history
    from tests.dossier_helpers import dossier, record, upsert, vn_time

    await seed_catalog(database)
    await upsert(
        database,
        [
            # Wed 3 Feb 2027 + 3 working days: Thu 11, Fri 12, Mon 15 Feb.
            record(
                "COUNTED",
                received_at="2027-02-03T10:00:00+07:00",
                appointment_date=None,
                processing_days=3,
            )
        ],
        vn_time(2027, 2, 3, 11),
    )
    capsys.readouterr()
    assert await run(database, "calendar", "add", "2027-02-13", "--working") == 0
    out = capsys.readouterr().out
    assert "0 open dossiers moved to a later appointment" in out
    assert "1 open dossiers moved back to an earlier appointment" in out
    moved = await dossier(database, "COUNTED")
    assert moved.due_date == date(2027, 2, 13)  # Sat 13 Feb, worked
    async with database.transaction() as session:
        (event,) = await dossier_history(session, moved.id)
    assert event.reason == "calendar: 2027-02-13 working day added"
