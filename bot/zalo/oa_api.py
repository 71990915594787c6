"""A small aiohttp client of the Zalo Official Account API v3.

Calls carry the OA access token in the `access_token` header (never in a URL).
When Zalo says the token is invalid, the token store is asked for another one
(another process may have refreshed it, or it is refreshed now) and the call is
tried once more. Zalo answers `{error: 0, message, data}`; any other error code
becomes `ZaloOAError`, whose text has long digit runs (user ids, phone numbers)
blanked, since Zalo may echo them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import aiohttp

from bot import metrics
from bot.settings import ZaloOASettings
from bot.zalo.http import TIMED_OUT, TransportError, post_for_json
from bot.zalo.tokens import ZaloOATokens

ACCESS_TOKEN_ERRORS = frozenset({-216, -124})  # invalid / expired access token [S]
_LONG_NUMBER = re.compile(r"\d{8,}")


class ZaloOAError(Exception):
    """An OA API call failed; `code` is Zalo's error code (None: network or HTTP error)."""

    def __init__(self, what: str, code: int | None, message: str, *, timed_out: bool = False):
        message = _LONG_NUMBER.sub("[number]", message)[:200]
        super().__init__(f"Zalo OA {what} failed: {code if code is not None else '-'} {message}")
        self.what = what
        self.code = code
        self.timed_out = timed_out  # it may have arrived all the same


class ZaloOAApi:
    def __init__(self, http: aiohttp.ClientSession, config: ZaloOASettings, tokens: ZaloOATokens):
        self.http = http
        self.config = config
        self.tokens = tokens

    async def post(
        self, url: str, payload: dict[str, Any], what: str, *, platform: str | None = None
    ) -> dict[str, Any]:
        """POST JSON with the access token; Zalo's answer when its `error` is 0.

        With `platform`, the call is a message sent and counted in `sipas_sends_total`.
        """
        if platform is None:
            return await self._post(url, payload, what)
        try:
            body = await self._post(url, payload, what)
        except ZaloOAError as error:
            metrics.count_send(platform, send_outcome(error))
            raise
        metrics.count_send(platform, "sent")
        return body

    async def _post(self, url: str, payload: dict[str, Any], what: str) -> dict[str, Any]:
        token = await self.tokens.access_token()
        for attempt in (1, 2):
            body = await self._post_once(url, payload, token, what)
            code = body.get("error", 0)
            if code == 0:
                return body
            if code in ACCESS_TOKEN_ERRORS and attempt == 1:
                token = await self.tokens.refresh(rejected=token)
                continue
            raise ZaloOAError(
                what, code if isinstance(code, int) else None, str(body.get("message", ""))
            )
        raise AssertionError("unreachable")

    async def _post_once(
        self, url: str, payload: dict[str, Any], token: str, what: str
    ) -> dict[str, Any]:
        try:
            status, body = await post_for_json(
                self.http, url, seconds=15, json=payload, headers={"access_token": token}
            )
        except TransportError as error:
            timed_out = error.reason == TIMED_OUT
            raise ZaloOAError(what, None, error.reason, timed_out=timed_out) from None
        if not isinstance(body, dict):
            raise ZaloOAError(what, None, f"unreadable answer (HTTP {status})")
        return body

    async def send_cs(
        self, user_id: str, text: str, buttons: Sequence[tuple[str, str]] = ()
    ) -> None:
        """A customer-service message; `buttons` are (title, payload) of oa.query.hide buttons."""
        message: dict[str, Any] = {"text": text}
        if buttons:
            message["attachment"] = {
                "type": "template",
                "payload": {
                    "buttons": [
                        {"title": title, "type": "oa.query.hide", "payload": payload}
                        for title, payload in buttons
                    ]
                },
            }
        await self.post(
            f"{self.config.api_base_url}/v3.0/oa/message/cs",
            {"recipient": {"user_id": user_id}, "message": message},
            "message/cs",
            platform="zalo_oa",
        )


def send_outcome(error: ZaloOAError) -> str:
    """How a failed send is counted: uncertain when it timed out (it may have arrived)."""
    return "uncertain" if error.timed_out else "failed"
