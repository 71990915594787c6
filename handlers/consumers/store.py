"""Every query of the report consumers: their keys, and agencies by code for their scope."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import Agency, ReportConsumer


async def agency_by_code(session: AsyncSession, code: str) -> Agency | None:
    return await session.scalar(select(Agency).where(Agency.code == code))


def add_consumer(session: AsyncSession, consumer: ReportConsumer) -> None:
    session.add(consumer)


async def consumer_by_key_id(session: AsyncSession, key_id: str) -> ReportConsumer | None:
    return await session.scalar(select(ReportConsumer).where(ReportConsumer.key_id == key_id))


async def agency_code_of(session: AsyncSession, agency_id: int) -> str | None:
    return await session.scalar(select(Agency.code).where(Agency.id == agency_id))


async def consumers_with_agency(session: AsyncSession) -> list[tuple[ReportConsumer, str | None]]:
    """Every consumer with its agency's code (None: the province), oldest first."""
    rows = await session.execute(
        select(ReportConsumer, Agency.code)
        .outerjoin(Agency, Agency.id == ReportConsumer.agency_id)
        .order_by(ReportConsumer.id)
    )
    return [(consumer, code) for consumer, code in rows]
