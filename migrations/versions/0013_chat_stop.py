"""A chat can say /stop, and a chat can be unreachable (the citizen blocked the bot).

`stopped_at`: no survey reminder nor other proactive message goes to the chat, except
the legally required apology notice, which then goes by ZNS or the counter; `/start`
clears it. `unreachable_at`: the platform refused a send as blocked (Telegram 403); the
outbox routes the chat's notices elsewhere until the citizen writes again.

Revision ID: 0013
Revises: 0012
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("chats") as batch:
        batch.add_column(sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("unreachable_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("chats") as batch:
        batch.drop_column("unreachable_at")
        batch.drop_column("stopped_at")
