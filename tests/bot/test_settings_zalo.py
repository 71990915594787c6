"""Zalo settings: each channel is on only when complete, and a wrong combination is named."""

from __future__ import annotations

import os

import aiohttp
import pytest

from bot import cli, metrics
from bot.cli.compose import build_channels
from bot.database import Database
from bot.settings import ConfigError, TelegramSettings, ZaloBotMode, load_settings
from tests.bot.channels.zalo_harness import (
    bot_settings,
    make_settings,
    oa_settings,
    prompt,
    running,
)
from tests.builders import FakeClock, make_code, make_processor, seed_catalog
from tests.fakes.zalo_bot import FakeZaloBot
from tests.fakes.zalo_oa import FakeZaloOA

BOT_TOKEN = "2837461928:zalo-bot-token_0123456789abcdef"
OA = {
    "ZALO_OA_APP_ID": "4321987654321",
    "ZALO_OA_SECRET_KEY": "app-secret-key-value",
    "ZALO_OA_REFRESH_TOKEN": "first-refresh-token-value",
    "HTTP_LISTEN": "127.0.0.1:8080",
}


@pytest.fixture
def env(monkeypatch, tmp_path):
    """No stray Zalo variables from the machine, and no .env file in the working directory."""
    for name in list(os.environ):
        if name.startswith(("ZALO_", "TELEGRAM_", "HTTP_LISTEN", "PUBLIC_BASE_URL")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


def test_both_are_off_by_default_and_blank_values_mean_unset(env):
    env.setenv("ZALO_BOT_TOKEN", "")
    env.setenv("ZALO_OA_APP_ID", " ")
    env.setenv("ZALO_OA_ZNS_PARAMS", "")
    settings = load_settings()
    assert not settings.zalo_bot.enabled and not settings.zalo_oa.enabled
    assert settings.zalo_bot.api_base_url == "https://bot-api.zaloplatforms.com/bot"
    assert settings.zalo_oa.api_base_url == "https://openapi.zalo.me"
    assert settings.zalo_oa.oauth_url == "https://oauth.zaloapp.com/v4/oa/access_token"
    assert settings.zalo_oa.zns_url == "https://business.openapi.zalo.me/message/template"


def test_complete_settings_turn_each_channel_on(env):
    env.setenv("ZALO_BOT_TOKEN", BOT_TOKEN)
    for name, value in OA.items():
        env.setenv(name, value)
    env.setenv("ZALO_OA_ZNS_TEMPLATE_ID", "231456")
    env.setenv("ZALO_OA_ZNS_PARAMS", '{"ten_co_quan": "agency"}')
    settings = load_settings()
    assert settings.zalo_bot.enabled and settings.zalo_bot.mode is ZaloBotMode.POLLING
    assert settings.zalo_oa.enabled and settings.zalo_oa.zns_params == {"ten_co_quan": "agency"}
    # The webhook signature key falls back to the app's secret key.
    assert settings.zalo_oa.signature_key.get_secret_value() == OA["ZALO_OA_SECRET_KEY"]


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"ZALO_BOT_TOKEN": "has spaces in it"}, "ZALO_BOT_TOKEN"),
        ({"ZALO_BOT_TOKEN": BOT_TOKEN, "ZALO_BOT_MODE": "webhook"}, "ZALO_BOT_WEBHOOK_SECRET"),
        (
            {
                "ZALO_BOT_TOKEN": BOT_TOKEN,
                "ZALO_BOT_MODE": "webhook",
                "ZALO_BOT_WEBHOOK_SECRET": "short",
            },
            "ZALO_BOT_WEBHOOK_SECRET",
        ),
        (
            {
                "ZALO_BOT_TOKEN": BOT_TOKEN,
                "ZALO_BOT_MODE": "webhook",
                "ZALO_BOT_WEBHOOK_SECRET": "long-enough-secret",
            },
            "PUBLIC_BASE_URL",
        ),
        ({"ZALO_BOT_MODE": "push"}, "ZALO_BOT_MODE"),
        ({"ZALO_BOT_API_BASE_URL": "bot-api.example"}, "ZALO_BOT_API_BASE_URL"),
        ({"ZALO_OA_APP_ID": "4321987654321"}, "ZALO_OA_SECRET_KEY"),
        ({"ZALO_OA_REFRESH_TOKEN": "x"}, "ZALO_OA_APP_ID"),
        ({"ZALO_OA_WEBHOOK_SECRET_KEY": "x"}, "ZALO_OA_APP_ID"),
        ({**OA, "ZALO_OA_APP_ID": "my-oa"}, "ZALO_OA_APP_ID"),
        ({**OA, "HTTP_LISTEN": ""}, "HTTP_LISTEN"),
        ({**OA, "ZALO_OA_ZNS_PARAMS": "{not json"}, "ZALO_OA_ZNS_PARAMS"),
        ({**OA, "ZALO_OA_ZNS_PARAMS": '{"a": 1}'}, "ZALO_OA_ZNS_PARAMS"),
        ({**OA, "ZALO_OA_ZNS_PARAMS": '{"a": "b"}'}, "ZALO_OA_ZNS_TEMPLATE_ID"),
        ({"ZALO_OA_ZNS_TEMPLATE_ID": "231456"}, "ZALO_OA_APP_ID"),
        ({**OA, "ZALO_OA_REPLY_WINDOW_MESSAGES": "0"}, "ZALO_OA_REPLY_WINDOW_MESSAGES"),
    ],
)
def test_a_wrong_or_partial_combination_is_named(env, variables, named):
    for name, value in variables.items():
        env.setenv(name, value)
    with pytest.raises(ConfigError) as error:
        load_settings()
    assert str(error.value).startswith(named), str(error.value)


def test_start_up_stops_with_the_variable_named_and_no_secret_shown(env, capsys):
    env.setenv("ZALO_OA_APP_ID", OA["ZALO_OA_APP_ID"])
    env.setenv("ZALO_OA_REFRESH_TOKEN", OA["ZALO_OA_REFRESH_TOKEN"])
    assert cli.main(["migrate"]) == 2
    err = capsys.readouterr().err
    assert "ZALO_OA_SECRET_KEY" in err and OA["ZALO_OA_REFRESH_TOKEN"] not in err


def test_every_zalo_secret_is_in_the_redaction_list(env):
    env.setenv("ZALO_BOT_TOKEN", BOT_TOKEN)
    env.setenv("ZALO_BOT_WEBHOOK_SECRET", "bot-webhook-secret")
    for name, value in OA.items():
        env.setenv(name, value)
    env.setenv("ZALO_OA_WEBHOOK_SECRET_KEY", "oa-webhook-secret-key")
    secrets = cli._secrets(load_settings())
    for value in (
        BOT_TOKEN,
        "bot-webhook-secret",
        OA["ZALO_OA_SECRET_KEY"],
        OA["ZALO_OA_REFRESH_TOKEN"],
        "oa-webhook-secret-key",
    ):
        assert value in secrets


async def test_telegram_zalo_bot_and_zalo_oa_share_one_server(database: Database):
    """Every channel is built on the one web app; both Zalo channels answer on it."""
    catalog = await seed_catalog(database)
    clock = FakeClock()
    async with FakeZaloBot() as bot_fake, FakeZaloOA(clock) as oa_fake:
        settings = make_settings(
            database,
            bot=bot_settings(bot_fake, "webhook"),
            oa=oa_settings(oa_fake),
            telegram=TelegramSettings(
                bot_token="123456789:AAH-fake-token-for-tests-only_0123456789",
                api_base_url="http://127.0.0.1:9/bot",
                mode="webhook",
                webhook_secret="telegram-webhook-secret-0123",
            ),
        )
        from bot.web import build_app

        app = build_app(database)
        channels = build_channels(settings, make_processor(database), app)
        assert [channel.name for channel in channels] == ["telegram", "zalo_bot", "zalo_oa"]
        paths = {resource.canonical for resource in app.router.resources()}
        assert {"/telegram/webhook", "/zalo-bot/webhook", "/zalo-oa/webhook"} <= paths

        async with running(database, settings, clock) as both:
            code_bot = await make_code(database, catalog)
            code_oa = await make_code(database, catalog)
            assert await bot_fake.post_webhook(bot_fake.text_update("c1", code_bot)) == 200
            assert await oa_fake.deliver(both.oa_webhook, oa_fake.event("u1", code_oa)) == 200
            await bot_fake.wait_for("c1", 0, prompt(0))
            await oa_fake.wait_for("u1", 0, prompt(0))
            forged = bot_fake.text_update("c1", "5")
            assert await bot_fake.post_webhook(forged, secret="forged-secret") == 403
            async with (
                aiohttp.ClientSession() as http,
                http.get(f"{settings.public_base_url}/metrics") as response,
            ):
                assert response.status == 200
                lines = (await response.text()).splitlines()
            rejected = metrics.value("zalo_bot_webhook_rejected_total")
            assert rejected >= 1 and f"zalo_bot_webhook_rejected_total {rejected}" in lines
