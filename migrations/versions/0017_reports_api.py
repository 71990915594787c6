"""QĐ 766 on-time figures' indexes, and the operations centre's report-consumer keys.

`ix_dossiers_finished_at`: the dossiers finished in a period, as an index range;
`ix_dossiers_unclosed_due_date`: the few unclosed dossiers, for "overdue now"
(partial, so the finished majority adds no entries). Both carry every column their
query reads, so the figures are counted from the index alone (PostgreSQL's index-only
scan, SQLite's covering index) instead of visiting scattered table rows.

`report_consumers`: keys of the reports API (`/api/v1/reports`), one per consumer, with
its scope (an agency, or NULL for the province), a label and only the secret's hash.

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
    op.create_table(
        "report_consumers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=True),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name="fk_report_consumers_agency_id_agencies"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_report_consumers"),
        sa.UniqueConstraint("key_id", name="uq_report_consumers_key_id"),
    )
    op.create_index("ix_dossiers_finished_at", "dossiers", ["finished_at", "agency_id", "due_date"])
    op.create_index(
        "ix_dossiers_unclosed_due_date",
        "dossiers",
        ["due_date", "agency_id", "state", "stage", "watch_date"],
        sqlite_where=sa.text(UNCLOSED),
        postgresql_where=sa.text(UNCLOSED),
    )


def downgrade() -> None:
    op.drop_table("report_consumers")
    op.drop_index("ix_dossiers_unclosed_due_date", table_name="dossiers")
    op.drop_index("ix_dossiers_finished_at", table_name="dossiers")
