"""Unlinkable responses: the holding pool, the survey funnel, and a purge of old links.

New tables: `response_pool` (completed chat answers waiting for their day's shuffled
publication) and `survey_funnel` (counts of ended sessions, the only drop-off record).

Data, in the same transaction:
- closed sessions (completed, cancelled, partial) are counted into `survey_funnel`,
  on the local day of their end (of their last answer for partial ones), and deleted:
  they held the chat id, the start code and the exact times next to each other;
- `start_codes.used_at` keeps only the start of its local day;
- existing responses are stored again, shuffled within each day: their ids, their
  physical order (SQLite rowid, PostgreSQL ctid) and, on PostgreSQL, their
  transaction ids followed the order of completion, which ballots and codes still
  show. Afterwards ids still ascend by day; within a day they are a random
  permutation, and every response carries this migration's transaction id. The rollups
  need no change (the same responses with the same answers). This rewrites the whole
  `responses` and `response_answers` tables once: allow time on a large installation.

Local days use TIMEZONE from the bot's settings. Downgrading drops the two tables; the
purged links are not restored.

Revision ID: 0009
Revises: 0008
"""

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FUNNEL_KEY = [
    "day",
    "agency_key",
    "service_key",
    "questionnaire",
    "channel_kind",
    "phase",
    "step",
    "outcome",
]
_CHUNK = 10_000


def upgrade() -> None:
    op.create_table(
        "response_pool",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("questionnaire", sa.String(length=32), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=True),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("response_date", sa.Date(), nullable=False),
        sa.Column("channel_kind", sa.String(length=16), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_response_pool_agency_id_agencies")
        ),
        sa.ForeignKeyConstraint(
            ["service_id"], ["services.id"], name=op.f("fk_response_pool_service_id_services")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_response_pool")),
    )
    op.create_table(
        "survey_funnel",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("agency_key", sa.Integer(), nullable=False),
        sa.Column("service_key", sa.Integer(), nullable=False),
        sa.Column("questionnaire", sa.String(length=32), nullable=False),
        sa.Column("channel_kind", sa.String(length=16), nullable=False),
        sa.Column("phase", sa.String(length=12), nullable=False),
        sa.Column("step", sa.SmallInteger(), nullable=False),
        sa.Column("outcome", sa.String(length=12), nullable=False),
        sa.Column("sessions", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(*FUNNEL_KEY, name=op.f("pk_survey_funnel")),
        sqlite_with_rowid=False,
    )
    bind = op.get_bind()
    _count_and_delete_closed_sessions(bind)
    _keep_only_the_day_codes_were_used(bind)
    _shuffle_responses_within_each_day(bind)


def downgrade() -> None:
    op.drop_table("survey_funnel")
    op.drop_table("response_pool")


# --------------------------------------------------------------------------- data


def _zone() -> ZoneInfo:
    """The bot's TIMEZONE (the bot loads and checks its settings before migrating)."""
    from bot.settings import load_settings

    return load_settings().zone


def _utc(value: datetime) -> datetime:
    """Stored instants are UTC; SQLite returns them without a zone."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _day_start(day, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)


_sessions = sa.table(
    "survey_sessions",
    sa.column("id", sa.Integer()),
    sa.column("chat_id", sa.Integer()),
    sa.column("status", sa.String()),
    sa.column("phase", sa.String()),
    sa.column("questionnaire", sa.String()),
    sa.column("agency_id", sa.Integer()),
    sa.column("service_id", sa.Integer()),
    sa.column("step", sa.Integer()),
    sa.column("updated_at", sa.DateTime(timezone=True)),
    sa.column("closed_at", sa.DateTime(timezone=True)),
)
_chats = sa.table("chats", sa.column("id", sa.Integer()), sa.column("channel", sa.String()))
_funnel = sa.table(
    "survey_funnel",
    sa.column("day", sa.Date()),
    *(sa.column(name) for name in [*FUNNEL_KEY[1:], "sessions"]),
)
_codes = sa.table(
    "start_codes", sa.column("code", sa.String()), sa.column("used_at", sa.DateTime(timezone=True))
)


def _count_and_delete_closed_sessions(bind: sa.Connection) -> None:
    s = _sessions.c
    closed = s.status != "active"
    if not bind.scalar(sa.select(sa.func.count()).select_from(_sessions).where(closed)):
        return
    zone = _zone()
    counts: Counter[tuple] = Counter()
    after = 0
    while True:
        rows = bind.execute(
            sa.select(
                s.id, s.status, s.phase, s.questionnaire, s.agency_id, s.service_id, s.step,
                s.updated_at, s.closed_at, _chats.c.channel,
            )
            .select_from(_sessions.join(_chats, _chats.c.id == s.chat_id))
            .where(closed, s.id > after)
            .order_by(s.id)
            .limit(_CHUNK)
        ).all()  # fmt: skip
        if not rows:
            break
        after = rows[-1].id
        for row in rows:
            ended = row.updated_at if row.status == "partial" else row.closed_at or row.updated_at
            day = _utc(ended).astimezone(zone).date()
            key = (day, row.agency_id or 0, row.service_id or 0, row.questionnaire)
            counts[(*key, row.channel, row.phase, row.step, row.status)] += 1
    bind.execute(
        _funnel.insert(),
        [
            dict(zip([*FUNNEL_KEY, "sessions"], (*key, count), strict=True))
            for key, count in counts.items()
        ],
    )
    bind.execute(_sessions.delete().where(closed))


def _keep_only_the_day_codes_were_used(bind: sa.Connection) -> None:
    used = _codes.c.used_at
    first, last = bind.execute(sa.select(sa.func.min(used), sa.func.max(used))).one()
    if first is None:
        return
    zone = _zone()
    day = _utc(first).astimezone(zone).date()
    end = _utc(last).astimezone(zone).date()
    while day <= end:
        start, following = _day_start(day, zone), _day_start(day + timedelta(days=1), zone)
        bind.execute(_codes.update().where(used >= start, used < following).values(used_at=start))
        day += timedelta(days=1)


_RESPONSE_COLUMNS = (
    "questionnaire, agency_id, service_id, level, response_date, channel_kind, form_id"
)


def _shuffle_responses_within_each_day(bind: sa.Connection) -> None:
    """Store the responses again with their ids permuted at random within each day,
    inserted in the new id order (so rowid and ctid follow the shuffle too)."""
    if not bind.scalar(sa.text("SELECT count(*) FROM responses")):
        return
    statements = [
        # new ids: the same set of ids, handed out in the order (day, random)
        "CREATE TEMPORARY TABLE shuffle_ids AS "
        "SELECT drawn.id AS old_id, kept.id AS new_id FROM "
        "(SELECT id, ROW_NUMBER() OVER (ORDER BY response_date, random()) AS k "
        " FROM responses) drawn "
        "JOIN (SELECT id, ROW_NUMBER() OVER (ORDER BY id) AS k FROM responses) kept "
        "ON kept.k = drawn.k",
        "CREATE TEMPORARY TABLE shuffle_responses AS "
        f"SELECT m.new_id AS id, {_RESPONSE_COLUMNS} "
        "FROM responses r JOIN shuffle_ids m ON m.old_id = r.id",
        "CREATE TEMPORARY TABLE shuffle_answers AS "
        "SELECT m.new_id AS response_id, a.item_id, a.value, a.text "
        "FROM response_answers a JOIN shuffle_ids m ON m.old_id = a.response_id",
        "DELETE FROM response_answers",
        "DELETE FROM responses",
        f"INSERT INTO responses (id, {_RESPONSE_COLUMNS}) "
        f"SELECT id, {_RESPONSE_COLUMNS} FROM shuffle_responses ORDER BY id",
        "INSERT INTO response_answers (response_id, item_id, value, text) "
        "SELECT response_id, item_id, value, text FROM shuffle_answers "
        "ORDER BY response_id, item_id",
        "DROP TABLE shuffle_answers",
        "DROP TABLE shuffle_responses",
        "DROP TABLE shuffle_ids",
    ]
    for statement in statements:
        bind.execute(sa.text(statement))
