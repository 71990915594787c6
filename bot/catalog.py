"""Agencies and services as data: imported from the provinces' own spreadsheets.

Since 1 July 2025 provinces and communes were merged and the district tier
removed, so an agency row may end (`valid_to`) and name the `successor` that
took over its code; old responses stay attached to the old code and reports
can map them forward. Imports are upserts on the code: running one twice
changes nothing the second time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import Agency, Service
from bot.tabular import date_cell, read_rows, text_cell
from bot.textnorm import fold

LEVELS = {
    "province": "province",
    "tinh": "province",
    "commune": "commune",
    "xa": "commune",
    "phuong": "commune",
    "district": "district",
    "huyen": "district",
    "ministry": "ministry",
    "bo": "ministry",
}
CODE_MAX = 32


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return f"{self.created} created, {self.updated} updated, {len(self.rejected)} rejected"


def _code(row: dict[str, Any], *names: str) -> str:
    code = text_cell(row, *names)
    if len(code) > CODE_MAX:
        raise ValueError(f"code longer than {CODE_MAX} characters")
    return code


def _level(raw: str, required: bool) -> str | None:
    if not raw:
        if required:
            raise ValueError("level is missing (province, commune, district or ministry)")
        return None
    level = LEVELS.get(fold(raw).replace("cap ", ""))
    if level is None:
        raise ValueError(f"unknown level {raw!r} (province, commune, district or ministry)")
    return level


def _bounded(value: str, what: str, limit: int) -> str:
    """A catalogue text as given, or the row refused: a name is never cut short."""
    if len(value) > limit:
        raise ValueError(f"{what} is longer than {limit} characters")
    return value


def _agency_values(row: dict[str, Any]) -> dict[str, Any]:
    code = _code(row, "code", "ma", "ma_co_quan")
    name = text_cell(row, "name", "ten", "ten_co_quan")
    if not code or not name:
        raise ValueError("code and name are required")
    valid_from = date_cell(row, "valid_from", "hieu_luc_tu")
    valid_to = date_cell(row, "valid_to", "hieu_luc_den")
    if valid_from and valid_to and valid_to < valid_from:
        raise ValueError("valid_to is before valid_from")
    return {
        "code": code,
        "name": _bounded(name, "the name", 255),
        "name_folded": fold(name)[:255],  # a search key: shortening it loses nothing shown
        "level": _level(text_cell(row, "level", "cap"), required=True),
        "parent_code": _code(row, "parent", "parent_code", "ma_cap_tren") or None,
        "valid_from": valid_from,
        "valid_to": valid_to,
        "successor_code": _code(row, "successor", "successor_code", "ma_ke_thua") or None,
    }


def _service_values(row: dict[str, Any]) -> dict[str, Any]:
    code = _code(row, "code", "ma", "ma_thu_tuc")
    name = text_cell(row, "name", "ten", "ten_thu_tuc")
    if not code or not name:
        raise ValueError("code and name are required")
    return {
        "code": code,
        "name": _bounded(name, "the name", 255),
        "name_folded": fold(name)[:255],
        "field": _bounded(text_cell(row, "field", "linh_vuc"), "the field", 128) or None,
        "level": _level(text_cell(row, "level", "cap"), required=False),
        # An operator's import makes a procedure first created by a dossier catalogue-wide.
        "owner_agency_id": None,
    }


async def _upsert(
    session: AsyncSession,
    model: type[Agency] | type[Service],
    path: Path,
    to_values: Callable[[dict[str, Any]], dict[str, Any]],
) -> ImportReport:
    report = ImportReport()
    seen: set[str] = set()
    for number, row in read_rows(path):
        try:
            values = to_values(row)
        except ValueError as error:
            report.rejected.append((number, str(error)))
            continue
        if values["code"] in seen:
            report.rejected.append((number, f"code {values['code']!r} appears twice in the file"))
            continue
        seen.add(values["code"])
        existing = await session.scalar(select(model).where(model.code == values["code"]))
        if existing is None:
            session.add(model(**values))
            report.created += 1
        else:
            changed = any(getattr(existing, key) != value for key, value in values.items())
            for key, value in values.items():
                setattr(existing, key, value)
            report.updated += changed
    await session.flush()
    return report


async def import_agencies(session: AsyncSession, path: Path) -> ImportReport:
    report = await _upsert(session, Agency, path, _agency_values)
    known = set(await session.scalars(select(Agency.code)))
    for agency in await session.scalars(select(Agency).where(Agency.successor_code.is_not(None))):
        if agency.successor_code not in known:
            report.warnings.append(
                f"agency {agency.code}: successor {agency.successor_code} is not in the catalogue"
            )
    return report


async def import_services(session: AsyncSession, path: Path) -> ImportReport:
    return await _upsert(session, Service, path, _service_values)


async def is_empty(session: AsyncSession, model: type[Agency] | type[Service]) -> bool:
    return not await session.scalar(select(func.count()).select_from(model))


async def successor_of(session: AsyncSession, code: str, max_hops: int = 10) -> str:
    """The code that currently stands for `code`, following successor links."""
    seen = {code}
    for _ in range(max_hops):
        following = await session.scalar(select(Agency.successor_code).where(Agency.code == code))
        if following is None or following in seen:
            return code
        seen.add(following)
        code = following
    return code
