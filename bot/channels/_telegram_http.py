"""How PTB's Bot API calls travel: aiohttp by default, httpx for a SOCKS proxy.

PTB's HTTPXRequest costs about 1 ms of CPU per call, and 2-3 ms once dozens of
calls are in flight (httpcore scans its whole pool for every request); the same
call over aiohttp costs about 0.45 ms (bench/telegram_throughput.py, and a
micro-benchmark against the fake server). Three calls per answer make that the
largest cost of the bot, so calls go over aiohttp, which also speaks to HTTP(S)
proxies. A SOCKS proxy (socks5://, which aiohttp cannot use) goes through PTB's
HTTPXRequest(proxy=…), which needs the `socksio` package (python-telegram-bot[socks]).

Both count the messages they carry in `sipas_sends_total` (bot.metrics). Both
request classes alone know the token: PTB builds URLs with a placeholder
(see _telegram_api), swapped for the real token as the request leaves, so no
PTB log line or error can hold it.
"""

from __future__ import annotations

from typing import Any

import aiohttp
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, HTTPXRequest, RequestData

from bot import metrics

PLACEHOLDER_TOKEN = "0:token-withheld"

CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 5.0
WRITE_TIMEOUT = 5.0
POOL_TIMEOUT = 10.0  # waiting for a free connection is not a failure of Telegram's
MEDIA_WRITE_TIMEOUT = 20.0


class AiohttpRequest(BaseRequest):
    """PTB's BaseRequest over one aiohttp session with at most `connections` connections."""

    def __init__(
        self,
        token: str,
        *,
        connections: int,
        proxy: str | None = None,
        read_timeout: float | None = READ_TIMEOUT,
    ) -> None:
        self._token = token
        self._connections = connections
        self._proxy = proxy
        self._read_timeout = read_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._connections),
                headers={"User-Agent": self.USER_AGENT},
            )

    async def shutdown(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if self._session is None:
            raise RuntimeError("AiohttpRequest is not initialized")
        files = request_data.multipart_data if request_data else None
        data: Any = request_data.json_parameters if request_data else None
        if files:
            form = aiohttp.FormData()
            for name, value in (data or {}).items():
                form.add_field(name, value)
            for name, (file_name, content, mime_type) in files.items():
                form.add_field(name, content, filename=file_name, content_type=mime_type)
            data = form
        write = _value(write_timeout, MEDIA_WRITE_TIMEOUT if files else WRITE_TIMEOUT)
        read = _value(read_timeout, self._read_timeout)
        connect = _value(connect_timeout, CONNECT_TIMEOUT)
        pool = _value(pool_timeout, POOL_TIMEOUT)
        timeout = aiohttp.ClientTimeout(
            total=None,
            connect=None if pool is None or connect is None else pool + connect,
            sock_connect=connect,
            sock_read=_longest(read, write),
        )
        try:
            async with self._session.request(
                method,
                url.replace(PLACEHOLDER_TOKEN, self._token),
                data=data,
                timeout=timeout,
                proxy=self._proxy,
            ) as response:
                body = await response.read()
        except (TimeoutError, aiohttp.ServerTimeoutError) as error:
            _count(url, "uncertain")
            raise TimedOut(f"aiohttp: {type(error).__name__}") from None
        except aiohttp.ClientError as error:
            _count(url, "failed")
            detail = str(error).replace(self._token, "[token]")
            raise NetworkError(f"aiohttp.{type(error).__name__}: {detail}") from None
        _count(url, _outcome(response.status))
        return response.status, body


class HttpxTokenRequest(HTTPXRequest):
    """PTB's HTTPXRequest, for SOCKS proxies; the token is swapped in as the request leaves."""

    def __init__(self, token: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._token = token

    async def do_request(self, url: str, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        try:
            status, body = await super().do_request(
                url.replace(PLACEHOLDER_TOKEN, self._token), *args, **kwargs
            )
        except TimedOut:
            _count(url, "uncertain")
            raise
        except NetworkError:
            _count(url, "failed")
            raise
        _count(url, _outcome(status))
        return status, body


def _outcome(status: int) -> str:
    return "sent" if status == 200 else "429" if status == 429 else "failed"


def _count(url: str, outcome: str) -> None:
    """Count a message sent (sendMessage, sendPhoto, …), not other calls nor chat actions."""
    endpoint = url.rsplit("/", 1)[-1]
    if endpoint.startswith("send") and endpoint != "sendChatAction":
        metrics.count_send("telegram", outcome)


def make_request(
    token: str, proxy: str | None, *, connections: int, read_timeout: float = READ_TIMEOUT
) -> BaseRequest:
    if proxy is not None and proxy.startswith("socks"):
        return HttpxTokenRequest(
            token,
            connection_pool_size=connections,
            proxy=proxy,
            read_timeout=read_timeout,
            pool_timeout=POOL_TIMEOUT,
        )
    return AiohttpRequest(token, connections=connections, proxy=proxy, read_timeout=read_timeout)


def _value(given: Any, default: float | None) -> float | None:
    """PTB passes DEFAULT_NONE for "use your default", None for "no timeout"."""
    return default if isinstance(given, type(BaseRequest.DEFAULT_NONE)) else given


def _longest(*timeouts: float | None) -> float | None:
    """aiohttp has one socket timeout for reading and writing: the longer one."""
    return None if None in timeouts else max(t for t in timeouts if t is not None)
