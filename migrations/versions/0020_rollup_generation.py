"""The rollups' generation: one counter every writer of the rollups raises.

`handlers.reports.counts_cache` keeps computed report counts per process keyed by it, so
a dashboard page repeated between two publications reads no rollup row, and a cached
count can never be older than the rollups.

Revision ID: 0020
Revises: 0019
"""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    table = op.create_table(
        "rollup_generation",
        sa.Column("id", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_rollup_generation"),
    )
    op.bulk_insert(table, [{"id": 1, "value": secrets.randbits(62)}])


def downgrade() -> None:
    op.drop_table("rollup_generation")
