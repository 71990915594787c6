"""The one way our Zalo clients POST and read a JSON answer.

Transport failures become `TransportError` carrying only the error's class name:
the text of some aiohttp errors holds the URL, and Zalo Bot URLs hold the token.
"""

from __future__ import annotations

from typing import Any

import aiohttp

TIMED_OUT = "timed out"  # the reason of a call that may have arrived all the same


class TransportError(Exception):
    """No usable HTTP exchange took place; `reason` is safe to log."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


async def post_for_json(
    http: aiohttp.ClientSession, url: str, *, seconds: float, **request: Any
) -> tuple[int, Any]:
    """(HTTP status, decoded JSON body or None when the body is not JSON)."""
    try:
        async with http.post(
            url, timeout=aiohttp.ClientTimeout(total=seconds), **request
        ) as response:
            try:
                body = await response.json(content_type=None)
            except ValueError:
                body = None
            return response.status, body
    except TimeoutError:
        raise TransportError(TIMED_OUT) from None
    except aiohttp.ClientError as error:
        raise TransportError(type(error).__name__) from None
