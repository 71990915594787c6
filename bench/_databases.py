"""Throw-away PostgreSQL databases for the benchmarks: one per run, dropped afterwards."""

from __future__ import annotations

import os
import uuid

import asyncpg

POSTGRES_ADMIN_DSN = os.environ.get(
    "BENCH_POSTGRES_DSN",
    os.environ.get("TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"),
)


async def create_postgres_database() -> str:
    """A new empty database; returns its SQLAlchemy URL."""
    name = f"sipas_bench_{uuid.uuid4().hex[:10]}"
    connection = await asyncpg.connect(POSTGRES_ADMIN_DSN)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    base = POSTGRES_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    return f"{base}/{name}"


async def drop_postgres_database(url: str) -> None:
    connection = await asyncpg.connect(POSTGRES_ADMIN_DSN)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
    finally:
        await connection.close()
