"""Alembic environment: URL from the bot's settings, metadata from its models.

`bot.migrate` passes an open connection (already holding the migration lock)
through `config.attributes["connection"]`; the plain `alembic` command line
opens its own.
"""

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from bot.models import Base

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _url() -> str:
    url = context.config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from bot.settings import load_settings

    return load_settings().database_url


async def _run_online() -> None:
    from bot.database import create_engine

    engine = create_engine(_url())
    async with engine.connect() as connection:
        await connection.run_sync(_run)
        await connection.commit()
    await engine.dispose()


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
elif (shared := context.config.attributes.get("connection")) is not None:
    _run(shared)
else:
    asyncio.run(_run_online())
