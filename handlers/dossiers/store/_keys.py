"""API keys of the one-stop systems, and agencies by code (how keys and commands name them)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import Agency, ApiKey


async def agency_id_by_code(session: AsyncSession, code: str) -> int | None:
    return await session.scalar(select(Agency.id).where(Agency.code == code))


def add_key(session: AsyncSession, key: ApiKey) -> None:
    session.add(key)


async def key_by_id(session: AsyncSession, key_id: str) -> ApiKey | None:
    return await session.scalar(select(ApiKey).where(ApiKey.key_id == key_id))


async def keys_with_agency(session: AsyncSession) -> list[tuple[ApiKey, str]]:
    """Every key with its agency's code, oldest first (never a secret: only hashes)."""
    rows = await session.execute(
        select(ApiKey, Agency.code).join(Agency, Agency.id == ApiKey.agency_id).order_by(ApiKey.id)
    )
    return [(key, agency) for key, agency in rows]
