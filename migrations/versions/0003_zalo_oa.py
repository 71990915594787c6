"""Zalo OA: the shared access and refresh tokens, and the free-reply windows.

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "zalo_oa_tokens",
        sa.Column("app_id", sa.String(length=32), nullable=False),
        sa.Column("access_token", sa.Text(), nullable=True),
        sa.Column("refresh_token", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("seed_hash", sa.String(length=64), nullable=False),
        sa.Column("refreshed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("retry_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("app_id", name=op.f("pk_zalo_oa_tokens")),
    )
    op.create_table(
        "zalo_oa_reply_windows",
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_zalo_oa_reply_windows")),
    )
    with op.batch_alter_table("zalo_oa_reply_windows", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_zalo_oa_reply_windows_opened_at"), ["opened_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("zalo_oa_reply_windows", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_zalo_oa_reply_windows_opened_at"))
    op.drop_table("zalo_oa_reply_windows")
    op.drop_table("zalo_oa_tokens")
