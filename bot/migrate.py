"""Apply the Alembic migrations, safely when several processes start at once.

On PostgreSQL the upgrade runs in one transaction holding an advisory lock, so
a second process waits and then finds nothing left to do. On SQLite the
`BEGIN IMMEDIATE` of every transaction gives the same exclusion.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection

from bot.database import Database, LockKey, transaction_lock

ROOT = Path(__file__).resolve().parent.parent


def alembic_config(url: str) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


# Alembic keeps its running context in module globals: one migration at a time per process.
_in_process = asyncio.Lock()


async def _run(database: Database, action: str, revision: str) -> None:
    async with _in_process:
        await _run_locked(database, action, revision)


async def _run_locked(database: Database, action: str, revision: str) -> None:
    config = alembic_config(database.url)

    def apply(connection: Connection) -> None:
        config.attributes["connection"] = connection
        getattr(command, action)(config, revision)

    async with database.engine.connect() as connection:
        # Also opens the transaction (on SQLite BEGIN IMMEDIATE) now, so Alembic runs
        # every revision inside it instead of committing, and unlocking, after each.
        await transaction_lock(connection, LockKey.MIGRATIONS)
        await connection.run_sync(apply)
        await connection.commit()


async def upgrade(database: Database, revision: str = "head") -> None:
    await _run(database, "upgrade", revision)


async def downgrade(database: Database, revision: str) -> None:
    await _run(database, "downgrade", revision)
