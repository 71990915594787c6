"""Dossiers, apology notices, escalations, the outbox, API keys and the local calendar.

Start codes gain the dossier their receipt belongs to.

Revision ID: 0005
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NOT_PURGED = sa.text("closed_at IS NOT NULL AND purged_at IS NULL")
_LINKED = sa.text("chat_id IS NOT NULL")


def upgrade() -> None:
    op.create_table(
        "dossiers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=True),
        sa.Column("procedure_code", sa.String(length=64), nullable=True),
        sa.Column("procedure_name", sa.String(length=500), nullable=False),
        sa.Column("field", sa.String(length=255), nullable=True),
        sa.Column("citizen_name", sa.String(length=255), nullable=True),
        sa.Column("phone", sa.String(length=16), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("appointment_date", sa.Date(), nullable=True),
        sa.Column("state", sa.SmallInteger(), nullable=False),
        sa.Column("state_changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("returned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("pauses", sa.JSON(), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("agency_new_date", sa.Date(), nullable=True),
        sa.Column("delay_reason", sa.String(length=1000), nullable=True),
        sa.Column("stage", sa.SmallInteger(), nullable=False),
        sa.Column("new_due_date", sa.Date(), nullable=True),
        sa.Column("apologised_on", sa.Date(), nullable=True),
        sa.Column("watch_date", sa.Date(), nullable=True),
        sa.Column("chat_id", sa.Integer(), nullable=True),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("purged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_dossiers_agency_id_agencies")
        ),
        sa.ForeignKeyConstraint(
            ["service_id"], ["services.id"], name=op.f("fk_dossiers_service_id_services")
        ),
        sa.ForeignKeyConstraint(
            ["chat_id"], ["chats.id"], name=op.f("fk_dossiers_chat_id_chats"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dossiers")),
        sa.UniqueConstraint("code", name=op.f("uq_dossiers_code")),
    )
    op.create_index(
        "ix_dossiers_chat_id",
        "dossiers",
        ["chat_id"],
        sqlite_where=_LINKED,
        postgresql_where=_LINKED,
    )
    op.create_index(op.f("ix_dossiers_watch_date"), "dossiers", ["watch_date"])
    op.create_index(
        "ix_dossiers_purge",
        "dossiers",
        ["closed_at"],
        sqlite_where=_NOT_PURGED,
        postgresql_where=_NOT_PURGED,
    )

    op.create_table(
        "apology_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dossier_id", sa.Integer(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("number_year", sa.Integer(), nullable=False),
        sa.Column("number_seq", sa.Integer(), nullable=False),
        sa.Column("template", sa.String(length=48), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("agency_name", sa.String(length=255), nullable=False),
        sa.Column("parent_agency_name", sa.String(length=255), nullable=True),
        sa.Column("place", sa.String(length=128), nullable=True),
        sa.Column("citizen_name", sa.String(length=255), nullable=True),
        sa.Column("dossier_code", sa.String(length=64), nullable=False),
        sa.Column("procedure_name", sa.String(length=500), nullable=False),
        sa.Column("field", sa.String(length=255), nullable=True),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("original_date", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=1000), nullable=True),
        sa.Column("new_date", sa.Date(), nullable=False),
        sa.Column("signer_title", sa.String(length=255), nullable=True),
        sa.Column("signer_name", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_apology_notices")),
        sa.UniqueConstraint("dossier_id", "due_date", name=op.f("uq_apology_notices_dossier_id")),
        sa.UniqueConstraint(
            "agency_id", "number_year", "number_seq", name=op.f("uq_apology_notices_agency_id")
        ),
    )

    op.create_table(
        "escalations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dossier_id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("missed_date", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("notified_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["dossier_id"], ["dossiers.id"], name=op.f("fk_escalations_dossier_id_dossiers")
        ),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_escalations_agency_id_agencies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_escalations")),
        sa.UniqueConstraint("dossier_id", "missed_date", name=op.f("uq_escalations_dossier_id")),
    )
    op.create_index(op.f("ix_escalations_agency_id"), "escalations", ["agency_id"])

    op.create_table(
        "agency_notice_settings",
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("place", sa.String(length=128), nullable=True),
        sa.Column("signer_title", sa.String(length=255), nullable=True),
        sa.Column("signer_name", sa.String(length=255), nullable=True),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agencies.id"],
            name=op.f("fk_agency_notice_settings_agency_id_agencies"),
        ),
        sa.PrimaryKeyConstraint("agency_id", name=op.f("pk_agency_notice_settings")),
    )

    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("ref_id", sa.Integer(), nullable=False),
        sa.Column("dossier_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("uncertain", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("route", sa.String(length=8), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=True),
        sa.Column("last_error", sa.String(length=300), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("kind", "ref_id", name=op.f("uq_outbox_kind")),
    )
    op.create_index("ix_outbox_status_next_attempt_at", "outbox", ["status", "next_attempt_at"])

    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_api_keys_agency_id_agencies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_id", name=op.f("uq_api_keys_key_id")),
    )

    op.create_table(
        "calendar_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("working", sa.Boolean(), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_calendar_days")),
    )

    op.create_table(
        "dossier_link_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("chat_id", sa.Integer(), nullable=False),
        sa.Column("dossier_code", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["chat_id"],
            ["chats.id"],
            name=op.f("fk_dossier_link_failures_chat_id_chats"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dossier_link_failures")),
    )
    op.create_index(
        "ix_dossier_link_failures_chat_day", "dossier_link_failures", ["chat_id", "day"]
    )
    op.create_index(
        "ix_dossier_link_failures_code_day", "dossier_link_failures", ["dossier_code", "day"]
    )

    with op.batch_alter_table("start_codes") as batch_op:
        batch_op.add_column(sa.Column("dossier_id", sa.Integer(), nullable=True))
        batch_op.create_unique_constraint(op.f("uq_start_codes_dossier_id"), ["dossier_id"])
        batch_op.create_foreign_key(
            op.f("fk_start_codes_dossier_id_dossiers"), "dossiers", ["dossier_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("start_codes") as batch_op:
        batch_op.drop_constraint(op.f("fk_start_codes_dossier_id_dossiers"), type_="foreignkey")
        batch_op.drop_constraint(op.f("uq_start_codes_dossier_id"), type_="unique")
        batch_op.drop_column("dossier_id")

    op.drop_table("dossier_link_failures")
    op.drop_table("calendar_days")
    op.drop_table("api_keys")
    op.drop_table("outbox")
    op.drop_table("agency_notice_settings")
    op.drop_table("escalations")
    op.drop_table("apology_notices")
    op.drop_table("dossiers")
