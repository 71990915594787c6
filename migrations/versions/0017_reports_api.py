"""QĐ 766 on-time figures' indexes, and the operations centre's report-consumer keys.

`ix_dossiers_finished_at`: the dossiers finished in a period, as an index range;
`ix_dossiers_unclosed_due_date`: the few unclosed dossiers, for "overdue now"
(partial, so the finished majority adds no entries).

Revision ID: 0017
Revises: 0016
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNCLOSED = "closed_at IS NULL"


def upgrade() -> None:
    op.create_index("ix_dossiers_finished_at", "dossiers", ["finished_at"])
    op.create_index(
        "ix_dossiers_unclosed_due_date",
        "dossiers",
        ["due_date"],
        sqlite_where=sa.text(UNCLOSED),
        postgresql_where=sa.text(UNCLOSED),
    )


def downgrade() -> None:
    op.drop_index("ix_dossiers_unclosed_due_date", table_name="dossiers")
    op.drop_index("ix_dossiers_finished_at", table_name="dossiers")
