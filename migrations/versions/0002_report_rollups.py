"""Monthly rollups of completed responses, so reports need not read every answer.

Existing responses are counted into the new tables in the same transaction, with the
statements `handlers.survey.store.rollups` uses for `python -m bot responses
rebuild-rollups`, for the monthly grain only (0015 adds the daily one). (If a later
revision changes these tables, freeze a copy of those statements here.)

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _cell_columns() -> list[sa.Column]:
    return [
        sa.Column("questionnaire", sa.String(length=32), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("service_key", sa.Integer(), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("channel_kind", sa.String(length=16), nullable=False),
    ]


CELL = ["questionnaire", "month", "agency_id", "service_key", "level", "channel_kind"]


def upgrade() -> None:
    op.create_table(
        "rollup_responses",
        *_cell_columns(),
        sa.Column("responses", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(*CELL, name=op.f("pk_rollup_responses")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "rollup_items",
        *_cell_columns(),
        sa.Column("item_id", sa.String(length=32), nullable=False),
        *(sa.Column(f"n{level}", sa.Integer(), nullable=False) for level in range(6)),
        sa.PrimaryKeyConstraint(*CELL, "item_id", name=op.f("pk_rollup_items")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "rollup_moments",
        *_cell_columns(),
        sa.Column("scope", sa.String(length=32), nullable=False),
        sa.Column("respondents", sa.Integer(), nullable=False),
        *(
            sa.Column(name, sa.BigInteger(), nullable=False)
            for name in ("sum_y", "sum_m", "sum_yy", "sum_mm", "sum_ym")
        ),
        sa.PrimaryKeyConstraint(*CELL, "scope", name=op.f("pk_rollup_moments")),
        sqlite_with_rowid=False,
    )

    from bot.questionnaire import load_questionnaires
    from handlers.survey.store.rollups import MONTHLY, rollup_rebuild_statements

    bind = op.get_bind()
    for statement in rollup_rebuild_statements(load_questionnaires(), [MONTHLY]):
        bind.execute(statement)


def downgrade() -> None:
    op.drop_table("rollup_moments")
    op.drop_table("rollup_items")
    op.drop_table("rollup_responses")
