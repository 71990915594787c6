"""Engine, sessions and every dialect difference the rest of the code must not see.

Upserts, advisory locks (their keys in `LockKey`), leadership of the scheduled ticks,
bulk loading, the shared rate buckets, waking on new rows (LISTEN/NOTIFY) and the SQL
expressions that differ between SQLite and PostgreSQL live here, so no other module
asks which database it runs on.

SQLite: pysqlite only opens a transaction at the first write and ignores
`FOR UPDATE`, so two messages of one chat could interleave. Every transaction
here therefore starts with `BEGIN IMMEDIATE`, which takes the write lock up
front (SQLAlchemy's documented recipe). PostgreSQL: rows are locked with
`SELECT … FOR UPDATE`.

Longer than 450 lines because every dialect difference belongs here and nowhere else.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import secrets
import time
import weakref
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from enum import IntEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Date,
    Integer,
    Select,
    String,
    bindparam,
    column,
    event,
    func,
    literal_column,
    null,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import Null
from sqlalchemy.sql.functions import FunctionElement

from bot.models import Chat, InstallSecret, OutboxMessage, ProcessedUpdate

SQLITE_BUSY_TIMEOUT_MS = 30_000
log = logging.getLogger(__name__)


class LockKey(IntEnum):
    """PostgreSQL advisory-lock keys: arbitrary constants, one per thing serialised."""

    MIGRATIONS = 0x51_7A_5B_07
    SCHEDULED_TICKS = 0x51_7A_71_C4
    APOLOGY_SCAN = 0x51_7A_5C_A9
    DOSSIER_WRITES = 0x51_7A_D0_55


def is_sqlite(url_or_engine: str | AsyncEngine) -> bool:
    url = url_or_engine if isinstance(url_or_engine, str) else str(url_or_engine.url)
    return url.startswith("sqlite")


def create_engine(url: str, pool_size: int = 20, **kwargs: Any) -> AsyncEngine:
    """An async engine; on SQLite with WAL, a busy timeout and `BEGIN IMMEDIATE`.

    Bound parameters are hidden from error messages: they may hold a citizen's words.

    PostgreSQL: a fixed pool of `pool_size` connections and no overflow. Overflow
    connections are closed when given back while the pool is full, so a burst wider
    than the pool opened (TLS handshake included) and closed one per transaction; a
    transaction now waits for a connection instead, which is cheaper on every count
    and keeps N processes x pool_size under max_connections. No ping before each
    checkout either: it was one more round trip per transaction. A connection a
    restart broke fails its first statement, which is "unavailable" (the platform
    delivers the update again) and makes SQLAlchemy replace the whole pool.
    """
    kwargs.setdefault("hide_parameters", True)
    if not is_sqlite(url):
        kwargs.setdefault("pool_size", pool_size)
        kwargs.setdefault("max_overflow", 0)
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
        dbapi_connection.create_function("local_day", 2, _sqlite_local_day, deterministic=True)

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
        # Class 53: too many connections, out of memory, disk full: nothing was applied
        # and a later try may succeed.
        asyncpg.exceptions.InsufficientResourcesError,
        # Class 40: a deadlock or serialization failure rolled the transaction back.
        asyncpg.exceptions.TransactionRollbackError,
    )


_UNAVAILABLE = (OperationalError, InterfaceError, PoolTimeoutError, OSError, TimeoutError)
_DRIVER_UNAVAILABLE = _asyncpg_connection_errors()


def is_unavailable(error: BaseException) -> bool:
    """True when `error` means the database could not be reached, the connection broke,
    or the database refused the transaction for now (too many connections, a deadlock).

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


# SQLite: one lock per (database file, name) in each event loop, shared by every holder.
_sqlite_held_locks: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, dict[tuple[str, str], asyncio.Lock]
] = weakref.WeakKeyDictionary()


def named_lock_key(name: str) -> int:
    """A PostgreSQL advisory-lock key for a lock named at run time (a signed 64-bit int)."""
    digest = hashlib.sha256(name.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@asynccontextmanager
async def held_lock(database: Database, name: str) -> AsyncIterator[None]:
    """Serialise work that must not run inside a transaction (a call to another server):
    on PostgreSQL a session advisory lock held by a connection of its own, so no
    transaction stays open meanwhile, across processes; on SQLite (one process) a lock
    shared by every holder of the same database file in this event loop."""
    if database.is_sqlite:
        locks = _sqlite_held_locks.setdefault(asyncio.get_running_loop(), {})
        async with locks.setdefault((str(database.url), name), asyncio.Lock()):
            yield
        return
    key = {"key": named_lock_key(name)}
    async with database.engine.connect() as connection:
        await connection.execute(text("SELECT pg_advisory_lock(:key)"), key)
        await connection.commit()  # the lock is the connection's, not a transaction's
        try:
            yield
        finally:
            await connection.execute(text("SELECT pg_advisory_unlock(:key)"), key)
            await connection.commit()


class Database:
    """The engine and a session factory; `transaction()` is the unit of work."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = create_engine(url, **engine_kwargs)
        self.sessions = async_sessionmaker(
            self.engine, expire_on_commit=False, sync_session_class=AnnouncingSession
        )
        self.leadership = Leadership(self)
        # SQLite has one writer at a time, and a transaction that finds the file locked
        # sleeps in SQLite's busy handler (1 ms, 2 ms, … 100 ms): queueing the writers of
        # this process here instead keeps the waits short and in order. PostgreSQL
        # needs no such turn.
        self.write_turn: contextlib.AbstractAsyncContextManager = (
            asyncio.Lock() if self.is_sqlite else contextlib.nullcontext()
        )

    @property
    def is_sqlite(self) -> bool:
        return is_sqlite(self.url)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        async with self.sessions() as session, session.begin():
            yield session

    @property
    def shared_by_processes(self) -> bool:
        """Whether several bot processes may use it at once: PostgreSQL, not SQLite."""
        return not self.is_sqlite

    async def ping(self) -> bool:
        """Whether the database answers. Asked twice: a pooled connection that a restart
        broke fails once, and that failure replaces the pool (no ping at checkout)."""
        for _ in range(2):
            try:
                async with self.engine.connect() as connection:
                    await connection.execute(text("SELECT 1"))
                return True
            except Exception:  # noqa: BLE001 - any failure means "not reachable"
                continue
        return False

    async def dispose(self) -> None:
        await self.leadership.release()
        await self.engine.dispose()


Executor = AsyncSession | AsyncConnection | AsyncEngine | Database


def _is_postgresql(executor: Executor) -> bool:
    if isinstance(executor, Database):
        executor = executor.engine
    if isinstance(executor, AsyncSession):
        bind = executor.bind
        return bind is not None and bind.dialect.name == "postgresql"
    return executor.dialect.name == "postgresql"


def _insert(session: AsyncSession, table: Any) -> Any:
    return (postgresql if _is_postgresql(session) else sqlite).insert(table)


def insert_ignoring_duplicates(session: AsyncSession, table: Any) -> Any:
    """`INSERT … ON CONFLICT DO NOTHING` for the session's dialect."""
    return _insert(session, table).on_conflict_do_nothing()


def upsert(
    session: AsyncSession,
    table: Any,
    key_columns: Sequence[str],
    values: Mapping[str, Any] | None = None,
    *,
    replace: Iterable[str] = (),
    increment: Iterable[str] = (),
    assign: Mapping[str, Any] | None = None,
    where: Callable[[Any], ColumnElement[bool]] | None = None,
) -> Any:
    """`INSERT … ON CONFLICT (key_columns) DO UPDATE` for the session's dialect.

    On a conflict, `replace` columns take the new row's value, `increment` columns add
    it to the stored one, `assign` sets columns to given values or expressions; `where`
    (given the new row, `excluded`) limits the update to some stored rows. `values` may
    be left out for an executemany; `.returning(…)` may be chained.
    """
    statement = _insert(session, table)
    if values is not None:
        statement = statement.values(**values)
    excluded = statement.excluded
    update: dict[str, Any] = {name: excluded[name] for name in replace}
    update |= {name: table.c[name] + excluded[name] for name in increment}
    update |= dict(assign or {})
    return statement.on_conflict_do_update(
        index_elements=list(key_columns),
        set_=update,
        where=where(excluded) if where is not None else None,
    )


async def insert_if_absent(session: AsyncSession, table: Any, values: dict[str, Any]) -> bool:
    """Insert a row unless its key exists; True when this call inserted it.

    Under concurrency PostgreSQL makes the second inserter wait for the first
    one's commit, so exactly one of them sees True.
    """
    key = (_is_postgresql(session), table.name, *values)
    statement = _insert_ignoring.get(key)
    if statement is None:  # built once per table and set of columns: see _insert_ignoring
        statement = insert_ignoring_duplicates(session, table).values(
            {name: bindparam(name) for name in values}
        )
        _insert_ignoring[key] = statement
    result = await session.execute(statement, values)
    return bool(result.rowcount)


# The statements of insert_if_absent, kept: it runs on every message (the update's key),
# and building an INSERT anew costs more CPU than sending it.
_insert_ignoring: dict[tuple[Any, ...], Any] = {}


# The inbound turn's first round trip on PostgreSQL: the update's key recorded (unless
# it was) and the chat's row locked, in one statement that returns one row whatever
# happened. A second delivery of the update waits here for the first one's commit, on
# both the key and the row, then finds its key taken.
_RECORD_AND_LOCK_CHAT = text(
    "WITH recorded AS (INSERT INTO processed_updates (update_key, processed_at)"
    " VALUES (:update_key, :processed_at) ON CONFLICT DO NOTHING RETURNING 1),"
    " locked AS (SELECT * FROM chats WHERE channel = :channel AND chat_key = :chat_key"
    " FOR UPDATE)"
    " SELECT (SELECT count(*) FROM recorded) AS fresh, "
    # Named, in the model's order: `.columns()` matches them by position.
    + ", ".join(f"locked.{chat_column.name}" for chat_column in Chat.__table__.c)
    + " FROM (SELECT 1) AS one LEFT JOIN locked ON true"
).columns(column("fresh", Integer), *Chat.__table__.c)
_RECORD_AND_LOCK_CHAT_ORM = select(Chat, column("fresh", Integer)).from_statement(
    _RECORD_AND_LOCK_CHAT
)


async def record_update_and_lock_chat(
    session: AsyncSession, update_key: str, now: datetime, channel: str, chat_key: str
) -> tuple[bool, Chat | None]:
    """Record an inbound update's key and lock its chat's row: (whether the key is new,
    the chat locked, or None when the chat has no row yet or the key is not new).

    One round trip on PostgreSQL, where it is the cost of every message; SQLite (one
    writer, `BEGIN IMMEDIATE`) runs the two statements.
    """
    recorded = {"update_key": update_key, "processed_at": now}
    if not _is_postgresql(session):
        if not await insert_if_absent(session, ProcessedUpdate.__table__, recorded):
            return False, None
        return True, await locked_chat(session, channel, chat_key)
    values = {**recorded, "channel": channel, "chat_key": chat_key}
    chat, fresh = (await session.execute(_RECORD_AND_LOCK_CHAT_ORM, values)).one()
    return bool(fresh), chat if fresh else None


# Built once: a statement made anew for every message costs more CPU than its round trip.
_LOCK_CHAT = (
    select(Chat)
    .where(Chat.channel == bindparam("channel"), Chat.chat_key == bindparam("chat_key"))
    .with_for_update()
)


async def locked_chat(session: AsyncSession, channel: str, chat_key: str) -> Chat | None:
    """The chat's row, locked until the transaction ends; None when it has none yet."""
    return await session.scalar(_LOCK_CHAT, {"channel": channel, "chat_key": chat_key})


async def install_secret(session: AsyncSession, name: str) -> str:
    """A random secret created once per installation and kept in the database."""
    await insert_if_absent(
        session, InstallSecret.__table__, {"name": name, "value": secrets.token_hex(32)}
    )
    value = await session.scalar(select(InstallSecret.value).where(InstallSecret.name == name))
    assert value is not None
    return value


async def transaction_lock(executor: AsyncSession | AsyncConnection, key: LockKey) -> None:
    """Serialise this transaction with every other one taking the same `key`.

    PostgreSQL: `pg_advisory_xact_lock`, released at commit or rollback. SQLite: the
    database write lock `BEGIN IMMEDIATE` takes already serialises every writer; the
    statement run here just makes sure the transaction (and so that lock) has begun.
    """
    if _is_postgresql(executor):
        await executor.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": int(key)})
    else:
        await executor.execute(text("SELECT 1"))


class Leadership:
    """Which process runs the scheduled ticks: the holder of a session advisory lock.

    The lock is held on a connection of its own from the first successful `check()` until
    `release()` (at stop, or when the database is disposed); each `check()` re-checks that
    connection, so a leader whose connection broke gives way and any process may take
    over. SQLite has one writing process: it is always the leader.
    """

    def __init__(self, database: Database, key: LockKey = LockKey.SCHEDULED_TICKS) -> None:
        self.database = database
        self.key = key
        self._connection: AsyncConnection | None = None
        self._guard = asyncio.Lock()

    @property
    def held(self) -> bool:
        """Whether this process led at its last `check()` (what /healthz reports)."""
        return not _is_postgresql(self.database) or self._connection is not None

    async def check(self) -> bool:
        """True when this process holds the lock now (taking it if it is free)."""
        if not _is_postgresql(self.database):
            return True
        async with self._guard:
            if self._connection is not None:
                try:
                    await self._connection.execute(text("SELECT 1"))
                    return True
                except Exception:  # noqa: BLE001 - a broken connection lost the lock too
                    log.warning("leadership: the lock's connection broke; taking it anew")
                    await self._drop()
            connection = await self.database.engine.connect()
            try:
                held = bool(
                    await connection.scalar(
                        text("SELECT pg_try_advisory_lock(:key)"), {"key": int(self.key)}
                    )
                )
                await connection.commit()
            except BaseException:
                await connection.close()
                raise
            if held:
                self._connection = connection
            else:
                await connection.close()
            return held

    async def release(self) -> None:
        """Give the lock up, so another process may lead."""
        async with self._guard:
            if self._connection is None:
                return
            try:
                await self._connection.execute(
                    text("SELECT pg_advisory_unlock(:key)"), {"key": int(self.key)}
                )
                await self._connection.commit()
            except Exception:  # noqa: BLE001 - closing the connection frees the lock anyway
                log.warning("leadership: could not unlock; closing the connection")
            await self._drop()

    async def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                await connection.close()
            except Exception:  # noqa: BLE001 - it is being thrown away
                await connection.invalidate()


class _MonthOf(FunctionElement):
    """The month of a date as "YYYY-MM"; compiled per dialect below."""

    type = String()
    name = "month_of"
    inherit_cache = True


@compiles(_MonthOf)
def _month_of_sqlite(element: _MonthOf, compiler: Any, **kw: Any) -> str:
    # Formats as literal SQL, not parameters: the SELECT and the GROUP BY of one query
    # must render the very same expression (PostgreSQL compares their text).
    return compiler.process(func.strftime(literal_column("'%Y-%m'"), *element.clauses), **kw)


@compiles(_MonthOf, "postgresql")
def _month_of_postgresql(element: _MonthOf, compiler: Any, **kw: Any) -> str:
    return compiler.process(func.to_char(*element.clauses, literal_column("'YYYY-MM'")), **kw)


def month_of(column: Any) -> ColumnElement[str]:
    """The month of a date column as "YYYY-MM", on whichever database compiles it."""
    return _MonthOf(column)


class _BlockOf(FunctionElement):
    """The first day of the block of `span` days holding a date; per dialect below.

    A month's blocks start on days 1, 1 + span, …; the last runs to the month's end.
    """

    type = Date()
    name = "block_of"
    inherit_cache = True


def _block_parts(element: _BlockOf, compiler: Any, **kw: Any) -> tuple[str, int, int]:
    column, span = element.clauses
    size = int(span.name)
    return compiler.process(column, **kw), size, 30 // size - 1


@compiles(_BlockOf)
def _block_of_sqlite(element: _BlockOf, compiler: Any, **kw: Any) -> str:
    day, span, last = _block_parts(element, compiler, **kw)
    return (
        f"date({day}, 'start of month', '+' || "
        f"(min((CAST(strftime('%d', {day}) AS INTEGER) - 1) / {span}, {last}) * {span}) || ' days')"
    )


@compiles(_BlockOf, "postgresql")
def _block_of_postgresql(element: _BlockOf, compiler: Any, **kw: Any) -> str:
    day, span, last = _block_parts(element, compiler, **kw)
    return (
        f"(CAST(date_trunc('month', {day}) AS DATE)"
        f" + LEAST((CAST(EXTRACT(DAY FROM {day}) AS INTEGER) - 1) / {span}, {last}) * {span})"
    )


def block_of(column: Any, span: int) -> ColumnElement[Any]:
    """The first day of the block of `span` days (of a month) holding a date column's day."""
    return _BlockOf(column, literal_column(str(int(span))))


def _sqlite_local_day(stored: str | None, zone: str) -> str | None:
    """SQLite's `local_day(ts, zone)`: the local ISO day of a UTC timestamp as SQLite holds
    it ("YYYY-MM-DD HH:MM:SS[.ffffff]", naive UTC), by the same tz database as Python."""
    if stored is None:
        return None
    moment = datetime.fromisoformat(stored).replace(tzinfo=UTC)
    return moment.astimezone(ZoneInfo(zone)).date().isoformat()


class _LocalDayOf(FunctionElement):
    """The local calendar day of a UTC timestamp column in a named zone; per dialect below."""

    type = Date()
    name = "local_day_of"
    inherit_cache = True


@compiles(_LocalDayOf)
def _local_day_of_sqlite(element: _LocalDayOf, compiler: Any, **kw: Any) -> str:
    column, zone, minutes = element.clauses
    if isinstance(minutes, Null):
        return compiler.process(func.local_day(column, zone), **kw)
    # One offset for every row: SQLite's own date arithmetic, no Python call per row. The
    # fraction of a second is cut first (date() would round .9995 s up to the next day).
    shift = literal_column(f"'{int(minutes.name):+d} minutes'")
    shifted = func.date(func.substr(column, 1, 19), shift)
    return compiler.process(shifted, **kw)


@compiles(_LocalDayOf, "postgresql")
def _local_day_of_postgresql(element: _LocalDayOf, compiler: Any, **kw: Any) -> str:
    column, zone, _ = element.clauses
    timestamp = compiler.process(column, **kw)
    return f"CAST(timezone({compiler.process(zone, **kw)}, {timestamp}) AS DATE)"


def _steady_offset(zone: ZoneInfo, start: datetime, end: datetime) -> int | None:
    """The zone's UTC offset in whole minutes if it is the same on every day from `start`
    to `end` (and the day either side), else None. Vietnam's never changes."""
    offsets = set()
    moment = start - timedelta(days=1)
    while moment <= end + timedelta(days=1):
        offset = moment.astimezone(zone).utcoffset()
        offsets.add(None if offset is None or offset.seconds % 60 else offset)
        moment += timedelta(hours=12)
    if len(offsets) != 1 or None in offsets:
        return None
    return int(offsets.pop().total_seconds() // 60)


def local_day_of(
    column: Any, zone: ZoneInfo, within: tuple[datetime, datetime] | None = None
) -> ColumnElement[date]:
    """The day a UTC timestamp column falls on in `zone` (the TIMEZONE setting), exact on
    both databases: PostgreSQL's tz database, and on SQLite a function registered per
    connection that asks Python's (`_sqlite_local_day`). When every row lies `within` a
    span over which the zone keeps one offset, SQLite shifts by it instead (much faster)."""
    minutes = None if within is None else _steady_offset(zone, *within)
    return _LocalDayOf(
        column,
        literal_column("'" + zone.key.replace("'", "''") + "'"),
        null() if minutes is None else literal_column(str(minutes)),  # part of the cache key
    )


def returns_batch_ids_in_order(session: AsyncSession) -> bool:
    """Whether one batched `INSERT … RETURNING` gives ids in parameter order.

    PostgreSQL does; on SQLite SQLAlchemy falls back to one INSERT per row.
    """
    return _is_postgresql(session)


async def execute_many(
    session: AsyncSession, statement: Any, columns: Sequence[str], rows: list[tuple[Any, ...]]
) -> None:
    """Run one statement for many rows of plain ints, strings and NULLs.

    The statement is compiled once and the tuples go to the driver's executemany as
    they are: SQLAlchemy's per-row parameter processing would cost more than the
    database's work on bulk loads (tens of millions of answers).
    """
    if not rows:
        return
    connection = await session.connection()
    compiled = statement.compile(dialect=connection.dialect, column_keys=list(columns))
    positions = [columns.index(name) for name in compiled.positiontup]
    if positions != list(range(len(columns))):
        rows = [tuple(row[p] for p in positions) for row in rows]
    await connection.exec_driver_sql(compiled.string, rows)


async def bulk_insert(
    session: AsyncSession,
    table: Any,
    columns: Sequence[str],
    rows: list[tuple[Any, ...]],
    copy_from: int = 1000,
) -> None:
    """Insert rows of plain values; by COPY on PostgreSQL from `copy_from` rows, where it is
    several times faster than a batched INSERT. The session must already have written in
    this transaction, so the driver connection is inside it."""
    if not _is_postgresql(session) or len(rows) < copy_from:
        await execute_many(session, table.insert(), columns, rows)
        return
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    await raw.driver_connection.copy_records_to_table(
        table.name, records=rows, columns=list(columns)
    )


def skip_locked(statement: Select[Any]) -> Select[Any]:
    """Rows for one claimer among several: `FOR UPDATE SKIP LOCKED` on PostgreSQL, so
    concurrent claimers each get other rows and none waits. SQLite renders nothing:
    `BEGIN IMMEDIATE` has already made this transaction the only writer."""
    return statement.with_for_update(skip_locked=True)


# -- shared rate budgets (bot.rate_budget) ---------------------------------------------

# Every bucket of one call in one statement, in key order (two processes reserving
# overlapping buckets lock their rows in the same order and cannot deadlock). A bucket
# is spent up to max(its time, now) + its cost; `statement_timestamp()` is one instant.
_RESERVE_TOKENS = text(
    "INSERT INTO rate_budgets AS b (key, paid_until)"
    " SELECT wanted.key,"
    " CAST(extract(epoch FROM statement_timestamp()) AS double precision) + wanted.cost"
    " FROM unnest(CAST(:keys AS text[]), CAST(:costs AS double precision[]))"
    " AS wanted (key, cost) ORDER BY wanted.key"
    " ON CONFLICT (key) DO UPDATE SET paid_until = GREATEST(b.paid_until,"
    " CAST(extract(epoch FROM statement_timestamp()) AS double precision))"
    " + (excluded.paid_until"
    " - CAST(extract(epoch FROM statement_timestamp()) AS double precision))"
    " RETURNING b.key,"
    " b.paid_until - CAST(extract(epoch FROM statement_timestamp()) AS double precision)"
)
_FORGET_TOKENS = text(
    "DELETE FROM rate_budgets"
    " WHERE paid_until < CAST(extract(epoch FROM statement_timestamp()) AS double precision) - :age"
)


class LocalTokens:
    """Token buckets in process memory, the same arithmetic as the `rate_budgets` rows:
    a bucket is the time its tokens are spent up to (`time.monotonic`)."""

    def __init__(self) -> None:
        self._paid_until: dict[str, float] = {}

    def reserve(self, key: str, count: int, rate: float) -> float:
        now = time.monotonic()
        paid = max(self._paid_until.get(key, now), now) + count / rate
        self._paid_until[key] = paid
        if len(self._paid_until) > 10_000:
            self.forget(0.0)
        return paid - now

    def forget(self, age: float) -> int:
        """Drop buckets idle for `age` seconds: they are full, as a new one would be."""
        cutoff = time.monotonic() - age
        idle = [key for key, paid in self._paid_until.items() if paid < cutoff]
        for key in idle:
            del self._paid_until[key]
        return len(idle)


# SQLite has one process: its buckets are in memory, one set per database file.
_sqlite_tokens: dict[str, LocalTokens] = {}


async def reserve_tokens(
    database: Database, wanted: Mapping[str, tuple[int, float]]
) -> dict[str, float]:
    """Spend tokens of several buckets at once: `wanted` maps a bucket's key to (count,
    rate a second). Says, per key, how many seconds from now the bucket is spent up to
    (negative: it has tokens left).

    PostgreSQL: one upsert of all the buckets' rows, in autocommit (one round trip), on
    the database's clock, so every process draws from the same bucket whatever its own
    clock, and callers waiting on different buckets share the round trip.
    """
    if database.is_sqlite:
        tokens = _sqlite_tokens.setdefault(database.url, LocalTokens())
        return {key: tokens.reserve(key, count, rate) for key, (count, rate) in wanted.items()}
    keys = sorted(wanted)
    parameters = {"keys": keys, "costs": [wanted[key][0] / wanted[key][1] for key in keys]}
    async with database.engine.connect() as connection:
        connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
        rows = await connection.execute(_RESERVE_TOKENS, parameters)
        return {key: float(ahead) for key, ahead in rows}


async def forget_idle_tokens(database: Database, age: float = 60.0) -> int:
    """Delete buckets idle for `age` seconds (full buckets: nothing is lost)."""
    if database.is_sqlite:
        return _sqlite_tokens.setdefault(database.url, LocalTokens()).forget(age)
    async with database.transaction() as session:
        result = await session.execute(_FORGET_TOKENS, {"age": age})
        return result.rowcount or 0


# -- waking on new rows ------------------------------------------------------------------

# Tables whose new rows wake the processes waiting for them (the outbox senders): every
# transaction that inserts into one announces it at commit, whichever code inserted.
ANNOUNCED_TABLES = frozenset({OutboxMessage.__tablename__})
_NOTED = "announce_tables"
_LISTEN_CHECK_SECONDS = 10.0
# SQLite (one process): the events of this process's waiters, per database file and table.
_sqlite_waiters: dict[tuple[str, str], set[asyncio.Event]] = {}


def announcement_channel(table_name: str) -> str:
    return f"sipas_new_{table_name}"


class AnnouncingSession(Session):
    """A session that notes inserts into `ANNOUNCED_TABLES` and announces them at commit:
    on PostgreSQL a NOTIFY inside the transaction (delivered only if it commits), on
    SQLite an in-process event after the commit."""


def _note(session: Session, table_name: str) -> None:
    if table_name in ANNOUNCED_TABLES:
        session.info.setdefault(_NOTED, set()).add(table_name)


@event.listens_for(AnnouncingSession, "do_orm_execute")
def _noted_insert(state: Any) -> None:
    table = getattr(state.statement, "table", None) if state.is_insert else None
    if table is not None:
        _note(state.session, table.name)


@event.listens_for(AnnouncingSession, "before_commit")
def _announce_in_transaction(session: Session) -> None:
    for instance in session.new:  # added objects are flushed after this event
        _note(session, type(instance).__table__.name)
    if _NOTED in session.info and session.get_bind().dialect.name == "postgresql":
        for name in sorted(session.info.pop(_NOTED)):
            channel = {"channel": announcement_channel(name)}
            session.execute(text("SELECT pg_notify(:channel, '')"), channel)


@event.listens_for(AnnouncingSession, "after_commit")
def _announce_after_commit(session: Session) -> None:
    names = session.info.pop(_NOTED, ())
    url = str(session.get_bind().url) if names else ""
    for name in names:
        for waiter in _sqlite_waiters.get((url, name), ()):
            waiter.set()


@event.listens_for(AnnouncingSession, "after_rollback")
def _forget_noted(session: Session) -> None:
    session.info.pop(_NOTED, None)


@asynccontextmanager
async def new_rows(database: Database, table_name: str) -> AsyncIterator[asyncio.Event]:
    """An event set whenever a committed transaction (of any process) inserted rows into
    an announced table; the waiter clears it before looking.

    PostgreSQL: LISTEN on a connection of its own, checked every few seconds; after a
    loss it reconnects and sets the event once (a notification may have been missed),
    so a waiter needs only a slow poll as its last resort.
    """
    assert table_name in ANNOUNCED_TABLES, table_name
    woken = asyncio.Event()
    if database.is_sqlite:
        waiters = _sqlite_waiters.setdefault((str(database.engine.url), table_name), set())
        waiters.add(woken)
        try:
            yield woken
        finally:
            waiters.discard(woken)
        return
    listener = asyncio.create_task(
        _listen(database, announcement_channel(table_name), woken), name=f"listen-{table_name}"
    )
    try:
        yield woken
    finally:
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener


async def _listen(database: Database, channel: str, woken: asyncio.Event) -> None:
    failures = 0
    while True:
        try:
            await _listen_once(database, channel, woken)
        except Exception as error:  # noqa: BLE001 - listen again after a pause
            failures += 1
            delay = min(30.0, 0.5 * 2**failures)
            log.warning(
                "LISTEN %s lost (%s); again in %.1f s", channel, type(error).__name__, delay
            )
            await asyncio.sleep(delay)


async def _listen_once(database: Database, channel: str, woken: asyncio.Event) -> None:
    """Listen until the connection breaks (then raise)."""
    async with database.engine.connect() as connection:
        try:
            driver = (await connection.get_raw_connection()).driver_connection
            lost = asyncio.Event()
            driver.add_termination_listener(lambda *_: lost.set())
            await driver.add_listener(channel, lambda *_: woken.set())
            woken.set()  # anything inserted while nobody listened is looked at now
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(lost.wait(), _LISTEN_CHECK_SECONDS)
                if lost.is_set():
                    raise ConnectionError("the listening connection was closed")
                await asyncio.wait_for(driver.execute("SELECT 1"), _LISTEN_CHECK_SECONDS)
        finally:
            await connection.invalidate()  # a listening connection never goes back to the pool
