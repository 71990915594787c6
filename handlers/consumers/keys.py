"""Keys of the reports API's consumers: a scope each, shown once, stored as a hash.

A key is `sipasr_<id>.<secret>` ("r" for reports, so it is never mistaken for a one-stop
system's dossier key, `sipas_…`, nor accepted where that one is): the id finds the row,
the secret (256 random bits) is checked against its SHA-256 in constant time, as for
the dossier API (`handlers.dossiers.keys` says why a fast hash is enough).

Using a key records when (`last_used_at`), at most once a minute.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.boundary import check_text
from bot.models import ReportConsumer
from handlers.consumers import store

PREFIX = "sipasr_"
_KEY = re.compile(r"^sipasr_([a-z0-9]{10})\.([A-Za-z0-9_-]{43})$")
_ID_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"
USE_RESOLUTION = timedelta(minutes=1)
MAX_LABEL = 100


class ConsumerError(ValueError):
    """A consumer cannot be created as asked; the message says why."""


@dataclass(frozen=True)
class Consumer:
    """Who is asking: `agency_id`/`agency_code` None for the whole province."""

    key_id: str
    label: str
    agency_id: int | None
    agency_code: str | None


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _label(label: str | None) -> str:
    text = (label or "").strip()
    if not text:
        raise ConsumerError("a label is needed (who reads with this key)")
    if len(text) > MAX_LABEL:
        raise ConsumerError(f"the label is longer than {MAX_LABEL} characters")
    try:
        return check_text(text)
    except ValueError as error:
        raise ConsumerError(f"the label {error}") from None


async def create_consumer(
    session: AsyncSession, *, agency_code: str | None, label: str | None, now: datetime
) -> str:
    """A new consumer's key (the only time its secret is visible); no agency: the province."""
    agency_id = None
    if agency_code is not None:
        agency = await store.agency_by_code(session, agency_code)
        if agency is None:
            raise ConsumerError(f"unknown agency code {agency_code!r}")
        agency_id = agency.id
    key_id = "".join(secrets.choice(_ID_ALPHABET) for _ in range(10))
    secret = secrets.token_urlsafe(32)
    store.add_consumer(
        session,
        ReportConsumer(
            key_id=key_id,
            secret_hash=_hash(secret),
            agency_id=agency_id,
            label=_label(label),
            created_at=now,
        ),
    )
    return f"{PREFIX}{key_id}.{secret}"


async def verify_consumer(session: AsyncSession, presented: str, now: datetime) -> Consumer | None:
    """The consumer if `presented` is a valid, unrevoked key; else None (say nothing more)."""
    match = _KEY.match(presented.strip())
    if match is None:
        return None
    row = await store.consumer_by_key_id(session, match[1])
    if row is None or row.revoked_at is not None:
        return None
    if not hmac.compare_digest(row.secret_hash, _hash(match[2])):
        return None
    if row.last_used_at is None or now - row.last_used_at >= USE_RESOLUTION:
        row.last_used_at = now
    code = await store.agency_code_of(session, row.agency_id) if row.agency_id else None
    return Consumer(row.key_id, row.label, row.agency_id, code)


async def revoke_consumer(session: AsyncSession, key_id: str, now: datetime) -> bool:
    row = await store.consumer_by_key_id(session, key_id)
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = now
    return True


async def listed_consumers(session: AsyncSession) -> list[tuple[ReportConsumer, str | None]]:
    """Every consumer with its scope's agency code (never a secret: only hashes exist)."""
    return await store.consumers_with_agency(session)
