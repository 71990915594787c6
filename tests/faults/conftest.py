"""The fault suite runs real bot processes on PostgreSQL only: several processes on one
SQLite file are not a supported deployment, so there is nothing to prove there.

`pg_database` is the migrated PostgreSQL database, emptied; module-scoped scenarios
(one run, several tests reading its outcome) use `pg_empty` themselves.
"""

from __future__ import annotations

import pytest

from bot.database import Database
from tests.conftest import empty_database


@pytest.fixture(scope="session")
async def pg_migrated(migrated_databases) -> Database:
    return await migrated_databases("postgresql")


async def pg_empty(database: Database) -> Database:
    await database.leadership.release()
    await empty_database(database)
    return database


@pytest.fixture
async def pg_database(pg_migrated: Database) -> Database:
    return await pg_empty(pg_migrated)
