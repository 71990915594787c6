"""Services created from an agency's dossiers belong to that agency's menu only.

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing rows stay catalogue-wide (NULL): nothing records who created them.
    with op.batch_alter_table("services") as batch_op:
        batch_op.add_column(sa.Column("owner_agency_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_services_owner_agency_id_agencies"), "agencies", ["owner_agency_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("services") as batch_op:
        batch_op.drop_constraint(op.f("fk_services_owner_agency_id_agencies"), type_="foreignkey")
        batch_op.drop_column("owner_agency_id")
