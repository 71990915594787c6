"""`dossiers list` and `dossiers show` in-process on both databases, with real dates.

Tết 2027 runs Thu 4 – Wed 10 February: 3 working days after Wed 3 Feb is Mon 15 Feb,
and 5 working days after Thu 4 Feb (the scan's new date) is Wed 17 Feb.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import date, datetime

import pytest

from bot.cli import UsageError, build_parser
from bot.outbox import OutboxSender
from bot.settings import OutboxSettings
from handlers.dossiers.apologies import renderers
from handlers.dossiers.listing import ListFilters, initials, listed, masked_phone
from tests.builders import TRANSLATOR, ZONE, FakeClock, seed_catalog
from tests.dossier_helpers import CALENDAR, dossier_settings, scan_at, vn_time

# Vietnamese headers and the time formats one-stop exports write. LATE is received on
# Monday 1 Feb 06:30 local, which is Sunday 31 Jan in UTC.
EXPORT = (
    "Mã hồ sơ,Mã cơ quan,Mã thủ tục,Họ tên,Số điện thoại,Ngày tiếp nhận,Ngày hẹn trả,"
    "Số ngày giải quyết,Trạng thái,Tạm dừng\n"
    "TET,DNAI-XTEST,HT-KS,Nguyễn Văn An,0912345678,03/02/2027 10:00,,3,4,\n"
    "LATE,DNAI-XTEST,HT-KS,Lê Thị Cúc,0987654321,2027-01-31T23:30:00Z,03/02/2027,,4,\n"
    "PAUSED,DNAI-XTEST,HT-KS,Trần Văn Dũng,0911112222,01-02-2027 08:00,2027-02-03,,4,"
    "02/02/2027-03/02/2027\n"
    "HOLD,DNAI-XTEST,HT-KS,Phạm Thị Em,0922223333,2027-02-01 08:00,03/02/2027,,5,02/02/2027-\n"
    "PROV,DNAI-STP,TP-LLTP,Võ Văn Phúc,0933334444,01/02/2027 08:00:30,03/02/2027,,10,\n"
)


async def run(database, *argv: str, history=None) -> int:
    args = build_parser().parse_args(list(argv))
    args.clock = lambda: vn_time(2027, 2, 3, 18)  # the import's "now", after every receipt
    if history is not None:
        args.history = history
    return await args.func(args, dossier_settings(database), database)


async def imported(database, tmp_path, capsys) -> None:
    await seed_catalog(database)
    path = tmp_path / "export.csv"
    path.write_text(EXPORT, encoding="utf-8")
    assert await run(database, "dossiers", "import", str(path)) == 0
    assert "5 created" in capsys.readouterr().out
    assert (await scan_at(database, vn_time(2027, 2, 4))).notices == 1  # LATE only


async def test_list_table_masks_the_citizen_and_shows_dates_in_vietnamese_order(
    database, tmp_path, capsys
):
    await imported(database, tmp_path, capsys)
    assert await run(database, "dossiers", "list", "--as-of", "2027-02-22") == 0
    out, err = capsys.readouterr()
    rows = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert out.splitlines()[0].split()[:5] == ["code", "agency", "state", "received", "appointed"]
    assert set(rows) == {"TET", "LATE", "PAUSED", "HOLD", "PROV"} and err == "5 dossiers\n"
    # received, appointment, due (= unless moved), new date, working days late
    assert "03/02/2027 15/02/2027 =          -             5  N.V.A." in rows["TET"]
    assert "01/02/2027 03/02/2027 =          17/02/2027    3  L.T.C." in rows["LATE"]
    assert "01/02/2027 03/02/2027 11/02/2027 -             7  T.V.D." in rows["PAUSED"]
    assert rows["HOLD"].split()[-3] == "⏸"  # an open pause holds the clock
    assert "84•••••5678" in rows["TET"] and "84•••••4321" in rows["LATE"]
    for name, phone in (("Nguyễn", "912345678"), ("Cúc", "987654321"), ("Phúc", "933334444")):
        assert name not in out and phone not in out


async def test_list_filters_and_machine_formats(database, tmp_path, capsys):
    await imported(database, tmp_path, capsys)
    argv = ("dossiers", "list", "--as-of", "2027-02-22")
    assert await run(database, *argv, "--overdue", "--format", "json") == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row["code"] for row in rows] == ["TET", "LATE", "PAUSED"]  # not HOLD: paused
    tet, late, paused = rows
    assert (tet["received_at"], tet["appointment_date"], tet["due_date"]) == (
        "2027-02-03T10:00:00+07:00",
        "2027-02-15",
        "2027-02-15",
    )
    assert (tet["date_owed"], tet["late_working_days"], tet["overdue"]) == ("2027-02-15", 5, True)
    assert late["received_at"] == "2027-02-01T06:30:00+07:00"  # Monday here, Sunday in UTC
    assert (late["new_date"], late["date_owed"], late["late_working_days"]) == (
        "2027-02-17",
        "2027-02-17",
        3,
    )
    assert (paused["due_date"], paused["late_working_days"]) == ("2027-02-11", 7)
    assert (late["citizen"], late["phone"], late["state_name"]) == (
        "L.T.C.",
        "84•••••4321",
        "Đang xử lý",
    )

    # Before the appointment nothing is overdue; an as-of day is checked.
    assert await run(database, "dossiers", "list", "--overdue", "--as-of", "2027-02-03") == 0
    assert capsys.readouterr().out.splitlines()[1:] == []
    with pytest.raises(UsageError, match="not a date"):
        await run(database, "dossiers", "list", "--as-of", "22/02/2027x")

    assert await run(database, "dossiers", "list", "--agency", "DNAI-STP", "--format", "csv") == 0
    table = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(row["code"], row["state"], row["received_at"]) for row in table] == [
        ("PROV", "10", "2027-02-01T08:00:30+07:00")
    ]
    assert table[0]["citizen"] == "V.V.P." and table[0]["overdue"] == "False"
    assert await run(database, "dossiers", "list", "--state", "5", "--format", "csv") == 0
    assert [row["code"] for row in csv.DictReader(io.StringIO(capsys.readouterr().out))] == ["HOLD"]
    with pytest.raises(UsageError, match="unknown agency"):
        await run(database, "dossiers", "list", "--agency", "NOPE")
    with pytest.raises(SystemExit):
        build_parser().parse_args(["dossiers", "list", "--state", "11"])


async def test_show_gives_one_dossier_in_full_with_its_notice_and_delivery(
    database, tmp_path, capsys
):
    await imported(database, tmp_path, capsys)
    settings = dossier_settings(database)
    report = await OutboxSender(
        database,
        OutboxSettings(),
        {},  # no chat channel and no ZNS: the notice is for the counter
        renderers(TRANSLATOR),
        clock=FakeClock(vn_time(2027, 2, 4, 10)),
        default_language=settings.default_language,
    ).drain()
    assert report.counter == 1

    assert await run(database, "dossiers", "show", "LATE") == 0
    shown = capsys.readouterr().out
    assert "citizen       Lê Thị Cúc" in shown and "phone         84987654321" in shown
    assert "received      Mon 01/02/2027 06:30" in shown
    assert "appointment   Wed 03/02/2027" in shown
    assert "new date      Wed 17/02/2027, given Thu 04/02/2027" in shown
    assert "1/PXL" in shown and "new date Wed 17/02/2027" in shown
    assert "delivery      for the counter (no chat, no ZNS) since Thu 04/02/2027 10:00" in shown
    assert "now           4 Đang xử lý" in shown
    assert "survey code   " in shown and "(not used yet)" in shown

    assert await run(database, "dossiers", "show", "PAUSED") == 0
    shown = capsys.readouterr().out
    assert "due           Thu 11/02/2027 (moved by pauses)" in shown
    assert "02/02/2027 – 03/02/2027 (1 working day)" in shown
    assert "Apology notice  none" in shown
    assert "History       none" in shown  # no date was moved by the calendar

    assert await run(database, "dossiers", "show", "HOLD") == 0
    shown = capsys.readouterr().out
    assert "02/02/2027 – (still open)" in shown and "clock stopped" in shown

    with pytest.raises(UsageError, match="no dossier"):
        await run(database, "dossiers", "show", "NOPE")


async def test_show_lists_the_history_a_provider_gives(database, tmp_path, capsys):
    """The hook for the dossier change history: any async (session, dossier_id) -> events."""
    await imported(database, tmp_path, capsys)
    asked: list[int] = []

    async def history(session, dossier_id):
        asked.append(dossier_id)
        return [
            {"at": vn_time(2027, 2, 1, 8), "state": 2},
            {"at": vn_time(2027, 2, 2, 14), "state": 4, "on": date(2027, 2, 2)},
        ]

    assert await run(database, "dossiers", "show", "TET", history=history) == 0
    shown = capsys.readouterr().out
    assert len(asked) == 1
    history_lines = shown.split("\nHistory\n")[1].splitlines()
    assert history_lines == [
        "  Mon 01/02/2027 08:00  state=2",
        "  Tue 02/02/2027 14:00  state=4, on=Tue 02/02/2027",
    ]

    @dataclass(frozen=True, slots=True)
    class Event:
        at: datetime
        state: int

    async def typed(session, dossier_id):
        return [Event(vn_time(2027, 2, 3, 9), 9)]

    assert await run(database, "dossiers", "show", "TET", history=typed) == 0
    assert capsys.readouterr().out.endswith("History\n  Wed 03/02/2027 09:00  state=9\n")


async def test_the_list_reads_a_page_at_a_time(database, tmp_path, capsys):
    await imported(database, tmp_path, capsys)
    async with database.transaction() as session:
        rows = [
            (dossier.code, dates.overdue)
            async for dossier, _, dates in listed(
                session, ListFilters(), CALENDAR, date(2027, 2, 22), ZONE, page=2
            )
        ]
    assert rows == [
        ("TET", True),
        ("LATE", True),
        ("PAUSED", True),
        ("HOLD", False),
        ("PROV", False),
    ]


def test_masks():
    assert initials("Nguyễn Văn An") == "N.V.A." and initials("đỗ  thị giang") == "Đ.T.G."
    assert initials(None) == "-" and masked_phone(None) == "-"
    assert masked_phone("84912345678") == "84•••••5678"
    assert masked_phone("842438251234") == "84•••••1234"  # a landline: the length is hidden
