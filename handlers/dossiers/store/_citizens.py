"""What `/hoso` reads and writes: dossiers by code or chat, failed link attempts."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import Dossier, DossierLinkFailure


async def dossier_by_id(session: AsyncSession, dossier_id: int) -> Dossier | None:
    return await session.get(Dossier, dossier_id)


async def dossier_by_code(session: AsyncSession, code: str) -> Dossier | None:
    return await session.scalar(select(Dossier).where(Dossier.code == code))


async def linked_dossiers(session: AsyncSession, chat_id: int, limit: int = 10) -> list[Dossier]:
    """The chat's dossiers, the latest received first."""
    rows = await session.scalars(
        select(Dossier).where(Dossier.chat_id == chat_id).order_by(Dossier.received_at.desc())
    )
    return list(rows.all()[:limit])


async def link_failures(
    session: AsyncSession, chat_id: int, dossier_code: str, day: date
) -> tuple[int, int]:
    """Failed link attempts on `day`: (by this chat, on this dossier code)."""
    by_chat = await session.scalar(
        select(func.count())
        .select_from(DossierLinkFailure)
        .where(DossierLinkFailure.chat_id == chat_id, DossierLinkFailure.day == day)
    )
    by_code = await session.scalar(
        select(func.count())
        .select_from(DossierLinkFailure)
        .where(DossierLinkFailure.dossier_code == dossier_code, DossierLinkFailure.day == day)
    )
    return by_chat or 0, by_code or 0


def add_link_failure(session: AsyncSession, chat_id: int, dossier_code: str, day: date) -> None:
    session.add(DossierLinkFailure(chat_id=chat_id, dossier_code=dossier_code, day=day))
