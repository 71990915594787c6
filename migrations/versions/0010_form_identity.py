"""A paper form is identified by its agency and questionnaire with its id, not by its id.

Form ids are numbers each office gives its own forms ("1", "2", …): unique across the
province they let commune B's form "1" silently replace commune A's.

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KEY = ["agency_id", "questionnaire", "form_id"]


def _rebuild_responses(drop: tuple[str, list[str]], create: tuple[str, list[str]]) -> None:
    """Swap the unique constraint; on SQLite that rebuilds the table, whose DROP would
    cascade to every answer, so the answers are kept aside and put back (one copy, once).
    """
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        op.execute("CREATE TEMP TABLE kept_answers AS SELECT * FROM response_answers")
    with op.batch_alter_table("responses") as batch_op:
        batch_op.drop_constraint(op.f(drop[0]), type_="unique")
        batch_op.create_unique_constraint(op.f(create[0]), create[1])
    if sqlite:
        op.execute("DELETE FROM response_answers")
        op.execute("INSERT INTO response_answers SELECT * FROM kept_answers ORDER BY random()")
        op.execute("DROP TABLE kept_answers")


def upgrade() -> None:
    _rebuild_responses(("uq_responses_form_id", ["form_id"]), ("uq_responses_form", _KEY))


def downgrade() -> None:
    _rebuild_responses(("uq_responses_form", _KEY), ("uq_responses_form_id", ["form_id"]))
