"""The officials' web dashboard: one-time sign-in links and browser sessions (hashes only).

Revision ID: 0016
Revises: 0015
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _table(name: str, *extra: sa.Column) -> None:
    op.create_table(
        name,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("official_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        *extra,
        sa.ForeignKeyConstraint(
            ["official_id"],
            ["officials.id"],
            name=op.f(f"fk_{name}_official_id_officials"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{name}")),
        sa.UniqueConstraint("token_hash", name=op.f(f"uq_{name}_token_hash")),
    )
    op.create_index(op.f(f"ix_{name}_official_id"), name, ["official_id"])


def upgrade() -> None:
    _table("dashboard_signins", sa.Column("used_at", sa.DateTime(timezone=True), nullable=True))
    _table("dashboard_sessions")


def downgrade() -> None:
    for name in ("dashboard_sessions", "dashboard_signins"):
        op.drop_index(op.f(f"ix_{name}_official_id"), table_name=name)
        op.drop_table(name)
