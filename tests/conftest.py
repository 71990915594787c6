"""Fixtures shared by the whole suite.

`database` runs every test that uses it once per backend: SQLite (a file in a
temporary folder) and PostgreSQL (a database this suite creates and drops).
`TEST_DATABASES=sqlite` narrows the run on a machine without PostgreSQL;
CI always runs both. Under pytest-xdist each worker is its own session, so it
migrates its own databases once (their names carry the worker's id).

Every test runs under the loopback guard of `tests.netguard`: a connection or a
name look-up anywhere but this machine fails the test.
"""

from __future__ import annotations

import os
import uuid

import asyncpg
import pytest

from bot import migrate
from bot.database import Database
from bot.models import Base

pytest_plugins = ("pytester", "tests.netguard")

BACKENDS = [b.strip() for b in os.environ.get("TEST_DATABASES", "sqlite,postgresql").split(",")]
POSTGRES_ADMIN_DSN = os.environ.get(
    "TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def _asyncpg_dsn(dsn: str, database: str) -> str:
    return dsn.rsplit("/", 1)[0] + "/" + database


async def create_postgres_database(prefix: str = "sipas_test") -> str:
    """A new empty PostgreSQL database; returns its SQLAlchemy URL."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    name = f"{prefix}_{worker}_{uuid.uuid4().hex[:10]}"
    connection = await asyncpg.connect(POSTGRES_ADMIN_DSN)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return _asyncpg_dsn(POSTGRES_ADMIN_DSN, name).replace("postgresql://", "postgresql+asyncpg://")


async def drop_postgres_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    connection = await asyncpg.connect(POSTGRES_ADMIN_DSN)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


@pytest.fixture(scope="session")
async def empty_database_url(request, tmp_path_factory):
    """A factory of empty databases of one backend, dropped at the end of the session."""
    created: list[str] = []

    async def make(backend: str) -> str:
        if backend == "sqlite":
            return f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
        url = await create_postgres_database()
        created.append(url)
        return url

    yield make
    for url in created:
        await drop_postgres_database(url)


@pytest.fixture(scope="session")
async def migrated_databases(empty_database_url):
    """One migrated database per backend, made on first use and kept for the session."""
    made: dict[str, Database] = {}

    async def get(backend: str) -> Database:
        if backend not in made:
            database = Database(await empty_database_url(backend))
            await migrate.upgrade(database)
            made[backend] = database
        return made[backend]

    yield get
    for database in made.values():
        await database.dispose()


@pytest.fixture(scope="session", params=BACKENDS)
async def migrated_database(request, migrated_databases) -> Database:
    """The backend's migrated database. pytest drops a parametrized session fixture when
    the next test wants the other parameter, as happens all the time under pytest-xdist;
    the databases themselves stay in `migrated_databases`, so a switch migrates nothing."""
    return await migrated_databases(request.param)


# Every table emptied, children first, in one script: one round trip instead of one per
# table (29 of them: 15-60 ms a test on PostgreSQL, where TRUNCATE takes longer still).
EMPTY_ALL = "".join(f'DELETE FROM "{t.name}";' for t in reversed(Base.metadata.sorted_tables))


async def empty_database(database: Database) -> None:
    async with database.engine.connect() as connection:
        driver = (await connection.get_raw_connection()).driver_connection
        if database.is_sqlite:
            await driver.executescript(f"BEGIN;{EMPTY_ALL}COMMIT;")
        else:
            await driver.execute(EMPTY_ALL)  # several statements: one implicit transaction


@pytest.fixture
async def database(migrated_database: Database) -> Database:
    """The backend's migrated database, emptied before each test."""
    await migrated_database.leadership.release()  # a test's tick may have taken it
    await empty_database(migrated_database)
    return migrated_database


@pytest.fixture
def backend(migrated_database: Database) -> str:
    return "sqlite" if migrated_database.is_sqlite else "postgresql"
