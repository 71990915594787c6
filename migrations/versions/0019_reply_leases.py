"""A chat's committed replies have an owner: the process that committed them, for a lease.

`reply_owner` is that process's random id and `reply_lease_until` when its claim runs
out unless renewed (bot.reply_leases); NULL once the replies are recorded as sent. A
chat left unconfirmed by the bot that ran before this migration gets a lease that has
already run out, so the first sweeper to run sends its stored replies, once.

Revision ID: 0019
Revises: 0018
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("chats") as batch:
        batch.add_column(sa.Column("reply_owner", sa.String(16), nullable=True))
        batch.add_column(sa.Column("reply_lease_until", sa.DateTime(timezone=True), nullable=True))
        batch.create_index("ix_chats_reply_lease_until", ["reply_lease_until"])
    op.execute(
        "UPDATE chats SET reply_lease_until = CURRENT_TIMESTAMP WHERE reply_seq > delivered_seq"
    )


def downgrade() -> None:
    with op.batch_alter_table("chats") as batch:
        batch.drop_index("ix_chats_reply_lease_until")
        batch.drop_column("reply_lease_until")
        batch.drop_column("reply_owner")
