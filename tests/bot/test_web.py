"""The project's web server, over real loopback HTTP."""

from __future__ import annotations

import socket

import aiohttp

from bot.database import Database
from bot.web import build_app, start_server


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def get_health(database: Database) -> tuple[int, dict]:
    port = free_port()
    runner = await start_server(build_app(database), "127.0.0.1", port)
    try:
        url = f"http://127.0.0.1:{port}/healthz"
        async with aiohttp.ClientSession() as client, client.get(url) as response:
            return response.status, await response.json()
    finally:
        await runner.cleanup()


async def test_healthz_reports_a_reachable_database(database: Database):
    assert await get_health(database) == (200, {"status": "ok", "database": True})


async def test_healthz_reports_an_unreachable_database():
    unreachable = Database(f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/nothing")
    try:
        assert await get_health(unreachable) == (503, {"status": "unavailable", "database": False})
    finally:
        await unreachable.dispose()
