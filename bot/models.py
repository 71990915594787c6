"""Database tables. The schema itself changes only through Alembic migrations.

Two groups of tables must never be joined: the conversation side (`chats`,
`survey_sessions`), which knows who is talking, and the response side
(`responses`, `response_answers`), which knows what was answered. A response
carries no chat id and no key to a session, code or dossier, so that an answer
cannot be traced back to the citizen who gave it.

Longer than 450 lines because every table is declared here, beside the others, so
that the migrations' autogenerate and a reader see the whole schema in one place.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from bot.states import OutboxStatus

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps stored in UTC and always returned time-zone aware (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Agency(Base):
    """A public agency. Codes of merged agencies point to their successor."""

    __tablename__ = "agencies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    name_folded: Mapped[str] = mapped_column(String(255), index=True)
    level: Mapped[str] = mapped_column(String(16))
    parent_code: Mapped[str | None] = mapped_column(String(32))
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    successor_code: Mapped[str | None] = mapped_column(String(32))


class Service(Base):
    """An administrative procedure (thủ tục hành chính) a citizen can rate."""

    __tablename__ = "services"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    name_folded: Mapped[str] = mapped_column(String(255))
    field: Mapped[str | None] = mapped_column(String(128))
    level: Mapped[str | None] = mapped_column(String(16))
    # The agency whose dossier created this procedure (through the API or an import);
    # only that agency's menu offers it. None: catalogue-wide, imported by an operator.
    owner_agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"))


class StartCode(Base):
    """An unguessable code printed on a receipt that names agency and service."""

    __tablename__ = "start_codes"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"))
    single_use: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Only the day it was used: the start of that local day, never the time, so that the
    # code cannot be matched to a response by a timestamp (README, "Anonymity").
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The dossier whose receipt carries this code (issue 6); None for counter codes.
    dossier_id: Mapped[int | None] = mapped_column(ForeignKey("dossiers.id"), unique=True)


class Chat(Base):
    """A conversation on one channel; the row every message of that chat locks."""

    __tablename__ = "chats"
    __table_args__ = (
        UniqueConstraint("channel", "chat_key"),
        Index("ix_chats_reply_lease_until", "reply_lease_until"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    chat_key: Mapped[str] = mapped_column(String(64))
    language: Mapped[str | None] = mapped_column(String(8))
    privacy_noticed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The delivery marker of any use case's replies: commits that produced replies, the
    # last of them known sent, and that last reply list (bot.stored_replies) to re-send.
    reply_seq: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    delivered_seq: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_replies: Mapped[str | None] = mapped_column(Text)
    # Who sends those replies, until when (bot.reply_leases); the lease is NULL once sent.
    reply_owner: Mapped[str | None] = mapped_column(String(16))
    reply_lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The citizen said /stop (no reminders, no proactive messages; /start lifts it), and
    # the platform refused a send as blocked (notices go by ZNS or the counter instead;
    # cleared when the citizen writes again).
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    unreachable_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SurveySession(Base):
    """Where a citizen is in the survey. The database, not process memory, holds it."""

    __tablename__ = "survey_sessions"
    __table_args__ = (
        Index(
            "uq_survey_sessions_active_chat",
            "chat_id",
            unique=True,
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
        Index("ix_survey_sessions_status_updated_at", "status", "updated_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(12))
    phase: Mapped[str] = mapped_column(String(12))
    questionnaire: Mapped[str] = mapped_column(String(32))
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"))
    service_id: Mapped[int | None] = mapped_column(ForeignKey("services.id"))
    start_code: Mapped[str | None] = mapped_column(ForeignKey("start_codes.code"))
    step: Mapped[int] = mapped_column(Integer, default=0)
    answers: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    history: Mapped[list[int] | None] = mapped_column(JSON(none_as_null=True))
    offered: Mapped[list[int] | None] = mapped_column(JSON(none_as_null=True))
    nonce: Mapped[str] = mapped_column(String(12))
    # Unused since migration 0012 (the re-send marker is on the chat); kept, not dropped.
    reply_pending: Mapped[bool] = mapped_column(Boolean, default=False)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Unused since migration 0009: an ended session is counted in `survey_funnel` and deleted.
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Response(Base):
    """One completed questionnaire, anonymous by construction (see the module docstring)."""

    __tablename__ = "responses"
    __table_args__ = (
        Index("ix_responses_date_agency", "response_date", "agency_id"),
        # A paper form is its office's number for it: unique per agency and questionnaire.
        UniqueConstraint("agency_id", "questionnaire", "form_id", name="uq_responses_form"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    questionnaire: Mapped[str] = mapped_column(String(32))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    service_id: Mapped[int | None] = mapped_column(ForeignKey("services.id"))
    level: Mapped[str] = mapped_column(String(16))
    response_date: Mapped[date] = mapped_column(Date)
    channel_kind: Mapped[str] = mapped_column(String(16))
    form_id: Mapped[str | None] = mapped_column(String(64))


class ResponseAnswer(Base):
    """One answer of a response: a coded value (Likert 1-5, 0 = no opinion) or a text."""

    __tablename__ = "response_answers"

    response_id: Mapped[int] = mapped_column(
        ForeignKey("responses.id", ondelete="CASCADE"), primary_key=True
    )
    item_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int | None] = mapped_column(SmallInteger)
    text: Mapped[str | None] = mapped_column(Text)


class Ballot(Base):
    """Salted hash of (chat, service, day): limits stuffing without naming the chat."""

    __tablename__ = "ballots"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[date] = mapped_column(Date, index=True)


class ProcessedUpdate(Base):
    """Keys of inbound updates already applied, so a redelivery changes nothing."""

    __tablename__ = "processed_updates"

    update_key: Mapped[str] = mapped_column(String(128), primary_key=True)
    processed_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class InstallSecret(Base):
    """Secrets generated per installation (the ballot salt), never configured by hand."""

    __tablename__ = "install_secrets"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(String(128))


# --------------------------------------------------------------------------- rollups
# Derived from `responses` + `response_answers` and kept in step by
# handlers/survey/store/responses.py, the only writer of responses. The same counts at
# four grains, per "cell" (questionnaire, agency, service, level, channel kind): calendar
# months (`rollup_*`), and in `rollup_daily_*` days (span 1), pentads (span 5: days 1-5,
# …, 26-end) and dekads (span 10: days 1-10, 11-20, 21-end), blocks keyed by their first
# day. A report reads the whole months of its period from the monthly rows, then whole
# dekads and pentads, and at most five single days at each end: a few thousand cells a
# block, never an answer. Days are already the finest time a response keeps
# (`response_date`): the daily rows add no link.
# `service_key` is the service id, 0 for none (a key column cannot be NULL). No foreign
# keys: the rows can always be rebuilt.

ROLLUP_CELL = ("questionnaire", "month", "agency_id", "service_key", "level", "channel_kind")
DAILY_CELL = (
    "questionnaire",
    "span",
    "day",
    "agency_id",
    "service_key",
    "level",
    "channel_kind",
)


class _Cell:
    # sort_order: the cell's columns first, in the order of the primary key
    questionnaire: Mapped[str] = mapped_column(String(32), sort_order=-6)
    agency_id: Mapped[int] = mapped_column(Integer, sort_order=-4)
    service_key: Mapped[int] = mapped_column(Integer, sort_order=-3)
    level: Mapped[str] = mapped_column(String(16), sort_order=-2)
    channel_kind: Mapped[str] = mapped_column(String(16), sort_order=-1)


class _MonthCell(_Cell):
    month: Mapped[str] = mapped_column(String(7), sort_order=-5)  # "YYYY-MM"


class _DayCell(_Cell):
    questionnaire: Mapped[str] = mapped_column(String(32), sort_order=-8)
    span: Mapped[int] = mapped_column(SmallInteger, sort_order=-7)  # days: 1, 5 or 10
    day: Mapped[date] = mapped_column(Date, sort_order=-6)  # the first


class _ResponseCounts:
    """Completed responses per cell."""

    responses: Mapped[int] = mapped_column(Integer)


class _ItemCounts:
    """Answers per criterion and cell: n0 = no opinion, n1..n5 = the Likert levels."""

    item_id: Mapped[str] = mapped_column(String(32))
    n0: Mapped[int] = mapped_column(Integer)
    n1: Mapped[int] = mapped_column(Integer)
    n2: Mapped[int] = mapped_column(Integer)
    n3: Mapped[int] = mapped_column(Integer)
    n4: Mapped[int] = mapped_column(Integer)
    n5: Mapped[int] = mapped_column(Integer)


class _MomentSums:
    """Respondent moments per scope (a factor id or "overall") and cell.

    For each response, y = its answers at 4-5 and m = its valid (1-5) answers within
    the scope; responses with m = 0 are left out. Sums are additive, so any set of
    cells adds up to the moments `scoring.RespondentMoments` needs.
    """

    scope: Mapped[str] = mapped_column(String(32))
    respondents: Mapped[int] = mapped_column(Integer)
    sum_y: Mapped[int] = mapped_column(BigInteger)
    sum_m: Mapped[int] = mapped_column(BigInteger)
    sum_yy: Mapped[int] = mapped_column(BigInteger)
    sum_mm: Mapped[int] = mapped_column(BigInteger)
    sum_ym: Mapped[int] = mapped_column(BigInteger)


def _keyed(*columns: str) -> tuple[Any, ...]:
    return (PrimaryKeyConstraint(*columns), {"sqlite_with_rowid": False})


class RollupResponses(_MonthCell, _ResponseCounts, Base):
    __tablename__ = "rollup_responses"
    __table_args__ = _keyed(*ROLLUP_CELL)


class RollupItem(_MonthCell, _ItemCounts, Base):
    __tablename__ = "rollup_items"
    __table_args__ = _keyed(*ROLLUP_CELL, "item_id")


class RollupMoments(_MonthCell, _MomentSums, Base):
    __tablename__ = "rollup_moments"
    __table_args__ = _keyed(*ROLLUP_CELL, "scope")


class DailyResponses(_DayCell, _ResponseCounts, Base):
    __tablename__ = "rollup_daily_responses"
    __table_args__ = _keyed(*DAILY_CELL)


class DailyItem(_DayCell, _ItemCounts, Base):
    __tablename__ = "rollup_daily_items"
    __table_args__ = _keyed(*DAILY_CELL, "item_id")


class DailyMoments(_DayCell, _MomentSums, Base):
    __tablename__ = "rollup_daily_moments"
    __table_args__ = _keyed(*DAILY_CELL, "scope")


# --------------------------------------------------------------------------- Zalo OA


class ZaloOAToken(Base):
    """The OA's access token and single-use refresh token, shared by every bot process.

    Refreshed under this row's lock, so one process at a time spends the refresh token
    and the new one is stored in the same transaction. `seed_hash` is the SHA-256 of the
    ZALO_OA_REFRESH_TOKEN that seeded the row: a different value in the settings means
    the operator issued a new token, which then replaces the stored one. `failures` and
    `retry_at` make every process respect one backoff after a failed refresh.
    """

    __tablename__ = "zalo_oa_tokens"

    app_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    access_token: Mapped[str | None] = mapped_column(Text)
    refresh_token: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    seed_hash: Mapped[str] = mapped_column(String(64))
    refreshed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(255))


class ZaloOAReplyWindow(Base):
    """When an OA user last wrote, and how many free replies were used since.

    Zalo allows customer-service replies only for a while after the user's last
    message (reported: 8 within 48 h); counting them here, across processes, lets the
    bot say so instead of having replies refused silently.
    """

    __tablename__ = "zalo_oa_reply_windows"

    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    sent: Mapped[int] = mapped_column(Integer, default=0)


# --------------------------------------------------------------------------- dossiers
# Dossiers from the one-stop systems, their deadlines, apology notices, escalations and
# the outbox of proactive messages (issue 6). A dossier holds a citizen's name, phone
# and chat link until the retention period after it closed; nothing here is joined to
# `responses`.


class Dossier(Base):
    """A dossier (hồ sơ) as the one-stop system reports it, plus what the bot derives.

    `watch_date` is the only thing the scheduled scan reads: the last day on which the
    dossier is still on time at its current stage (None when nothing can fall due:
    closed, finished, paused, or already escalated). A dossier needs action once
    `watch_date < today`, which keeps the scan an index range over the few late ones.
    """

    __tablename__ = "dossiers"
    __table_args__ = (
        # Partial indexes: the scan's update of late (open, mostly unlinked) dossiers
        # then adds no entries to them.
        Index(
            "ix_dossiers_purge",
            "closed_at",
            sqlite_where=text("closed_at IS NOT NULL AND purged_at IS NULL"),
            postgresql_where=text("closed_at IS NOT NULL AND purged_at IS NULL"),
        ),
        Index(
            "ix_dossiers_chat_id",
            "chat_id",
            sqlite_where=text("chat_id IS NOT NULL"),
            postgresql_where=text("chat_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    service_id: Mapped[int | None] = mapped_column(ForeignKey("services.id"))
    procedure_code: Mapped[str | None] = mapped_column(String(64))
    procedure_name: Mapped[str] = mapped_column(String(500))
    field: Mapped[str | None] = mapped_column(String(255))
    citizen_name: Mapped[str | None] = mapped_column(String(255))
    phone: Mapped[str | None] = mapped_column(String(16))  # 84…, never logged
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_on: Mapped[date] = mapped_column(Date)  # in Vietnam, for notices
    appointment_date: Mapped[date | None] = mapped_column(Date)
    state: Mapped[int] = mapped_column(SmallInteger)
    state_changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    returned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Supplement pauses as [[from, to-or-null], …] in ISO dates; the clock stops inside.
    pauses: Mapped[list[list[str | None]] | None] = mapped_column(JSON(none_as_null=True))
    due_date: Mapped[date | None] = mapped_column(Date)  # appointment moved by pauses
    agency_new_date: Mapped[date | None] = mapped_column(Date)
    delay_reason: Mapped[str | None] = mapped_column(String(1000))
    # 0 on track, 1 apologised (new date given), 2 escalated to officials
    stage: Mapped[int] = mapped_column(SmallInteger, default=0)
    new_due_date: Mapped[date | None] = mapped_column(Date)
    apologised_on: Mapped[date | None] = mapped_column(Date)
    watch_date: Mapped[date | None] = mapped_column(Date, index=True)
    chat_id: Mapped[int | None] = mapped_column(ForeignKey("chats.id", ondelete="SET NULL"))
    linked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ApologyNotice(Base):
    """One apology notice with every field of the legal form, fixed when it is issued.

    Unique per dossier and the due date it apologises for: a second notice for the same
    lateness cannot exist, whatever runs twice. Numbers run per agency and year.
    """

    __tablename__ = "apology_notices"
    __table_args__ = (
        UniqueConstraint("dossier_id", "due_date"),
        UniqueConstraint("agency_id", "number_year", "number_seq"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # No foreign keys here: notices are made from dossiers in the same statement and
    # dossiers are never deleted, and checking 20,000 keys doubled the scan's time.
    dossier_id: Mapped[int] = mapped_column(Integer)
    due_date: Mapped[date] = mapped_column(Date)
    agency_id: Mapped[int] = mapped_column(Integer)
    number_year: Mapped[int] = mapped_column(Integer)
    number_seq: Mapped[int] = mapped_column(Integer)
    template: Mapped[str] = mapped_column(String(48))
    issued_on: Mapped[date] = mapped_column(Date)
    agency_name: Mapped[str] = mapped_column(String(255))
    parent_agency_name: Mapped[str | None] = mapped_column(String(255))
    place: Mapped[str | None] = mapped_column(String(128))
    citizen_name: Mapped[str | None] = mapped_column(String(255))
    dossier_code: Mapped[str] = mapped_column(String(64))
    procedure_name: Mapped[str] = mapped_column(String(500))
    field: Mapped[str | None] = mapped_column(String(255))
    received_on: Mapped[date] = mapped_column(Date)
    original_date: Mapped[date] = mapped_column(Date)
    reason: Mapped[str | None] = mapped_column(String(1000))
    new_date: Mapped[date] = mapped_column(Date)
    signer_title: Mapped[str | None] = mapped_column(String(255))
    signer_name: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Escalation(Base):
    """A dossier that missed the new date too: for its agency's officials, not the citizen."""

    __tablename__ = "escalations"
    __table_args__ = (UniqueConstraint("dossier_id", "missed_date"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id"))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    missed_date: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AgencyNoticeSettings(Base):
    """Who signs an agency's apology notices, and the place written before the date."""

    __tablename__ = "agency_notice_settings"

    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), primary_key=True)
    place: Mapped[str | None] = mapped_column(String(128))
    signer_title: Mapped[str | None] = mapped_column(String(255))
    signer_name: Mapped[str | None] = mapped_column(String(255))


class OutboxMessage(Base):
    """A proactive message to deliver at least once; (kind, ref_id) creates it once.

    The destination is chosen when it is sent, not when it is created, so a citizen
    who links the dossier in between gets it by chat. No chat id or phone is stored.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("kind", "ref_id"),
        Index("ix_outbox_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    ref_id: Mapped[int] = mapped_column(Integer)
    dossier_id: Mapped[int | None] = mapped_column(Integer)  # no FK: see ApologyNotice
    status: Mapped[str] = mapped_column(String(12))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    uncertain: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    route: Mapped[str | None] = mapped_column(String(8))
    channel: Mapped[str | None] = mapped_column(String(16))
    last_error: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @staticmethod
    def new_row(kind: str, ref_id: Any, dossier_id: Any, now: datetime) -> dict[str, Any]:
        """The columns of a new message, due at once; `ref_id` and `dossier_id` may be
        values or, for an INSERT … SELECT, the columns they are copied from."""
        return {
            "kind": kind,
            "ref_id": ref_id,
            "dossier_id": dossier_id,
            "status": OutboxStatus.PENDING,
            "attempts": 0,
            "uncertain": 0,
            "next_attempt_at": now,
            "created_at": now,
        }


class ApiKey(Base):
    """A one-stop system's key for the dossier API; only a hash of the secret is kept."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key_id: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    label: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CalendarDay(Base):
    """A local exception to the national calendar: an extra day off or an extra working day."""

    __tablename__ = "calendar_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    working: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str | None] = mapped_column(String(200))


# --------------------------------------------------------------------------- dossier history
# What moved a dossier's dates after its receipt (a local day off added or removed), so
# an office can answer "why is my date different from the receipt?".


class DossierEvent(Base):
    """One change to a dossier's dates: which date, old -> new, why, on which day."""

    __tablename__ = "dossier_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dossier_id: Mapped[int] = mapped_column(
        ForeignKey("dossiers.id", ondelete="CASCADE"), index=True
    )
    day: Mapped[date] = mapped_column(Date)  # local day of the change
    change: Mapped[str] = mapped_column(String(32))  # e.g. "appointment_date"
    old_date: Mapped[date | None] = mapped_column(Date)
    new_date: Mapped[date | None] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(200))  # no personal data
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DossierLinkFailure(Base):
    """A failed `/hoso` attempt, counted per chat and per dossier code for the day."""

    __tablename__ = "dossier_link_failures"
    __table_args__ = (
        Index("ix_dossier_link_failures_chat_day", "chat_id", "day"),
        Index("ix_dossier_link_failures_code_day", "dossier_code", "day"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"))
    dossier_code: Mapped[str] = mapped_column(String(64))
    day: Mapped[date] = mapped_column(Date)


# --------------------------------------------------------------------------- officials
# Heads of agencies and the provincial reform office (issue 7): who may read the
# indices and the late dossiers of which agencies, and the digests sent to them.


class Official(Base):
    """An official, from the invitation on: only a hash of the one-time code is kept.

    `agency_id` None means the whole province. The chat is bound by `/register`; a
    revoked official keeps the row (for the record) but loses every right at once.
    The digest schedule is local time in the bot's time zone; occurrences before
    `schedule_from` (registration or the last change) are never due.
    """

    __tablename__ = "officials"
    __table_args__ = (
        Index(
            "uq_officials_active_chat",
            "chat_id",
            unique=True,
            sqlite_where=text("revoked_at IS NULL"),
            postgresql_where=text("revoked_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"))
    label: Mapped[str | None] = mapped_column(String(100))
    invite_hash: Mapped[str] = mapped_column(String(64), unique=True)
    invite_expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    registered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    chat_id: Mapped[int | None] = mapped_column(ForeignKey("chats.id", ondelete="SET NULL"))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    digest_frequency: Mapped[str] = mapped_column(String(8))
    digest_weekday: Mapped[int] = mapped_column(SmallInteger)  # ISO: 1 = Monday
    digest_month_day: Mapped[int] = mapped_column(SmallInteger)
    digest_minute: Mapped[int] = mapped_column(SmallInteger)  # minutes after local midnight
    schedule_from: Mapped[datetime | None] = mapped_column(UTCDateTime)


class OfficialDigest(Base):
    """One digest, created once per official and period and queued in the outbox.

    Text, chart and workbook are fixed when it falls due, so what was sent can be
    shown again (and downloaded by link on channels that cannot carry files).
    """

    __tablename__ = "official_digests"
    __table_args__ = (UniqueConstraint("official_id", "period_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    official_id: Mapped[int] = mapped_column(ForeignKey("officials.id"))
    period_key: Mapped[str] = mapped_column(String(40))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    language: Mapped[str] = mapped_column(String(8))
    text: Mapped[str] = mapped_column(Text)
    figures: Mapped[dict[str, Any]] = mapped_column(JSON)
    chart: Mapped[bytes | None] = mapped_column(LargeBinary)
    workbook: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


# --------------------------------------------------------------------------- anonymity
# What stands between a chat and the response side (README, "Anonymity"): completed
# chat answers wait in `response_pool` until their day is over and are then stored,
# shuffled, in one transaction; ended sessions leave only counts in `survey_funnel`.


class PooledResponse(Base):
    """A completed chat response waiting for its day's shuffled publication.

    It has no chat, session, code or dossier column and no time finer than the day.
    The id is random: on SQLite it is the rowid, so not even the physical order of the
    rows tells the order in which citizens finished.
    """

    __tablename__ = "response_pool"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    )
    questionnaire: Mapped[str] = mapped_column(String(32))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    service_id: Mapped[int | None] = mapped_column(ForeignKey("services.id"))
    level: Mapped[str] = mapped_column(String(16))
    response_date: Mapped[date] = mapped_column(Date)  # the local day it was completed
    channel_kind: Mapped[str] = mapped_column(String(16))
    answers: Mapped[dict[str, Any]] = mapped_column(JSON)


SURVEY_FUNNEL_KEY = (
    "day",
    "agency_key",
    "service_key",
    "questionnaire",
    "channel_kind",
    "phase",
    "step",
    "outcome",
)


class SurveyFunnel(Base):
    """How many chat surveys ended, per day and cell, where and how: the drop-off figures.

    `day` is the local day of the session's last activity; `agency_key`/`service_key`
    are the ids, 0 when none had been chosen yet; `phase` and `step` are where the
    citizen was (step = the question's index in the questionnaire); `outcome` is
    completed, cancelled, expired, restarted (a new survey replaced it), refused (the
    code or the day's ballot was taken meanwhile), or partial for sessions closed
    before this table existed. Only counts: no chat, no answers.
    """

    __tablename__ = "survey_funnel"
    __table_args__ = (PrimaryKeyConstraint(*SURVEY_FUNNEL_KEY), {"sqlite_with_rowid": False})

    day: Mapped[date] = mapped_column(Date)
    agency_key: Mapped[int] = mapped_column(Integer)
    service_key: Mapped[int] = mapped_column(Integer)
    questionnaire: Mapped[str] = mapped_column(String(32))
    channel_kind: Mapped[str] = mapped_column(String(16))
    phase: Mapped[str] = mapped_column(String(12))
    step: Mapped[int] = mapped_column(SmallInteger)
    outcome: Mapped[str] = mapped_column(String(12))
    sessions: Mapped[int] = mapped_column(Integer)


# --------------------------------------------------------------------------- guessing limits
# Attempts a chat made today at things that can be guessed (start codes, invitation codes):
# one counter row per chat, kind and local day, so a limit holds across processes and
# restarts. Rows of past days are pruned with the old update keys.


class ChatAttempt(Base):
    """How many times a chat tried something guessable on one local day."""

    __tablename__ = "chat_attempts"
    __table_args__ = (
        PrimaryKeyConstraint("chat_id", "kind", "day"),
        Index("ix_chat_attempts_day", "day"),
    )

    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    day: Mapped[date] = mapped_column(Date)
    count: Mapped[int] = mapped_column(Integer)


# --------------------------------------------------------------------------- dashboard access
# The officials' web dashboard (issue 14): a one-time sign-in link sent by `/web`, then a
# browser session. Only SHA-256 hashes of the random tokens are kept (256 bits each, so
# an unsalted hash cannot be reversed or guessed); the tokens themselves are never stored.


class DashboardSignin(Base):
    """A one-time sign-in link: valid for minutes, used once, for one official only."""

    __tablename__ = "dashboard_signins"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    official_id: Mapped[int] = mapped_column(
        ForeignKey("officials.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DashboardSession(Base):
    """A signed-in browser: ended by sign-out, expiry, or revoking the official."""

    __tablename__ = "dashboard_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    official_id: Mapped[int] = mapped_column(
        ForeignKey("officials.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


# --------------------------------------------------------------------------- QĐ 766 figures
# The on-time figures (`handlers.dossiers.timeliness`) read the dossiers finished in a
# period by their finishing instant, and the unclosed ones for "overdue now". With these,
# at two million dossiers on PostgreSQL (bench/timeliness.py): a month's finished figure
# 555 -> 198 ms, overdue now 562 -> 19 ms, the whole report 1.0 s -> 0.33 s.

# Each carries every column its query reads: counted from the index alone. With them, at
# 1M dossiers through HTTP (bench/dashboard.py), the dossiers page's p95 246 -> 177 ms.
Index("ix_dossiers_finished_at", Dossier.finished_at, Dossier.agency_id, Dossier.due_date)
Index(
    "ix_dossiers_unclosed_due_date",
    Dossier.due_date,
    Dossier.agency_id,
    Dossier.state,
    Dossier.stage,
    Dossier.watch_date,
    sqlite_where=text("closed_at IS NULL"),
    postgresql_where=text("closed_at IS NULL"),
)


# --------------------------------------------------------------------------- report consumers
# The province's operations centre (and any other reader of /api/v1/reports): one key per
# consumer, scoped to the province or one agency; only a hash of the secret is kept.


class ReportConsumer(Base):
    """A consumer of the reports API: `agency_id` None reads the whole province.

    `last_used_at` is written at most once a minute, so a dashboard polling every few
    seconds does not turn each read into a write.
    """

    __tablename__ = "report_consumers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key_id: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"))
    label: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# --------------------------------------------------------------------------- rate budgets
# The platforms' rate limits, shared by every process on one PostgreSQL (bot.rate_budget):
# one row per limited thing (a bot token, its bulk share, one chat). A row whose time has
# passed means "full" and may be deleted; so rows live seconds, not days.


class RateBucket(Base):
    """A token bucket as the time its tokens are spent up to (epoch seconds, the
    database's clock): a reservation of n tokens moves it n/rate later."""

    __tablename__ = "rate_budgets"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    paid_until: Mapped[float] = mapped_column(Float)


# --------------------------------------------------------------------------- rollup generation
# One row whose value every writer of the rollups renews (a new random value) in its own
# transaction, before all its writes: a kept report result keyed by it can never outlive
# the rollups it was counted from.


class RollupGeneration(Base):
    """The rollups' generation (one row, id 1): renewed by `store.rollups.apply_tally` and
    `rebuild_rollups`, read by `handlers.reports.cache`."""

    __tablename__ = "rollup_generation"

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    value: Mapped[int] = mapped_column(BigInteger)
