"""A fake Zalo OA platform on 127.0.0.1: OA API v3, the OAuth token server and ZNS.

It checks what Zalo is reported to check: the `access_token` header on API calls
(-216 when invalid), the `secret_key` header and single-use refresh tokens on the
OAuth server (a spent refresh token is refused), at most five buttons and 2,000
characters per message, ZNS phone numbers in the 84… form. It signs the events it
delivers to the bot's webhook as Zalo does (X-ZEvent-Signature).
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import re
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from typing import Any

import aiohttp
from aiohttp import web

APP_ID = "4321987654321"
SECRET_KEY = "fake-app-secret-key-0123456789"
OA_SECRET_KEY = "fake-oa-webhook-secret-key-abcdef"
FIRST_REFRESH_TOKEN = "fake-refresh-token-000-initial"
TEXT_LIMIT = 2000
_ids = itertools.count(1)


class FakeZaloOA:
    def __init__(self, clock: Callable[[], datetime], *, refresh_delay: float = 0.0):
        self.clock = clock
        self.refresh_token = FIRST_REFRESH_TOKEN  # the only refresh token Zalo accepts now
        self.spent_refresh_tokens: list[str] = []
        self.access_tokens: set[str] = set()
        self.issued: list[str] = []  # every access and refresh token handed out
        self.refresh_calls = 0
        self.refresh_delay = refresh_delay
        self.refresh_errors = 0  # answer this many refreshes with an error
        # When set, a refresh is held (counted, not answered) until the event is set: a
        # token server as slow as a test needs, with no clock involved.
        self.refresh_release: asyncio.Event | None = None
        self.fail_sends = 0  # answer this many message/cs calls with a bare HTTP 500
        self.lifetime = 90000
        self.messages: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.zns: list[dict[str, Any]] = []
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def oauth_url(self) -> str:
        return f"{self.base_url}/v4/oa/access_token"

    @property
    def zns_url(self) -> str:
        return f"{self.base_url}/message/template"

    async def __aenter__(self) -> FakeZaloOA:
        app = web.Application()
        app.router.add_post("/v4/oa/access_token", self._access_token)
        app.router.add_post("/v3.0/oa/message/cs", self._message_cs)
        app.router.add_post("/message/template", self._zns)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.port = self._runner.addresses[0][1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    # -- OAuth -------------------------------------------------------------------------

    async def _access_token(self, request: web.Request) -> web.Response:
        form = await request.post()
        self.refresh_calls += 1
        await asyncio.sleep(self.refresh_delay)
        if self.refresh_release is not None:
            await self.refresh_release.wait()
        if request.headers.get("secret_key") != SECRET_KEY or form.get("app_id") != APP_ID:
            return web.json_response({"error": -14002, "error_name": "Invalid app credentials"})
        if form.get("grant_type") != "refresh_token":
            return web.json_response({"error": -14003, "error_name": "Invalid grant type"})
        if self.refresh_errors:
            self.refresh_errors -= 1
            return web.json_response({"error": -14001, "error_name": "Service busy"})
        if form.get("refresh_token") != self.refresh_token:
            return web.json_response(
                {"error": -14014, "error_name": "Invalid refresh token", "error_description": "x"}
            )
        self.spent_refresh_tokens.append(self.refresh_token)
        number = next(_ids)
        access, refresh = f"fake-access-{number:04d}-token", f"fake-refresh-{number:04d}-token"
        self.refresh_token = refresh
        self.access_tokens.add(access)
        self.issued += [access, refresh]
        return web.json_response(
            {"access_token": access, "refresh_token": refresh, "expires_in": str(self.lifetime)}
        )

    def revoke_access_tokens(self) -> None:
        self.access_tokens.clear()

    # -- OA API ------------------------------------------------------------------------

    async def _message_cs(self, request: web.Request) -> web.Response:
        if request.headers.get("access_token") not in self.access_tokens:
            return web.json_response({"error": -216, "message": "Access token is invalid"})
        body = await request.json()
        user_id = body.get("recipient", {}).get("user_id")
        message = body.get("message", {})
        text = message.get("text")
        buttons = message.get("attachment", {}).get("payload", {}).get("buttons", [])
        if not user_id or not isinstance(text, str) or not text:
            return web.json_response({"error": -201, "message": "Parameters are invalid"})
        if len(text) > TEXT_LIMIT or len(buttons) > 5:
            return web.json_response({"error": -201, "message": "Message is too long"})
        if any(b.get("type") != "oa.query.hide" or not b.get("payload") for b in buttons):
            return web.json_response({"error": -201, "message": "Button is invalid"})
        if self.fail_sends:
            self.fail_sends -= 1
            return web.Response(status=500, text="Internal Server Error")
        async with self._changed:
            self.messages[str(user_id)].append({"text": text, "buttons": buttons})
            self._changed.notify_all()
        return web.json_response(
            {"error": 0, "message": "Success", "data": {"message_id": f"x{next(_ids)}"}}
        )

    async def _zns(self, request: web.Request) -> web.Response:
        if request.headers.get("access_token") not in self.access_tokens:
            return web.json_response({"error": -216, "message": "Access token is invalid"})
        body = await request.json()
        phone = body.get("phone", "")
        if not re.fullmatch(r"84[1-9][0-9]{8,9}", phone):
            return web.json_response({"error": -108, "message": f"Phone {phone} is invalid"})
        if body.get("template_id") == "0":
            return web.json_response({"error": -1124, "message": f"Quota exceeded for {phone}"})
        self.zns.append(body)
        return web.json_response(
            {"error": 0, "message": "Success", "data": {"msg_id": f"zns{next(_ids)}"}}
        )

    # -- the citizen's side ------------------------------------------------------------

    def event(
        self,
        user_id: str,
        text: str | None = None,
        *,
        event_name: str | None = None,
        msg_id: str | None = None,
        timestamp_ms: int | None = None,
    ) -> dict[str, Any]:
        """A user's event as Zalo sends it; sent "now" by the `clock` given to the fake."""
        if timestamp_ms is None:
            timestamp_ms = int(self.clock().timestamp() * 1000)
        name = event_name or ("user_send_text" if text is not None else "user_send_sticker")
        message: dict[str, Any] = {"msg_id": msg_id or f"msg{next(_ids):06d}"}
        if text is not None:
            message["text"] = text
        return {
            "app_id": APP_ID,
            "user_id_by_app": f"app-{user_id}",
            "event_name": name,
            "sender": {"id": user_id},
            "recipient": {"id": "oa-579745863508352884"},
            "message": message,
            "timestamp": str(timestamp_ms),
        }

    @staticmethod
    def sign(body: bytes, timestamp: str, key: str = OA_SECRET_KEY) -> str:
        digest = hashlib.sha256(APP_ID.encode() + body + timestamp.encode() + key.encode())
        return "mac=" + digest.hexdigest()

    async def deliver(
        self, url: str, event: dict[str, Any], *, signature: str | None = None
    ) -> int:
        """POST an event to the bot's webhook, signed unless `signature` is given."""
        body = json.dumps(event).encode()
        headers = {"Content-Type": "application/json"}
        headers["X-ZEvent-Signature"] = (
            self.sign(body, event["timestamp"]) if signature is None else signature
        )
        async with (
            aiohttp.ClientSession() as http,
            http.post(url, data=body, headers=headers) as response,
        ):
            return response.status

    async def wait_for(self, user_id: str, start: int, needle: str, seconds: float = 10) -> int:
        """Wait until a message containing `needle` is sent to the user at index >= start."""

        def found() -> int | None:
            for index, message in enumerate(self.messages[user_id][start:], start):
                if needle in message["text"]:
                    return index
            return None

        async with asyncio.timeout(seconds), self._changed:
            await self._changed.wait_for(lambda: found() is not None)
        index = found()
        assert index is not None
        return index
