"""The SQLite connection settings the rest of the code relies on; the suite's emptying."""

from __future__ import annotations

from sqlalchemy import func, select, text

from bot.database import Database
from bot.models import Base


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


async def test_the_suite_empties_every_table_between_tests(database: Database):
    """`empty_database` (run before each test using `database`) leaves no row anywhere."""
    from tests.builders import make_code, seed_catalog
    from tests.conftest import empty_database

    await make_code(database, await seed_catalog(database))

    async def counts() -> dict[str, int]:
        async with database.transaction() as session:
            return {
                table.name: (
                    await session.execute(select(func.count()).select_from(table))
                ).scalar()
                for table in Base.metadata.sorted_tables
            }

    assert sum((await counts()).values()) > 0
    await empty_database(database)
    assert set((await counts()).values()) == {0}
