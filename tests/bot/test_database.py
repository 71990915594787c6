"""The SQLite connection settings the rest of the code relies on."""

from __future__ import annotations

from sqlalchemy import text

from bot.database import Database


async def test_sqlite_overwrites_deleted_rows_and_enforces_foreign_keys(tmp_path):
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    try:
        async with database.transaction() as session:
            pragmas = {
                name: (await session.execute(text(f"PRAGMA {name}"))).scalar()
                for name in ("secure_delete", "foreign_keys", "journal_mode")
            }
    finally:
        await database.dispose()
    assert pragmas == {"secure_delete": 1, "foreign_keys": 1, "journal_mode": "wal"}
