"""The server the bot runs (`build_web_app`) serves the reports API beside the dossier API."""

from __future__ import annotations

import aiohttp

from bot.cli.compose import build_web_app
from bot.web import start_server
from bot.web.reports_api import DOSSIERS_PATH, PATH
from tests.bot.web.test_dossiers_api import free_port
from tests.builders import QUESTIONNAIRES
from tests.dossier_helpers import dossier_settings


async def test_the_reports_routes_are_wired(database):
    app = build_web_app(database, dossier_settings(database), QUESTIONNAIRES)
    port = free_port()
    runner = await start_server(app, "127.0.0.1", port)
    try:
        async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{port}") as client:
            for path in (PATH, DOSSIERS_PATH):
                response = await client.get(path)
                assert (response.status, await response.json()) == (401, {"error": "unauthorized"})
            assert (await client.post(PATH)).status == 405
            assert (await client.post("/api/v1/dossiers")).status == 401
    finally:
        await runner.cleanup()
