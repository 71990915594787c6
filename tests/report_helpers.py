"""Builders for report tests: a catalogue with levels and merged agencies."""

from __future__ import annotations

from sqlalchemy import insert, select

from bot.database import Database
from bot.models import Agency, Service


async def catalogue(database: Database) -> dict[str, int]:
    """Agencies and services by code -> id. OLDER -> OLD -> NEW were merged."""
    async with database.transaction() as session:
        for code, level, successor in [
            ("PROV", "province", None),
            ("COMM", "commune", None),
            ("NEW", "commune", None),
            ("OLD", "district", "NEW"),
            ("OLDER", "district", "OLD"),
        ]:
            await session.execute(
                insert(Agency).values(
                    code=code,
                    name=f"Cơ quan {code}",
                    name_folded=code.lower(),
                    level=level,
                    successor_code=successor,
                )
            )
        await session.execute(
            insert(Service),
            [
                {"code": "KS", "name": "Khai sinh", "name_folded": "khai sinh", "field": "Hộ tịch"},
                {"code": "DD", "name": "Đất", "name_folded": "dat", "field": "Đất đai"},
            ],
        )
        ids = dict((await session.execute(select(Agency.code, Agency.id))).all())
        ids.update((await session.execute(select(Service.code, Service.id))).all())
    return ids
