"""API keys of the one-stop systems: one agency each, shown once, stored as a hash.

A key is `sipas_<id>.<secret>`: the id finds the row, the secret is checked against
its SHA-256 in constant time. The secret is 256 random bits, so a fast hash is
enough (no password stretching needed), and a stolen database reveals no key.
Chosen over HMAC request signing because HMAC needs the secret itself on the
server; TLS protects the bearer key in transit.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import ApiKey
from handlers.dossiers import store

_KEY = re.compile(r"^sipas_([a-z0-9]{10})\.([A-Za-z0-9_-]{43})$")


class ApiKeyError(ValueError):
    """A key cannot be created as asked."""


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def create_key(
    session: AsyncSession, agency_code: str, now: datetime, label: str | None = None
) -> str:
    """A new key for the agency; the only time its secret is ever visible."""
    agency_id = await store.agency_id_by_code(session, agency_code)
    if agency_id is None:
        raise ApiKeyError(f"unknown agency code {agency_code!r}")
    key_id = "".join(secrets.choice("abcdefghijkmnpqrstuvwxyz23456789") for _ in range(10))
    secret = secrets.token_urlsafe(32)
    store.add_key(
        session,
        ApiKey(
            key_id=key_id,
            secret_hash=_hash(secret),
            agency_id=agency_id,
            label=(label or None),
            created_at=now,
        ),
    )
    return f"sipas_{key_id}.{secret}"


async def verify_key(session: AsyncSession, presented: str, now: datetime) -> ApiKey | None:
    """The key's row if `presented` is a valid, unrevoked key; else None."""
    match = _KEY.match(presented.strip())
    if match is None:
        return None
    key = await store.key_by_id(session, match[1])
    if key is None or key.revoked_at is not None:
        return None
    if not hmac.compare_digest(key.secret_hash, _hash(match[2])):
        return None
    key.last_used_at = now
    return key


async def revoke_key(session: AsyncSession, key_id: str, now: datetime) -> bool:
    key = await store.key_by_id(session, key_id)
    if key is None or key.revoked_at is not None:
        return False
    key.revoked_at = now
    return True
