"""The statuses and states stored in the database, each defined once.

`StrEnum`/`IntEnum` members compare and store as their plain values, so the columns
(and any row written before these enums existed) are unchanged: no migration.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum


class SessionStatus(StrEnum):
    """`survey_sessions.status`."""

    ACTIVE = "active"
    ENDED = "ended"  # until the ended session is deleted, in the same transaction


class SessionOutcome(StrEnum):
    """How a survey session ended, as counted in `survey_funnel`."""

    COMPLETED = "completed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    RESTARTED = "restarted"
    REFUSED = "refused"


class SessionPhase(StrEnum):
    """`survey_sessions.phase` (and `survey_funnel.phase`): where the citizen is."""

    AGENCY = "agency"
    SERVICE = "service"
    QUESTIONS = "questions"


class OutboxStatus(StrEnum):
    """`outbox.status`."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    COUNTER = "counter"  # undeliverable by chat or ZNS: handed over at the counter
    CANCELLED = "cancelled"  # not needed any more, or not allowed now nor later: not sent


class OutboxRoute(StrEnum):
    """`outbox.route`: how a row went, or is handed over."""

    CHAT = "chat"
    ZNS = "zns"
    COUNTER = "counter"


class OutboxKind(StrEnum):
    """`outbox.kind`: which renderer turns the row into messages."""

    APOLOGY = "apology"
    INVITATION = "invitation"
    DIGEST = "digest"
    REMINDER = "reminder"  # ref_id: the survey session left unfinished


class DossierState(IntEnum):
    """A dossier's state code in the one-stop information systems (shared/domain/dossiers.md)."""

    NEW = 1
    RECEIVED = 2
    NOT_RECEIVED = 3  # rejected at intake
    PROCESSING = 4
    SUPPLEMENT = 5  # documents to add; the clock stops
    FINANCIAL = 6  # fees or taxes to pay
    WITHDRAWN = 7
    STOPPED = 8
    DONE = 9  # done, the result not yet returned
    RETURNED = 10


OPEN_STATES = frozenset(
    {
        DossierState.NEW,
        DossierState.RECEIVED,
        DossierState.PROCESSING,
        DossierState.SUPPLEMENT,
        DossierState.FINANCIAL,
    }
)  # the result is still owed: can become late
FINISHED_STATES = frozenset({DossierState.DONE, DossierState.RETURNED})
CLOSED_STATES = frozenset(  # nothing left to do: the retention clock runs
    {
        DossierState.NOT_RECEIVED,
        DossierState.WITHDRAWN,
        DossierState.STOPPED,
        DossierState.RETURNED,
    }
)


class DigestFrequency(StrEnum):
    """`officials.digest_frequency`."""

    WEEKLY = "weekly"
    MONTHLY = "monthly"
    OFF = "off"
