"""Signed, expiring download links, for channels that cannot carry files (Zalo).

A link is `<PUBLIC_BASE_URL>/officials/files/<payload>.<mac>`: the payload (base64url
JSON) says what to serve, to which official, until when; the mac is HMAC-SHA256 of
the payload with OFFICIALS_LINK_SECRET. Nothing is stored per link. The server checks
the mac, then the expiry, then that the official is still active and still has the
agency in scope (`downloads`), so revoking an official also kills the links already sent.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from datetime import datetime, timedelta
from typing import Any

from bot.models import Official
from bot.settings import Settings
from handlers.officials.access import Scope
from handlers.reports import Period

PATH = "/officials/files"
WORKBOOK = "xlsx"
CHART = "png"
MEDIA_TYPES = {
    WORKBOOK: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    CHART: "image/png",
}
MAX_TOKEN = 1024


class LinkError(Exception):
    """A token that cannot be used: `reason` is "tampered" or "expired"."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: bytes, body: str) -> str:
    return _b64(hmac.new(secret, body.encode(), hashlib.sha256).digest())


def sign(secret: bytes, payload: dict[str, Any]) -> str:
    body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
    return f"{body}.{_mac(secret, body)}"


def verify(secret: bytes, token: str, now: datetime) -> dict[str, Any]:
    """The payload of a genuine, unexpired token; LinkError otherwise."""
    body, _, mac = token.partition(".")
    if (
        len(token) > MAX_TOKEN
        or not body
        or not hmac.compare_digest(mac.encode(), _mac(secret, body).encode())
    ):
        raise LinkError("tampered")
    try:
        payload = json.loads(_unb64(body))
    except (ValueError, binascii.Error):
        raise LinkError("tampered") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("x"), int):
        raise LinkError("tampered")
    if now.timestamp() >= payload["x"]:
        raise LinkError("expired")
    return payload


def secret_of(settings: Settings) -> bytes | None:
    secret = settings.officials.link_secret
    return secret.get_secret_value().encode() if secret is not None else None


def links_available(settings: Settings) -> bool:
    return secret_of(settings) is not None and settings.public_base_url is not None


def expiry(settings: Settings, now: datetime) -> datetime:
    return now + timedelta(hours=settings.officials.export_link_hours)


def make_link(settings: Settings, payload: dict[str, Any], now: datetime) -> str | None:
    """A link valid for OFFICIALS_EXPORT_LINK_HOURS, or None when links are not set up."""
    secret = secret_of(settings)
    if secret is None or settings.public_base_url is None:
        return None
    token = sign(secret, {**payload, "x": int(expiry(settings, now).timestamp())})
    return f"{settings.public_base_url}{PATH}/{token}"


def export_payload(
    official: Official, scope: Scope, period: Period, lang: str, kind: str
) -> dict[str, Any]:
    """What an export link says: file kind, official, agency narrowed to, period, language."""
    return {
        "k": kind,
        "o": official.id,
        "a": scope.root_code,
        "p": [period.start.isoformat(), period.end.isoformat(), period.kind],
        "l": lang,
    }
