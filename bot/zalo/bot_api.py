"""A small aiohttp client of the Zalo Bot platform (the Telegram-like bot API).

`POST <base>/bot<TOKEN>/<method>` with a JSON body; answers `{ok, result,
error_code, description}`. The token is part of every URL, so no URL ever goes
into an error message or a log line: failures are reported by method name, Zalo's
error code and description, or the kind of network error.
"""

from __future__ import annotations

from typing import Any

import aiohttp

from bot import metrics
from bot.zalo.http import TIMED_OUT, TransportError, post_for_json
from bot.zalo.text import split_text

NO_UPDATE = 408  # getUpdates: the long poll ended without an update


class ZaloBotError(Exception):
    """A Bot API call failed; `code` is Zalo's error code or the HTTP status (None: network)."""

    def __init__(self, method: str, code: int | None, description: str):
        super().__init__(f"Zalo Bot API {method} failed: {code or '-'} {description}")
        self.method = method
        self.code = code
        self.description = description


class ZaloBotApi:
    def __init__(self, http: aiohttp.ClientSession, base_url: str, token: str):
        self._http = http
        self._prefix = f"{base_url}{token}/"

    async def call(self, method: str, payload: dict[str, Any] | None = None, *, seconds=15.0):
        """One method call; its `result`, or ZaloBotError."""
        counted = method.startswith("send")  # a message: counted in sipas_sends_total
        try:
            status, body = await post_for_json(
                self._http, self._prefix + method, seconds=seconds, json=payload or {}
            )
        except TransportError as error:
            if counted:
                outcome = "uncertain" if error.reason == TIMED_OUT else "failed"
                metrics.count_send("zalo_bot", outcome)
            raise ZaloBotError(method, None, error.reason) from None
        if isinstance(body, dict) and body.get("ok") is True:
            if counted:
                metrics.count_send("zalo_bot", "sent")
            return body.get("result")
        code = body.get("error_code") if isinstance(body, dict) else None
        if counted:
            metrics.count_send("zalo_bot", "429" if 429 in (code, status) else "failed")
        description = body.get("description") if isinstance(body, dict) else None
        raise ZaloBotError(
            method,
            code if isinstance(code, int) else status,
            str(description)[:200] if description else f"HTTP {status}",
        )

    async def get_me(self) -> dict[str, Any]:
        return await self.call("getMe")

    async def send_message(self, chat_id: str, text: str) -> None:
        """Send a text; one over 2,000 characters goes as several, cut at line ends."""
        for piece in split_text(text):
            await self.call("sendMessage", {"chat_id": chat_id, "text": piece})

    async def send_photo(self, chat_id: str, photo_url: str, caption: str | None = None) -> None:
        payload = {"chat_id": chat_id, "photo": photo_url}
        if caption:
            payload["caption"] = caption
        await self.call("sendPhoto", payload)

    async def set_webhook(self, url: str, secret_token: str) -> None:
        await self.call("setWebhook", {"url": url, "secret_token": secret_token})

    async def delete_webhook(self) -> None:
        await self.call("deleteWebhook")

    async def get_updates(self, poll_seconds: int) -> list[dict[str, Any]]:
        """Long-poll for the next update: a list of at most one (empty on 408)."""
        try:
            result = await self.call(
                "getUpdates", {"timeout": poll_seconds}, seconds=poll_seconds + 15
            )
        except ZaloBotError as error:
            if error.code == NO_UPDATE:
                return []
            raise
        if isinstance(result, list):
            return [update for update in result if isinstance(update, dict)]
        return [result] if isinstance(result, dict) else []
