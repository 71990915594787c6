"""A fake Zalo Bot API server on 127.0.0.1, speaking real HTTP and JSON.

It checks what the real one is documented to check (token in the path, 2,000
characters per text, 8-256 character webhook secret), records what the bot sends,
serves updates to getUpdates (one per call, 408 when none came within the
timeout), and delivers updates to the bot's webhook with the secret header.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import defaultdict
from typing import Any

import aiohttp
from aiohttp import web

TOKEN = "1234567890:fake-zalo-bot-token_abcdefghijklmnop"
TEXT_LIMIT = 2000
_ids = itertools.count(1)


class FakeZaloBot:
    def __init__(self, token: str = TOKEN):
        self.token = token
        self.calls: list[str] = []
        self.sent: dict[str, list[str]] = defaultdict(list)
        self.webhook: dict[str, str] | None = None
        self.updates: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.fail_sends = 0  # answer this many sendMessage calls with an error
        self.fail_status = 500  # … this HTTP status (403: a refusal that would repeat)
        self.longest_poll = 0.2  # seconds
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    async def __aenter__(self) -> FakeZaloBot:
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)  # paths hold the token
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    # -- the API -----------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _error(401, "Unauthorized", status=401)
        method = request.match_info["method"]
        self.calls.append(method)
        try:
            body = await request.json() if request.can_read_body else {}
        except ValueError:
            return _error(400, "Bad Request: body is not JSON")
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            return _error(404, "Not Found: unknown method", status=404)
        return await handler(body)

    async def _m_getMe(self, body: dict) -> web.Response:
        return _ok({"id": "9001", "account_name": "bot.sipas", "display_name": "SIPAS"})

    async def _m_sendMessage(self, body: dict) -> web.Response:
        chat_id, text = body.get("chat_id"), body.get("text")
        if not chat_id or not isinstance(text, str) or not text:
            return _error(400, "Bad Request: chat_id and text are required")
        if len(text) > TEXT_LIMIT:
            return _error(400, "Bad Request: text is too long")
        if self.fail_sends:
            self.fail_sends -= 1
            return _error(self.fail_status, "Internal Server Error", status=self.fail_status)
        async with self._changed:
            self.sent[str(chat_id)].append(text)
            self._changed.notify_all()
        return _ok({"message_id": f"m{next(_ids)}", "date": 0})

    async def _m_sendPhoto(self, body: dict) -> web.Response:
        return _ok({"message_id": f"m{next(_ids)}"})

    async def _m_setWebhook(self, body: dict) -> web.Response:
        url, secret = body.get("url"), body.get("secret_token")
        if not isinstance(url, str) or not isinstance(secret, str) or not 8 <= len(secret) <= 256:
            return _error(400, "Bad Request: url and an 8-256 character secret_token needed")
        self.webhook = {"url": url, "secret_token": secret}
        return _ok(True)

    async def _m_deleteWebhook(self, body: dict) -> web.Response:
        self.webhook = None
        return _ok(True)

    async def _m_getUpdates(self, body: dict) -> web.Response:
        if self.webhook is not None:
            return _error(409, "Conflict: a webhook is set")
        try:
            # Zalo may end a long poll early; ending it soon keeps the tests' shutdown quick.
            wait = min(body.get("timeout", 30), self.longest_poll)
            update = await asyncio.wait_for(self.updates.get(), timeout=wait)
        except TimeoutError:
            return _error(408, "Request Timeout", status=408)
        return _ok(update)

    # -- the citizen's side ------------------------------------------------------------

    @staticmethod
    def text_update(chat_id: str, text: str, message_id: str | None = None) -> dict[str, Any]:
        return _update("message.text.received", chat_id, message_id, text=text)

    @staticmethod
    def sticker_update(chat_id: str) -> dict[str, Any]:
        return _update("message.sticker.received", chat_id, None, sticker="s-123")

    async def post_webhook(
        self, update: dict[str, Any], *, secret: str | None = None, wrap: bool = False
    ) -> int:
        """Deliver an update the way Zalo does; the bot's HTTP status."""
        assert self.webhook is not None, "the bot has not set a webhook"
        headers = {}
        secret = self.webhook["secret_token"] if secret is None else secret
        if secret:
            headers["X-Bot-Api-Secret-Token"] = secret
        payload = {"ok": True, "result": update} if wrap else update
        async with (
            aiohttp.ClientSession() as http,
            http.post(self.webhook["url"], json=payload, headers=headers) as response,
        ):
            return response.status

    async def wait_for(self, chat_id: str, start: int, needle: str, seconds: float = 10) -> int:
        """Wait until a text containing `needle` is sent to the chat at index >= start."""

        def found() -> int | None:
            for index, text in enumerate(self.sent[chat_id][start:], start):
                if needle in text:
                    return index
            return None

        async with asyncio.timeout(seconds), self._changed:
            await self._changed.wait_for(lambda: found() is not None)
        index = found()
        assert index is not None
        return index


def _update(event: str, chat_id: str, message_id: str | None, **content: str) -> dict[str, Any]:
    return {
        "event_name": event,
        "message": {
            "message_id": message_id or f"u{next(_ids)}",
            "from": {"id": chat_id, "display_name": "Công dân", "is_bot": False},
            "chat": {"id": chat_id, "chat_type": "PRIVATE"},
            "date": 1764000000000,
            **content,
        },
    }


def _ok(result: Any) -> web.Response:
    return web.json_response({"ok": True, "result": result})


def _error(code: int, description: str, status: int = 200) -> web.Response:
    return web.json_response(
        {"ok": False, "error_code": code, "description": description}, status=status
    )
