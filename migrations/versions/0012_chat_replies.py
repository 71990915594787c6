"""The re-send marker moves to the chat: any use case's last reply can be re-sent.

`reply_seq` counts the commits that produced replies, `delivered_seq` the last of
them known to have been sent, and `last_replies` holds that last reply list (text
fields only) for a re-send after a crash. A chat whose survey was still owed its
question keeps that debt: it starts one reply ahead of its delivery.

Revision ID: 0012
Revises: 0011
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("chats") as batch:
        batch.add_column(sa.Column("reply_seq", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(
            sa.Column("delivered_seq", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("last_replies", sa.Text(), nullable=True))
    op.execute(
        "UPDATE chats SET reply_seq = 1 WHERE id IN (SELECT chat_id FROM survey_sessions"
        " WHERE status = 'active' AND reply_pending)"
    )


def downgrade() -> None:
    with op.batch_alter_table("chats") as batch:
        batch.drop_column("last_replies")
        batch.drop_column("delivered_seq")
        batch.drop_column("reply_seq")
