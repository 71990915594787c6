"""Who is an official, with which role, over which agencies.

An invitation is a row of `officials` holding only the SHA-256 of a random one-time
code (about 99 bits, so a hash without salt is enough: the code cannot be guessed
from it). `/register <code>` binds the chat once, before the code expires.

Scope. An official of the province sees every agency. An official of agency X sees
X and every agency that leads to X through the catalogue, repeatedly:
- agencies merged into it (`successor_code` chains), whose past responses and
  dossiers are now X's, and
- its children (`parent_code`), e.g. the units of a department,
and, transitively, the predecessors and children of those. An agency merged away
from X (X's own successor) is not in X's scope: the link points the other way.

`official_scope` is the one place a scope is narrowed to one agency: the chat commands
and the download links both go through it, on every call, so a revoked official or an
agency moved out of scope is refused everywhere at once. The queries are in `store`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import Agency, Chat, Official
from bot.settings import OfficialSettings
from handlers.officials import store
from handlers.survey.codes import new_code, normalise_code

ADMIN = "admin"
OFFICIAL = "official"
ROLES = (ADMIN, OFFICIAL)
PROVINCE = "province"
CODE_LENGTH = 20  # 31-letter alphabet: about 99 bits

# Which roles may use each chat command; checked on every call.
PERMISSIONS: dict[str, frozenset[str]] = {
    "scores": frozenset(ROLES),
    "overdue": frozenset(ROLES),
    "digest": frozenset(ROLES),
    "subscribe": frozenset(ROLES),
    "export": frozenset(ROLES),
    "web": frozenset(ROLES),
    "invite": frozenset({ADMIN}),
}


class InvitationError(ValueError):
    """An invitation cannot be made as asked; the message says why."""


class OutOfScope(Exception):
    """The official cannot see what was asked: `code` is the agency asked for (outside the
    scope or unknown: the same answer), or None when the official's own agency has left
    the catalogue."""

    def __init__(self, code: str | None = None):
        super().__init__(code)
        self.code = code


def hash_code(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def display_code(code: str) -> str:
    """Four groups of five characters joined by dashes: easier to read out and type;
    the dashes are ignored."""
    return "-".join(code[i : i + 5] for i in range(0, len(code), 5))


def parse_scope(text: str) -> str | None:
    """'province' -> None; 'agency:CODE' -> CODE."""
    text = text.strip()
    if text.lower() == PROVINCE:
        return None
    kind, _, code = text.partition(":")
    if kind.lower() != "agency" or not code.strip():
        raise InvitationError("scope must be province or agency:<code>")
    return code.strip()


@dataclass(frozen=True)
class Scope:
    """The agencies an official sees; `agency_ids` None means the whole province."""

    agency_ids: frozenset[int] | None
    codes: tuple[str, ...]
    root_code: str | None
    root_name: str | None

    def covers(self, agency_id: int) -> bool:
        return self.agency_ids is None or agency_id in self.agency_ids


PROVINCE_SCOPE = Scope(None, (), None, None)


async def scope_of(session: AsyncSession, agency_id: int | None) -> Scope:
    """The scope rooted at an agency (see the module docstring), or the province."""
    if agency_id is None:
        return PROVINCE_SCOPE
    rows = await store.agency_links(session)
    root = next((row for row in rows if row.id == agency_id), None)
    if root is None:
        return Scope(frozenset(), (), None, None)
    inside = {root.code}
    grew = True
    while grew:
        grew = False
        for row in rows:
            if row.code not in inside and (
                row.parent_code in inside or row.successor_code in inside
            ):
                inside.add(row.code)
                grew = True
    members = [row for row in rows if row.code in inside]
    return Scope(
        frozenset(row.id for row in members),
        tuple(sorted(row.code for row in members)),
        root.code,
        root.name,
    )


async def agency_in_scope(session: AsyncSession, scope: Scope, code: str) -> Agency | None:
    """The agency with this code if the scope covers it; None alike when it does not exist."""
    agency = await store.agency_by_code(session, code.strip())
    if agency is None or not scope.covers(agency.id):
        return None
    return agency


async def official_scope(
    session: AsyncSession, official: Official, agency_code: str | None = None
) -> Scope:
    """What the official sees now, narrowed to one agency's own scope when a code is given.

    OutOfScope when the official's own agency left the catalogue, or when the code is
    outside the scope or does not exist. An agency's own scope lies inside every scope
    that covers it (scopes are closed under "merged into" and "child of"), so narrowing
    never widens.
    """
    scope = await scope_of(session, official.agency_id)
    if scope.agency_ids is not None and not scope.codes:
        raise OutOfScope(None)
    if agency_code is None:
        return scope
    agency = await agency_in_scope(session, scope, agency_code)
    if agency is None:
        raise OutOfScope(agency_code)
    return await scope_of(session, agency.id)


async def create_invitation(
    session: AsyncSession,
    *,
    role: str,
    agency_code: str | None,
    now: datetime,
    settings: OfficialSettings,
    label: str | None = None,
    valid_for: timedelta | None = None,
    within: Scope | None = None,
) -> tuple[Official, str]:
    """A new invited official and its one-time code (shown once, never stored)."""
    if role not in ROLES:
        raise InvitationError(f"role must be one of {', '.join(ROLES)}")
    agency_id = None
    if agency_code is not None:
        agency = await store.agency_by_code(session, agency_code)
        if agency is None or (within is not None and not within.covers(agency.id)):
            raise InvitationError(f"no agency {agency_code!r} in scope")
        agency_id = agency.id
    elif within is not None and within.agency_ids is not None:
        raise InvitationError("a province-wide invitation needs a province-wide admin")
    code = new_code(CODE_LENGTH)
    official = Official(
        role=role,
        agency_id=agency_id,
        label=(label or "").strip()[:100] or None,
        invite_hash=hash_code(code),
        invite_expires_at=now + (valid_for or timedelta(days=settings.invite_days)),
        created_at=now,
        digest_frequency=settings.digest_frequency,
        digest_weekday=settings.digest_weekday,
        digest_month_day=settings.digest_month_day,
        digest_minute=settings.digest_minute,
    )
    await store.add_official(session, official)
    return official, code


async def redeem(
    session: AsyncSession, raw_code: str, chat: Chat, now: datetime
) -> Official | None:
    """Bind the chat to the invitation's official; None for any code that is not usable.

    Unknown, used, revoked and expired codes all give None, so the reply cannot tell
    them apart. The row is locked, so two chats racing for one code bind only one. An
    official already bound to this chat is superseded (revoked): one chat, one role.
    """
    code = normalise_code(raw_code)
    if code is None:
        return None
    official = await store.invitation_locked(session, hash_code(code))
    if (
        official is None
        or official.registered_at is not None
        or official.revoked_at is not None
        or official.invite_expires_at <= now
    ):
        return None
    await store.revoke_bound(session, chat.id, now)
    official.registered_at = now
    official.chat_id = chat.id
    official.schedule_from = now
    return official


async def active_official(session: AsyncSession, chat_id: int) -> Official | None:
    """The registered, unrevoked official bound to this chat, if any."""
    return await store.active_official(session, chat_id)


async def entitled_official(session: AsyncSession, official_id: object) -> Official | None:
    """The official a download link names, while registered and not revoked."""
    official = await store.official(session, official_id)
    if official is None or official.revoked_at is not None or official.registered_at is None:
        return None
    return official


def allowed(official: Official | None, command: str) -> bool:
    return official is not None and official.role in PERMISSIONS.get(command, frozenset())


def state_of(official: Official, now: datetime) -> str:
    if official.revoked_at is not None:
        return "revoked"
    if official.registered_at is not None:
        return "active"
    return "expired" if official.invite_expires_at <= now else "invited"


async def revoke(session: AsyncSession, official_id: int, now: datetime) -> bool:
    """Revoke an official or an unused invitation; False if none or already revoked."""
    return await store.revoke(session, official_id, now)
