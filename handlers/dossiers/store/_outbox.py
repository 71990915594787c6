"""The dossiers' messages in the outbox (apology notices, survey invitations).

The room writes outbox rows as any decision's data, in the transaction that decided;
sending them is machinery (`bot.outbox`), which the room does not import. A new row's
shape is `OutboxMessage.new_row`, shared with `bot.outbox` and the scan's set-based insert.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import literal
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute
from sqlalchemy.sql import ColumnElement

from bot.database import insert_if_absent
from bot.models import OutboxMessage

_COLUMNS = OutboxMessage.__table__.c


def selected(row: dict[str, Any]) -> dict[str, Any]:
    """A row as SELECT expressions: constants become literals of their column's type."""
    return {
        name: value
        if isinstance(value, ColumnElement | QueryableAttribute)
        else literal(value, _COLUMNS[name].type)
        for name, value in row.items()
    }


async def queue_message(
    session: AsyncSession, kind: str, ref_id: int, *, dossier_id: int | None, now: datetime
) -> bool:
    """An outbox row for the sender, unless one exists for (kind, ref_id); True if new."""
    return await insert_if_absent(
        session, OutboxMessage.__table__, OutboxMessage.new_row(kind, ref_id, dossier_id, now)
    )
