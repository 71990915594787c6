"""Database tables. The schema itself changes only through Alembic migrations.

Two groups of tables must never be joined: the conversation side (`chats`,
`survey_sessions`), which knows who is talking, and the response side
(`responses`, `response_answers`), which knows what was answered. A response
carries no chat id and no key to a session, code or dossier, so that an answer
cannot be traced back to the citizen who gave it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

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


class StartCode(Base):
    """An unguessable code printed on a receipt that names agency and service."""

    __tablename__ = "start_codes"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"))
    single_use: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Chat(Base):
    """A conversation on one channel; the row every message of that chat locks."""

    __tablename__ = "chats"
    __table_args__ = (UniqueConstraint("channel", "chat_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    chat_key: Mapped[str] = mapped_column(String(64))
    language: Mapped[str | None] = mapped_column(String(8))
    privacy_noticed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


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
    reply_pending: Mapped[bool] = mapped_column(Boolean, default=False)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Response(Base):
    """One completed questionnaire, anonymous by construction (see the module docstring)."""

    __tablename__ = "responses"
    __table_args__ = (Index("ix_responses_date_agency", "response_date", "agency_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    questionnaire: Mapped[str] = mapped_column(String(32))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    service_id: Mapped[int | None] = mapped_column(ForeignKey("services.id"))
    level: Mapped[str] = mapped_column(String(16))
    response_date: Mapped[date] = mapped_column(Date)
    channel_kind: Mapped[str] = mapped_column(String(16))
    form_id: Mapped[str | None] = mapped_column(String(64), unique=True)


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
