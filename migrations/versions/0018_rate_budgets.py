"""Rate budgets shared by every process: one row per limited thing (bot.rate_budget).

Telegram's limits (about 30 messages a second per bot token, about one a second per
chat) hold for the token, not for one process; each process pacing alone sent N times
the rate. A row keeps when a bucket's tokens are spent up to; rows past their time are
full buckets and are deleted within a minute, so no chat is remembered for long (the
chat part of a key is a hash).

Revision ID: 0018
Revises: 0017
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rate_budgets",
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("paid_until", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_rate_budgets")),
    )


def downgrade() -> None:
    op.drop_table("rate_budgets")
