"""Daily rollups beside the monthly ones: any day-aligned period is read from rollups.

A report read the days of its period outside whole months from the answers (7-9 s for a
61-day range at a million responses); `rollup_daily_*` hold the same counts per cell for
each day (span 1), pentad (span 5: days 1-5, …, 26-end) and dekad (span 10: days 1-10,
11-20, 21-end), so those days come from a few blocks of rows. Days are the finest time
a response keeps (`response_date`): the new rows add no link to a citizen.

Existing responses are counted into the new tables in the same transaction, with the
statements `python -m bot responses rebuild-rollups` uses, for these grains only.
(If a later revision changes these tables, freeze a copy of those statements here.)

Revision ID: 0015
Revises: 0013
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CELL = ["questionnaire", "span", "day", "agency_id", "service_key", "level", "channel_kind"]


def _cell_columns() -> list[sa.Column]:
    return [
        sa.Column("questionnaire", sa.String(length=32), nullable=False),
        sa.Column("span", sa.SmallInteger(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("service_key", sa.Integer(), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("channel_kind", sa.String(length=16), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "rollup_daily_responses",
        *_cell_columns(),
        sa.Column("responses", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(*CELL, name=op.f("pk_rollup_daily_responses")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "rollup_daily_items",
        *_cell_columns(),
        sa.Column("item_id", sa.String(length=32), nullable=False),
        *(sa.Column(f"n{level}", sa.Integer(), nullable=False) for level in range(6)),
        sa.PrimaryKeyConstraint(*CELL, "item_id", name=op.f("pk_rollup_daily_items")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "rollup_daily_moments",
        *_cell_columns(),
        sa.Column("scope", sa.String(length=32), nullable=False),
        sa.Column("respondents", sa.Integer(), nullable=False),
        *(
            sa.Column(name, sa.BigInteger(), nullable=False)
            for name in ("sum_y", "sum_m", "sum_yy", "sum_mm", "sum_ym")
        ),
        sa.PrimaryKeyConstraint(*CELL, "scope", name=op.f("pk_rollup_daily_moments")),
        sqlite_with_rowid=False,
    )

    from bot.questionnaire import load_questionnaires
    from handlers.survey.store.rollups import DAYS, DEKADS, PENTADS, rollup_rebuild_statements

    bind = op.get_bind()
    grains = [DAYS, PENTADS, DEKADS]
    for statement in rollup_rebuild_statements(load_questionnaires(), grains):
        bind.execute(statement)


def downgrade() -> None:
    op.drop_table("rollup_daily_moments")
    op.drop_table("rollup_daily_items")
    op.drop_table("rollup_daily_responses")
