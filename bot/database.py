"""Engine, sessions and the few dialect differences the rest of the code must not see.

SQLite: pysqlite only opens a transaction at the first write and ignores
`FOR UPDATE`, so two messages of one chat could interleave. Every transaction
here therefore starts with `BEGIN IMMEDIATE`, which takes the write lock up
front (SQLAlchemy's documented recipe). PostgreSQL: rows are locked with
`SELECT … FOR UPDATE`.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from bot.models import InstallSecret

SQLITE_BUSY_TIMEOUT_MS = 30_000


def is_sqlite(url_or_engine: str | AsyncEngine) -> bool:
    url = url_or_engine if isinstance(url_or_engine, str) else str(url_or_engine.url)
    return url.startswith("sqlite")


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine; on SQLite with WAL, a busy timeout and `BEGIN IMMEDIATE`.

    Bound parameters are hidden from error messages: they may hold a citizen's words.
    """
    kwargs.setdefault("hide_parameters", True)
    if not is_sqlite(url):
        kwargs.setdefault("pool_size", 10)
        kwargs.setdefault("max_overflow", 20)
        kwargs.setdefault("pool_pre_ping", True)
        return create_async_engine(url, **kwargs)

    engine = create_async_engine(
        url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **kwargs
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        # Deleted rows (ended sessions, published pool rows) are overwritten, not left in
        # free pages for anyone who reads the file (README, "Anonymity").
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _asyncpg_connection_errors() -> tuple[type[BaseException], ...]:
    try:
        import asyncpg
    except ImportError:  # pragma: no cover - asyncpg is a dependency
        return ()
    return (
        asyncpg.PostgresConnectionError,  # SQLSTATE class 08
        asyncpg.exceptions.OperatorInterventionError,  # 57P01 terminated, 57P03 starting up
        asyncpg.InterfaceError,  # "connection was closed in the middle of operation"
        asyncpg.InternalClientError,  # "cannot switch to state …" on a broken connection
    )


_UNAVAILABLE = (OperationalError, InterfaceError, PoolTimeoutError, OSError, TimeoutError)
_DRIVER_UNAVAILABLE = _asyncpg_connection_errors()


def is_unavailable(error: BaseException) -> bool:
    """True when `error` means the database could not be reached or the connection broke.

    Such a failure says nothing about the message being handled: the platform must
    deliver it again later, so it is never acknowledged. SQLAlchemy reports a lost
    asyncpg connection in several guises (DBAPIError, InternalError, InterfaceError), so
    the whole chain of causes is inspected, drivers' own classes included.
    """
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, _UNAVAILABLE + _DRIVER_UNAVAILABLE):
            return True
        if isinstance(current, DBAPIError):
            if current.connection_invalidated:
                return True
            pending.append(current.orig)
        pending += [current.__cause__, current.__context__]
    return False


class Database:
    """The engine and a session factory; `transaction()` is the unit of work."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = create_engine(url, **engine_kwargs)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return is_sqlite(self.url)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        async with self.sessions() as session, session.begin():
            yield session

    async def ping(self) -> bool:
        try:
            async with self.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
            return True
        except Exception:  # noqa: BLE001 - any failure means "not reachable"
            return False

    async def dispose(self) -> None:
        await self.engine.dispose()


def insert_ignoring_duplicates(session: AsyncSession, table: Any) -> Any:
    """`INSERT … ON CONFLICT DO NOTHING` for the session's dialect."""
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(table).on_conflict_do_nothing()


async def insert_if_absent(session: AsyncSession, table: Any, values: dict[str, Any]) -> bool:
    """Insert a row unless its key exists; True when this call inserted it.

    Under concurrency PostgreSQL makes the second inserter wait for the first
    one's commit, so exactly one of them sees True.
    """
    result = await session.execute(insert_ignoring_duplicates(session, table).values(**values))
    return bool(result.rowcount)


async def install_secret(session: AsyncSession, name: str) -> str:
    """A random secret created once per installation and kept in the database."""
    await insert_if_absent(
        session, InstallSecret.__table__, {"name": name, "value": secrets.token_hex(32)}
    )
    value = await session.scalar(select(InstallSecret.value).where(InstallSecret.name == name))
    assert value is not None
    return value
