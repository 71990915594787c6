"""Migration 0010 on a database with imported forms: every answer survives the rebuild of
`responses` (on SQLite a DROP would cascade to them), and form ids become per agency."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from bot import migrate
from bot.database import Database
from bot.models import ResponseAnswer


async def _seed(database: Database) -> None:
    async with database.transaction() as session:
        for agency_id in (1, 2):
            await session.execute(
                text(
                    "INSERT INTO agencies (id, code, name, name_folded, level) "
                    "VALUES (:id, :code, 'x', 'x', 'commune')"
                ),
                {"id": agency_id, "code": f"A{agency_id}"},
            )
        for response_id in range(1, 21):
            await session.execute(
                text(
                    "INSERT INTO responses (id, questionnaire, agency_id, level, response_date, "
                    "channel_kind, form_id) VALUES (:id, 'sipas-2017', 1, 'commune', "
                    "'2026-11-02', 'paper', :form)"
                ),
                {"id": response_id, "form": str(response_id)},
            )
            for item in ("F1.1", "F1.2", "F2.1"):
                await session.execute(
                    text(
                        "INSERT INTO response_answers (response_id, item_id, value) "
                        "VALUES (:id, :item, 4)"
                    ),
                    {"id": response_id, "item": item},
                )


async def test_0010_keeps_every_answer_and_scopes_form_ids_to_the_agency(
    empty_database_url, backend
):
    database = Database(await empty_database_url(backend))
    try:
        await migrate.upgrade(database, "0009")
        await _seed(database)
        await migrate.upgrade(database, "0010")
        async with database.transaction() as session:
            assert await session.scalar(select(func.count()).select_from(ResponseAnswer)) == 60
        insert_form = text(
            "INSERT INTO responses (id, questionnaire, agency_id, level, response_date, "
            "channel_kind, form_id) VALUES (:id, 'sipas-2017', :agency, 'commune', "
            "'2026-11-03', 'paper', '1')"
        )
        async with database.transaction() as session:  # agency 2's own form "1"
            await session.execute(insert_form, {"id": 21, "agency": 2})
        with pytest.raises(IntegrityError):
            async with database.transaction() as session:  # agency 1's form "1" again
                await session.execute(insert_form, {"id": 22, "agency": 1})
    finally:
        await database.dispose()
