"""Per-chat daily counters of guessable attempts (start codes, invitation codes).

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "chat_attempts",
        sa.Column("chat_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["chat_id"],
            ["chats.id"],
            name=op.f("fk_chat_attempts_chat_id_chats"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("chat_id", "kind", "day", name=op.f("pk_chat_attempts")),
    )
    op.create_index("ix_chat_attempts_day", "chat_attempts", ["day"])


def downgrade() -> None:
    op.drop_index("ix_chat_attempts_day", table_name="chat_attempts")
    op.drop_table("chat_attempts")
