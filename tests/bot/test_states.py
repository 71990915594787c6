"""The enums store exactly the values the columns held before them (no migration)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select, text

from bot.models import OutboxMessage
from bot.outbox import enqueue
from bot.states import (
    CLOSED_STATES,
    FINISHED_STATES,
    OPEN_STATES,
    DigestFrequency,
    DossierState,
    OutboxKind,
    OutboxStatus,
    SessionStatus,
)


async def test_an_enum_is_stored_as_its_plain_value_and_read_back_equal(database):
    now = datetime(2027, 3, 1, tzinfo=UTC)
    async with database.transaction() as session:
        assert await enqueue(session, OutboxKind.DIGEST, 7, dossier_id=None, now=now)
        raw = (await session.execute(text("SELECT kind, status FROM outbox"))).one()
        assert tuple(raw) == ("digest", "pending")
        status = await session.scalar(
            select(OutboxMessage.status).where(OutboxMessage.status == OutboxStatus.PENDING)
        )
    assert status == OutboxStatus.PENDING and type(status) is str


def test_the_values_are_the_ones_already_stored():
    assert [state.value for state in DossierState] == list(range(1, 11))
    assert sorted(OPEN_STATES) == [1, 2, 4, 5, 6] and sorted(FINISHED_STATES) == [9, 10]
    assert sorted(CLOSED_STATES) == [3, 7, 8, 10]
    assert {member.value for member in DigestFrequency} == {"weekly", "monthly", "off"}
    assert SessionStatus.ACTIVE == "active"  # the partial unique index says status = 'active'
