"""The project's web server, over real loopback HTTP."""

from __future__ import annotations

import asyncio
import socket

import aiohttp
import pytest

from bot import metrics
from bot.database import Database
from bot.settings import ConfigError, load_settings
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


async def test_healthz_reports_a_reachable_database_and_leadership(database: Database):
    """SQLite's one process always leads; on PostgreSQL a process leads once it holds the
    lock, and a second process on the same database does not."""
    leads_at_once = database.is_sqlite
    assert await get_health(database) == (
        200,
        {"status": "ok", "database": True, "leader": leads_at_once},
    )
    assert await database.leadership.check()
    other = Database(database.url)
    try:
        assert await other.leadership.check() is leads_at_once
        assert (await get_health(database))[1]["leader"] is True
        assert (await get_health(other))[1]["leader"] is leads_at_once
    finally:
        await other.dispose()


async def test_healthz_reports_an_unreachable_database():
    unreachable = Database(f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/nothing")
    try:
        assert await get_health(unreachable) == (
            503,
            {"status": "unavailable", "database": False, "leader": False},
        )
    finally:
        await unreachable.dispose()


# -- /metrics ------------------------------------------------------------------------------

METRICS_TOKEN = "metrics-token-for-tests-0123456789abcdef"


async def get_metrics(database: Database, token: str | None, headers: dict) -> tuple[int, str]:
    port = free_port()
    runner = await start_server(build_app(database, token), "127.0.0.1", port)
    try:
        url = f"http://127.0.0.1:{port}/metrics"
        async with aiohttp.ClientSession() as client, client.get(url, headers=headers) as response:
            return response.status, await response.text()
    finally:
        await runner.cleanup()


async def test_metrics_exist_without_any_channel_and_answer_loopback_clients(database: Database):
    metrics.increment("test_web_probe_total")
    status, text = await get_metrics(database, None, {})
    assert status == 200
    assert f"test_web_probe_total {metrics.value('test_web_probe_total')}" in text.splitlines()


@pytest.mark.parametrize("header", ["X-Forwarded-For", "Forwarded", "X-Real-IP"])
async def test_metrics_without_a_token_refuse_what_a_proxy_relays(database: Database, header):
    status, text = await get_metrics(database, None, {header: "203.0.113.9"})
    assert (status, text) == (404, "not found")


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", f"Basic {METRICS_TOKEN}", f"Bearer {METRICS_TOKEN[:-1]}", "Bearer é"],
)
async def test_metrics_with_a_token_need_it(database: Database, authorization):
    headers = {} if authorization is None else {"Authorization": authorization}
    status, text = await get_metrics(database, METRICS_TOKEN, headers)
    assert status == 401 and "_total" not in text


async def test_metrics_with_the_token_answer_from_anywhere(database: Database):
    headers = {"Authorization": f"Bearer {METRICS_TOKEN}", "X-Forwarded-For": "203.0.113.9"}
    status, text = await get_metrics(database, METRICS_TOKEN, headers)
    assert status == 200 and "# TYPE" in text


async def test_a_non_utf8_authorization_header_is_401_not_an_error(database: Database):
    port = free_port()
    runner = await start_server(build_app(database, METRICS_TOKEN), "127.0.0.1", port)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            b"GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \xff\xfe"
            + METRICS_TOKEN.encode()
            + b"\r\nConnection: close\r\n\r\n"
        )
        await writer.drain()
        head = await reader.read(12)
        writer.close()
    finally:
        await runner.cleanup()
    assert head == b"HTTP/1.1 401"


def test_a_short_or_odd_metrics_token_stops_start_up(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    for bad in ("short", "x" * 31, "a b" * 20, "é" * 40):
        monkeypatch.setenv("METRICS_TOKEN", bad)
        with pytest.raises(ConfigError) as error:
            load_settings()
        assert str(error.value).startswith("METRICS_TOKEN: ")
        assert bad not in str(error.value)
    monkeypatch.setenv("METRICS_TOKEN", METRICS_TOKEN)
    assert load_settings().metrics.token.get_secret_value() == METRICS_TOKEN
    monkeypatch.setenv("METRICS_TOKEN", "")
    assert load_settings().metrics.token is None


def test_a_wrong_replay_window_stops_start_up(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    for bad in ("0", "-5", "ten", "1e9"):
        monkeypatch.setenv("ZALO_OA_REPLAY_WINDOW_SECONDS", bad)
        with pytest.raises(ConfigError) as error:
            load_settings()
        assert str(error.value).startswith("ZALO_OA_REPLAY_WINDOW_SECONDS: ")
