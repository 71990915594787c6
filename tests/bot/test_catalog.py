"""Agencies and services imported from spreadsheets, on both databases."""

from __future__ import annotations

from datetime import date

from openpyxl import Workbook
from sqlalchemy import select

from bot.catalog import import_agencies, import_services, successor_of
from bot.models import Agency, Service


def write_xlsx(path, rows):
    workbook = Workbook()
    for row in rows:
        workbook.active.append(row)
    workbook.save(path)


async def test_xlsx_import_with_merged_agencies(database, tmp_path):
    path = tmp_path / "agencies.xlsx"
    write_xlsx(
        path,
        [
            ["code", "name", "level", "parent", "valid_from", "valid_to", "successor"],
            ["DNAI", "UBND tỉnh Đồng Nai", "province", None, date(2025, 7, 1), None, None],
            ["BPHUOC", "UBND tỉnh Bình Phước", "tỉnh", None, None, date(2025, 6, 30), "DNAI"],
            [
                "BPHUOC-H1",
                "UBND huyện Đồng Phú",
                "district",
                "BPHUOC",
                None,
                "30/06/2025",
                "BPHUOC",
            ],
            ["X9", "Cơ quan lạ", "galaxy", None, None, None, None],
        ],
    )
    async with database.transaction() as session:
        report = await import_agencies(session, path)
    assert (report.created, report.updated) == (3, 0)
    assert report.rejected == [
        (5, "unknown level 'galaxy' (province, commune, district or ministry)")
    ]
    async with database.transaction() as session:
        # Successors are followed across two merges.
        assert await successor_of(session, "BPHUOC-H1") == "DNAI"
        assert await successor_of(session, "DNAI") == "DNAI"
        merged = await session.scalar(select(Agency).where(Agency.code == "BPHUOC"))
        assert (merged.level, merged.valid_to, merged.name_folded) == (
            "province",
            date(2025, 6, 30),
            "ubnd tinh binh phuoc",
        )


async def test_reimport_updates_in_place(database, tmp_path):
    path = tmp_path / "services.csv"
    path.write_text("code;name;field\nHT-KS;Đăng ký khai sinh;Hộ tịch\n", encoding="utf-8")
    async with database.transaction() as session:
        assert (await import_services(session, path)).created == 1
    path.write_text(
        "code;name;field\nHT-KS;Đăng ký khai sinh (trực tuyến);Hộ tịch\n", encoding="utf-8"
    )
    async with database.transaction() as session:
        report = await import_services(session, path)
        assert (report.created, report.updated) == (0, 1)
        [service] = (await session.scalars(select(Service))).all()
        assert service.name == "Đăng ký khai sinh (trực tuyến)"
        assert service.name_folded == "dang ky khai sinh truc tuyen"


async def test_unknown_successor_is_a_warning(database, tmp_path):
    path = tmp_path / "agencies.csv"
    path.write_text("code,name,level,successor\nOLD,Cũ,commune,GONE\n", encoding="utf-8")
    async with database.transaction() as session:
        report = await import_agencies(session, path)
    assert report.warnings == ["agency OLD: successor GONE is not in the catalogue"]


async def test_a_name_too_long_is_refused_not_cut_and_the_good_rows_kept(database, tmp_path):
    path = tmp_path / "services.csv"
    long_name = "Thủ tục " + "rất dài " * 40
    path.write_text(
        f"code,name,field\nLONG,{long_name},Hộ tịch\nHT-KS,Đăng ký khai sinh,{'x' * 129}\n"
        "HT-KH,Đăng ký kết hôn,Hộ tịch\n",
        encoding="utf-8",
    )
    async with database.transaction() as session:
        report = await import_services(session, path)
        codes = set(await session.scalars(select(Service.code)))
    assert report.rejected == [
        (2, "the name is longer than 255 characters"),
        (3, "the field is longer than 128 characters"),
    ]
    assert codes == {"HT-KH"}
