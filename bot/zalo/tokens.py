"""The Zalo OA access token: kept in the database, refreshed by one process at a time.

Zalo's access token lives about 25 h and its refresh token is single-use: the
process that refreshes must store the new refresh token, or every process is
locked out. So one refresh runs at a time: on PostgreSQL a session-level advisory
lock (taken and held outside any transaction) orders the processes; on SQLite, which
serves one process, a lock shared by every store of that database file in the
process does. Holding it, a store reads the row in a short transaction, calls Zalo
with no transaction open (a slow token server must not hold SQLite's write lock, nor
a row lock every incoming event needs), then writes the new pair in a second short
transaction. A process that waited for the lock finds a fresh token and does not
refresh again. A failed refresh is recorded in the row (failures, retry-at, Zalo's
error) so that every process backs off, never in a tight loop.

If Zalo accepted a refresh but the answer was lost (timeout, crash before the
commit), the stored refresh token is spent: the log then says to put a new one
in ZALO_OA_REFRESH_TOKEN, which replaces the stored one at the next start.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

import aiohttp
from sqlalchemy import select

from bot import metrics
from bot.database import Database, held_lock, insert_if_absent
from bot.logs import SecretRedactor
from bot.models import ZaloOAToken
from bot.settings import ZaloOASettings
from bot.zalo.http import TransportError, post_for_json
from bot.zalo.retry import backoff_delay

log = logging.getLogger(__name__)

REFRESH_BACKOFF_BASE = 60.0  # seconds after the first failure, doubling …
REFRESH_BACKOFF_CAP = 3600.0  # … up to an hour
NEW_TOKEN_HINT = (
    "if the refresh token was revoked, spent or has expired, put a new one from the "
    "Zalo developer console in ZALO_OA_REFRESH_TOKEN and restart"
)


class TokenUnavailable(Exception):
    """No usable access token now; the message says why and when the next try is."""


class RefreshError(Exception):
    """Zalo refused the refresh, or could not be reached."""


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True)
class _Stored:
    """What a refresh decision needs from the row, read in a short transaction."""

    access_token: str | None
    expires_at: datetime | None
    renew_at: datetime | None
    retry_at: datetime | None
    last_error: str | None
    refresh_token: str


def redact_in_logs(secret: str) -> None:
    """Blank a secret learnt at run time (a new token) in every later log line.

    `bot.logs` installs its redactor with the secrets known at start-up; tokens
    read from the database or issued by a refresh are added to it here.
    """
    for handler in logging.getLogger().handlers:
        for log_filter in handler.filters:
            if isinstance(log_filter, SecretRedactor) and secret not in log_filter.secrets:
                log_filter.secrets = sorted({*log_filter.secrets, secret}, key=len, reverse=True)


class ZaloOATokens:
    def __init__(
        self,
        database: Database,
        config: ZaloOASettings,
        http: aiohttp.ClientSession,
        clock: Callable[[], datetime],
    ):
        assert config.app_id and config.secret_key and config.refresh_token
        self.database = database
        self.config = config
        self.http = http
        self.clock = clock
        self.app_id = config.app_id
        self.margin = timedelta(minutes=config.token_refresh_margin_minutes)
        self._cached: tuple[str, datetime] | None = None
        self._lock = asyncio.Lock()  # one refresh attempt per process at a time

    async def seed(self) -> None:
        """Create the row from ZALO_OA_REFRESH_TOKEN, or take a new value given there."""
        assert self.config.refresh_token is not None
        initial = self.config.refresh_token.get_secret_value()
        async with self.database.transaction() as session:
            row = await self._locked_row(session)
            if row.seed_hash != _hash(initial):
                log.info("Zalo OA: the new ZALO_OA_REFRESH_TOKEN replaces the stored one")
                row.refresh_token, row.seed_hash = initial, _hash(initial)
                row.access_token = row.expires_at = row.retry_at = row.last_error = None
                row.failures = 0
        self._cached = None

    async def _locked_row(self, session) -> ZaloOAToken:
        assert self.config.refresh_token is not None
        initial = self.config.refresh_token.get_secret_value()
        await insert_if_absent(
            session,
            ZaloOAToken.__table__,
            {
                "app_id": self.app_id,
                "refresh_token": initial,
                "seed_hash": _hash(initial),
                "failures": 0,
            },
        )
        row = await session.scalar(
            select(ZaloOAToken).where(ZaloOAToken.app_id == self.app_id).with_for_update()
        )
        assert row is not None
        for token in (row.refresh_token, row.access_token):
            if token:
                redact_in_logs(token)
        return row

    def _renew_at(self, row: ZaloOAToken) -> datetime:
        """When the stored token is due for renewal: `margin` before expiry, but never
        earlier than half its life (a short-lived token must not be refreshed at once)."""
        assert row.expires_at is not None
        margin = self.margin
        if row.refreshed_at is not None:
            margin = min(margin, (row.expires_at - row.refreshed_at) / 2)
        return row.expires_at - margin

    async def access_token(self) -> str:
        """A valid access token, refreshed first when it is about to expire."""
        if self._cached is not None and self.clock() < self._cached[1]:
            return self._cached[0]
        return await self.refresh(rejected=None)

    @asynccontextmanager
    async def _one_refresh(self) -> AsyncIterator[None]:
        """Held while one store decides on, and makes, a refresh: no other store of this
        OA (in any process on PostgreSQL) refreshes meanwhile. No transaction stays open."""
        async with held_lock(self.database, f"zalo-oa-token-refresh:{self.app_id}"):
            yield

    async def _read(self) -> _Stored:
        async with self.database.transaction() as session:
            row = await self._locked_row(session)
            renew_at = self._renew_at(row) if row.expires_at is not None else None
            return _Stored(
                row.access_token,
                row.expires_at,
                renew_at,
                row.retry_at,
                row.last_error,
                row.refresh_token,
            )

    async def refresh(self, rejected: str | None) -> str:
        """Refresh unless the stored token is fresh; `rejected`: a token Zalo just refused."""
        async with self._lock, self._one_refresh():
            now = self.clock()
            if self._cached is not None and self._cached[0] != rejected and now < self._cached[1]:
                return self._cached[0]  # refreshed by another task while this one waited
            self._cached = None
            stored = await self._read()
            current, expires_at = stored.access_token, stored.expires_at
            if current == rejected:
                current = None
            if current is not None and stored.renew_at is not None and now < stored.renew_at:
                return self._remember(current, stored.renew_at)
            if stored.retry_at is not None and stored.retry_at > now:
                failure = RefreshError(f"{stored.last_error} (next attempt at {stored.retry_at})")
                retry_at = stored.retry_at
            else:
                try:
                    access, refresh, lifetime = await self._call_zalo(stored.refresh_token)
                except RefreshError as error:
                    failure = error
                    retry_at = await self._record_failure(error, now)
                else:
                    return await self._store(access, refresh, lifetime, now)
            # The old token may still be valid, only due for renewal: use it until the
            # next attempt is allowed (or it expires), without asking the database again.
            if current is not None and expires_at is not None and expires_at > now:
                return self._remember(current, min(expires_at, retry_at))
            raise TokenUnavailable(f"no valid Zalo OA access token: {failure}")

    async def _store(self, access: str, refresh: str, lifetime: int, now: datetime) -> str:
        async with self.database.transaction() as session:
            row = await self._locked_row(session)
            row.access_token, row.refresh_token = access, refresh
            row.expires_at = now + timedelta(seconds=lifetime)
            row.refreshed_at = now
            row.failures, row.retry_at, row.last_error = 0, None, None
            renew_at = self._renew_at(row)
        metrics.increment("zalo_oa_token_refreshed_total")
        log.info("Zalo OA: access token refreshed, valid for %d s", lifetime)
        return self._remember(access, renew_at)

    async def _record_failure(self, error: RefreshError, now: datetime) -> datetime:
        """Count the failure in the row, so every process backs off; the next try's time."""
        async with self.database.transaction() as session:
            row = await self._locked_row(session)
            row.failures += 1
            failures = row.failures
            delay = backoff_delay(failures, base=REFRESH_BACKOFF_BASE, cap=REFRESH_BACKOFF_CAP)
            row.retry_at = retry_at = now + timedelta(seconds=delay)
            row.last_error = str(error)[:255]
        metrics.increment("zalo_oa_token_refresh_failed_total")
        log.error(
            "Zalo OA: refreshing the access token failed (%s), attempt %d; "
            "next attempt in %.0f s; %s",
            error,
            failures,
            delay,
            NEW_TOKEN_HINT,
        )
        return retry_at

    def _remember(self, token: str | None, use_until: datetime) -> str:
        """Cache the token for use, without the database, until `use_until`."""
        assert token is not None
        redact_in_logs(token)
        self._cached = (token, use_until)
        return token

    async def _call_zalo(self, refresh_token: str) -> tuple[str, str, int]:
        """POST the OAuth refresh; (access token, new refresh token, lifetime in seconds)."""
        assert self.config.secret_key is not None
        form = {
            "app_id": self.app_id,
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
        }
        try:
            status, body = await post_for_json(
                self.http,
                self.config.oauth_url,
                seconds=10,
                data=form,
                headers={"secret_key": self.config.secret_key.get_secret_value()},
            )
        except TransportError as error:
            if error.reason == "timed out":
                raise RefreshError("no answer from Zalo (timed out)") from None
            raise RefreshError(f"cannot reach Zalo ({error.reason})") from None
        if not isinstance(body, dict):
            raise RefreshError(f"unreadable answer (HTTP {status})")
        access, refresh = body.get("access_token"), body.get("refresh_token")
        if isinstance(access, str) and access and isinstance(refresh, str) and refresh:
            try:
                lifetime = int(body.get("expires_in", 0))
            except (TypeError, ValueError):
                lifetime = 0
            redact_in_logs(access)
            redact_in_logs(refresh)
            return access, refresh, lifetime if lifetime > 0 else 3600
        code = body.get("error", status)
        description = body.get("error_description") or body.get("error_name") or "no token"
        raise RefreshError(f"Zalo error {code}: {str(description)[:120]}")
