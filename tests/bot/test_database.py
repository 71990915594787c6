"""The SQLite connection settings the rest of the code relies on; the suite's emptying."""

from __future__ import annotations

import asyncio
import secrets

import asyncpg
import pytest
from sqlalchemy import func, select, text, update

from bot.database import Database, is_unavailable
from bot.models import Agency, Base
from tests.builders import seed_catalog
from tests.conftest import POSTGRES_ADMIN_DSN


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


POSTGRES_ONLY = pytest.mark.parametrize("migrated_database", ["postgresql"], indirect=True)


@POSTGRES_ONLY
async def test_too_many_connections_is_unavailable_not_a_handler_failure(database: Database):
    """PostgreSQL out of connection slots refuses the transaction before anything is applied:
    the message must come again (503), not be marked seen and answered with an apology."""
    role = f"sipas_limited_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(POSTGRES_ADMIN_DSN)
    await admin.execute(f"CREATE ROLE {role} LOGIN CONNECTION LIMIT 1")
    limited = Database(database.engine.url.set(username=role).render_as_string(False))
    try:
        async with limited.engine.connect() as first:
            await first.execute(text("SELECT 1"))
            with pytest.raises(Exception) as refused:
                async with limited.engine.connect() as second:
                    await second.execute(text("SELECT 1"))
    finally:
        await limited.dispose()
        await admin.execute(f"DROP ROLE {role}")
        await admin.close()
    assert "too many connections" in str(refused.value)
    assert is_unavailable(refused.value)


@POSTGRES_ONLY
async def test_a_deadlock_is_unavailable_so_the_message_is_tried_again(database: Database):
    await seed_catalog(database)
    async with database.transaction() as session:
        first, second = (await session.scalars(select(Agency.id).order_by(Agency.id))).all()[:2]
    entered = [asyncio.Event(), asyncio.Event()]

    async def lock_both(order: tuple[int, int], mine: int) -> BaseException | None:
        try:
            async with database.transaction() as session:
                await session.execute(
                    update(Agency).where(Agency.id == order[0]).values(name=Agency.name)
                )
                entered[mine].set()
                await entered[1 - mine].wait()
                await session.execute(
                    update(Agency).where(Agency.id == order[1]).values(name=Agency.name)
                )
        except Exception as error:  # noqa: BLE001 - the loser of the deadlock is wanted
            return error
        return None

    results = await asyncio.gather(lock_both((first, second), 0), lock_both((second, first), 1))
    (error,) = [result for result in results if result is not None]
    assert "deadlock" in str(error)
    assert is_unavailable(error)


def test_a_programming_error_is_not_unavailable():
    assert not is_unavailable(ValueError("a bug"))
    assert not is_unavailable(KeyError("x"))
