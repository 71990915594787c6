"""The schema exists only through migrations: they must build it from nothing on both
databases, match the models exactly, and step back down."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from bot import migrate
from bot.database import Database
from bot.models import Base

ROOT = Path(__file__).resolve().parents[2]


def _diff(connection):
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return compare_metadata(context, Base.metadata)


def _tables(connection):
    return set(inspect(connection).get_table_names()) - {"alembic_version"}


async def test_upgrade_from_empty_matches_models(migrated_database: Database):
    async with migrated_database.engine.connect() as connection:
        assert await connection.run_sync(_tables) == set(Base.metadata.tables)
        assert await connection.run_sync(_diff) == []


async def test_latest_migration_steps_down_and_up(empty_database_url, backend):
    database = Database(await empty_database_url(backend))
    try:
        await migrate.upgrade(database)
        head = ScriptDirectory.from_config(migrate.alembic_config(database.url)).get_current_head()
        script = ScriptDirectory.from_config(migrate.alembic_config(database.url))
        previous = script.get_revision(head).down_revision or "base"
        await migrate.downgrade(database, previous)
        async with database.engine.connect() as connection:
            # a table or a column of the latest migration is gone again
            assert await connection.run_sync(_diff) != []
        await migrate.upgrade(database)
        async with database.engine.connect() as connection:
            assert await connection.run_sync(_diff) == []
    finally:
        await database.dispose()


async def test_upgrade_twice_is_a_no_op(migrated_database: Database):
    await migrate.upgrade(migrated_database)
    async with migrated_database.engine.connect() as connection:
        assert await connection.run_sync(_diff) == []


async def test_processes_starting_together_migrate_once(empty_database_url, backend, tmp_path):
    url = await empty_database_url(backend)
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT), "DATABASE_URL": url}
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "migrate",
            cwd=tmp_path,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(3)
    ]
    outcomes = [await process.communicate() for process in processes]
    assert [process.returncode for process in processes] == [0, 0, 0], outcomes
    database = Database(url)
    try:
        async with database.engine.connect() as connection:
            assert await connection.run_sync(_diff) == []
    finally:
        await database.dispose()
