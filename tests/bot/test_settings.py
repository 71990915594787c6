"""A wrong setting stops start-up with a line naming the variable, never a traceback."""

from __future__ import annotations

import os

import pytest

from bot.settings import ConfigError, TelegramMode, load_settings, normalise_database_url
from tests.cli_helpers import run_cli

GOOD_TOKEN = "123456789:AAHfiqksKZ8WmR2zSjiQ7_v4TMAKdiHm9T0"


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    """No stray variables from the machine, and no .env file in the working directory."""
    for name in list(os.environ):
        if name.startswith(
            ("TELEGRAM_", "SURVEY_", "DATABASE_URL", "HTTP_LISTEN", "PUBLIC_BASE_URL")
        ):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


def test_defaults_need_no_configuration(clean_env):
    settings = load_settings()
    assert settings.database_url == "sqlite+aiosqlite:///sipas.db"
    assert settings.timezone == "Asia/Ho_Chi_Minh"
    assert settings.default_language == "vi"
    assert not settings.telegram.enabled
    assert settings.survey.questionnaire == "sipas-2017"
    assert settings.survey.idle_days == 3


def test_values_come_from_a_dotenv_file(clean_env, tmp_path):
    (tmp_path / ".env").write_text(f"TELEGRAM_BOT_TOKEN={GOOD_TOKEN}\nSURVEY_IDLE_DAYS=5\n")
    settings = load_settings()
    assert settings.telegram.bot_token.get_secret_value() == GOOD_TOKEN
    assert settings.survey.idle_days == 5


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("TELEGRAM_BOT_TOKEN", "not-a-token", "TELEGRAM_BOT_TOKEN"),
        ("DATABASE_URL", "mysql://localhost/x", "DATABASE_URL"),
        ("TIMEZONE", "Asia/Saigon_Typo", "TIMEZONE"),
        ("DEFAULT_LANGUAGE", "fr", "DEFAULT_LANGUAGE"),
        ("HTTP_LISTEN", "8080", "HTTP_LISTEN"),
        ("SURVEY_IDLE_DAYS", "-1", "SURVEY_IDLE_DAYS"),
        ("SURVEY_REMINDER_HOURS", "0", "SURVEY_REMINDER_HOURS"),
        ("SURVEY_REMINDER_HOURS", "72", "SURVEY_REMINDER_HOURS"),  # = 3 idle days
        ("TELEGRAM_PROXY_URL", "proxy.local:3128", "TELEGRAM_PROXY_URL"),
    ],
)
def test_a_bad_value_is_named(clean_env, variable, value, named):
    clean_env.setenv(variable, value)
    with pytest.raises(ConfigError) as error:
        load_settings()
    assert str(error.value).startswith(f"{named}:")


def test_webhook_mode_without_its_secret_is_refused(clean_env):
    clean_env.setenv("TELEGRAM_BOT_TOKEN", GOOD_TOKEN)
    clean_env.setenv("TELEGRAM_MODE", "webhook")
    with pytest.raises(ConfigError, match="^TELEGRAM_WEBHOOK_SECRET:"):
        load_settings()
    clean_env.setenv("TELEGRAM_WEBHOOK_SECRET", "s" * 32)
    with pytest.raises(ConfigError, match="PUBLIC_BASE_URL and HTTP_LISTEN"):
        load_settings()
    clean_env.setenv("PUBLIC_BASE_URL", "https://bot.example.gov.vn/")
    clean_env.setenv("HTTP_LISTEN", "127.0.0.1:8080")
    settings = load_settings()
    assert settings.telegram.mode is TelegramMode.WEBHOOK
    assert settings.public_base_url == "https://bot.example.gov.vn"
    assert settings.http_host_port == ("127.0.0.1", 8080)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u:p@h/db", "postgresql+asyncpg://u:p@h/db"),
        ("postgresql://h/db", "postgresql+asyncpg://h/db"),
        ("sqlite:///x.db", "sqlite+aiosqlite:///x.db"),
        ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite:///x.db"),
    ],
)
def test_database_urls_are_normalised(given, expected):
    assert normalise_database_url(given) == expected


def test_the_command_line_stops_with_one_line_and_no_traceback(tmp_path):
    env = {"TELEGRAM_BOT_TOKEN": "12345:short", "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"}
    result = run_cli(tmp_path, "migrate", env=env)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "configuration error: TELEGRAM_BOT_TOKEN: malformed token: the secret after ':' has "
        "5 characters, BotFather gives 30-100 (expected <digits>:<secret> as given by BotFather)"
    ]
    assert "12345:short" not in result.stderr
    assert not (tmp_path / "x.db").exists()


@pytest.mark.parametrize(
    ("token", "problem"),
    [
        ("123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef", "there is no ':' between"),
        ("12a45:" + "A" * 35, "the part before ':' must be 3-20 digits, it has 5 characters"),
        ("123456:" + "A" * 30 + "!", "characters other than A-Z a-z 0-9 _ -"),
        (" 123456:" + "A" * 35, "it has spaces or quotes around it"),
        ('"123456:' + "A" * 35 + '"', "it has spaces or quotes around it"),
        ("123456:" + "A" * 29, "the secret after ':' has 29 characters, BotFather gives 30-100"),
    ],
)
def test_a_malformed_telegram_token_says_what_is_wrong(clean_env, token, problem):
    clean_env.setenv("TELEGRAM_BOT_TOKEN", token)
    with pytest.raises(ConfigError) as failure:
        load_settings()
    message = str(failure.value)
    assert message.startswith("TELEGRAM_BOT_TOKEN: malformed token: ")
    assert problem in message
    assert "A" * 29 not in message  # the token itself is never repeated


def test_the_reminder_comes_after_20_hours_and_before_expiry(clean_env):
    assert load_settings().survey.reminder_hours == 20
    clean_env.setenv("SURVEY_IDLE_DAYS", "0.5")
    with pytest.raises(ConfigError) as error:
        load_settings()
    assert "SURVEY_REMINDER_HOURS" in str(error.value) and "SURVEY_IDLE_DAYS" in str(error.value)
