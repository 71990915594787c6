"""Every setting of the bot, read once from the environment and `.env`.

One object with a section per concern. `load_settings()` turns any validation
problem into a `ConfigError` whose lines name the environment variable, so a
wrong deployment stops at start-up with a readable message instead of failing
later in the middle of a citizen's survey.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

LANGUAGES = ("vi", "en")
_TELEGRAM_TOKEN = re.compile(r"^\d{3,20}:[A-Za-z0-9_-]{30,100}$")
_WEBHOOK_SECRET = re.compile(r"^[A-Za-z0-9_-]{16,256}$")
_HOST_PORT = re.compile(r"^(?P<host>\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(?P<port>\d{1,5})$")


class ConfigError(Exception):
    """A setting is wrong; the message has one line per problem, each naming its variable."""


def _section_config(prefix: str) -> SettingsConfigDict:
    return SettingsConfigDict(
        env_prefix=prefix, env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )


def normalise_database_url(url: str) -> str:
    """Accept the URL forms operators paste and pick the async driver for each."""
    url = url.strip()
    for plain, async_form in (
        ("postgres://", "postgresql+asyncpg://"),
        ("postgresql://", "postgresql+asyncpg://"),
        ("postgresql+psycopg://", "postgresql+asyncpg://"),
        ("sqlite://", "sqlite+aiosqlite://"),
    ):
        if url.startswith(plain):
            return async_form + url[len(plain) :]
    if url.startswith(("postgresql+asyncpg://", "sqlite+aiosqlite://")):
        return url
    raise ValueError("must start with sqlite:// or postgresql://")


class TelegramMode(StrEnum):
    POLLING = "polling"
    WEBHOOK = "webhook"


class TelegramSettings(BaseSettings):
    """Telegram Bot API access. Blocked by Vietnamese ISPs: deployments there set a proxy."""

    model_config = _section_config("TELEGRAM_")

    bot_token: SecretStr | None = None
    api_base_url: str = "https://api.telegram.org/bot"
    proxy_url: str | None = None
    mode: TelegramMode = TelegramMode.POLLING
    webhook_secret: SecretStr | None = None

    @field_validator("bot_token")
    @classmethod
    def _token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value():
            return None
        if value is not None and not _TELEGRAM_TOKEN.match(value.get_secret_value()):
            raise ValueError("malformed token (expected <digits>:<secret> as given by BotFather)")
        return value

    @field_validator("api_base_url", "proxy_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not re.match(r"^(https?|socks5h?)://[^\s]+$", value):
            raise ValueError("must be an http(s):// or socks5:// URL")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _webhook_needs_secret(self) -> TelegramSettings:
        if self.api_base_url is None:
            self.api_base_url = "https://api.telegram.org/bot"
        if self.mode is TelegramMode.WEBHOOK and self.bot_token is not None:
            secret = self.webhook_secret.get_secret_value() if self.webhook_secret else ""
            if not _WEBHOOK_SECRET.match(secret):
                raise ValueError(
                    "TELEGRAM_WEBHOOK_SECRET: webhook mode needs 16-256 characters of A-Za-z0-9_-"
                )
        return self

    @property
    def enabled(self) -> bool:
        return self.bot_token is not None


class SurveySettings(BaseSettings):
    """How the questionnaire is run for citizens."""

    model_config = _section_config("SURVEY_")

    questionnaire: str = "sipas-2017"
    idle_days: float = Field(default=3.0, gt=0, le=365)
    code_length: int = Field(default=10, ge=8, le=32)


class Settings(BaseSettings):
    """The whole configuration; sections hold the settings of one concern each."""

    model_config = _section_config("")

    database_url: str = "sqlite+aiosqlite:///sipas.db"
    http_listen: str | None = None
    public_base_url: str | None = None
    timezone: str = "Asia/Ho_Chi_Minh"
    default_language: str = "vi"
    log_level: str = "INFO"

    telegram: TelegramSettings = Field(default_factory=TelegramSettings)
    survey: SurveySettings = Field(default_factory=SurveySettings)

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        return normalise_database_url(value)

    @field_validator("http_listen")
    @classmethod
    def _host_port(cls, value: str | None) -> str | None:
        if not value:
            return None
        match = _HOST_PORT.match(value.strip())
        if not match or not 0 < int(match["port"]) < 65536:
            raise ValueError("must be host:port, e.g. 127.0.0.1:8080")
        return value.strip()

    @field_validator("public_base_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("must be an absolute http(s):// URL")
        return value.rstrip("/")

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone {value!r}") from error
        return value

    @field_validator("default_language")
    @classmethod
    def _language(cls, value: str) -> str:
        if value not in LANGUAGES:
            raise ValueError(f"must be one of {', '.join(LANGUAGES)}")
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        value = value.upper()
        if value not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
        return value

    @model_validator(mode="after")
    def _webhook_needs_public_url(self) -> Settings:
        if (
            self.telegram.enabled
            and self.telegram.mode is TelegramMode.WEBHOOK
            and not (self.public_base_url and self.http_listen)
        ):
            raise ValueError("PUBLIC_BASE_URL and HTTP_LISTEN: webhook mode needs both")
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def http_host_port(self) -> tuple[str, int] | None:
        if self.http_listen is None:
            return None
        host, _, port = self.http_listen.rpartition(":")
        return host.strip("[]"), int(port)


_SECTIONS: dict[str, tuple[type[BaseSettings], str]] = {
    "telegram": (TelegramSettings, "TELEGRAM_"),
    "survey": (SurveySettings, "SURVEY_"),
}


def _describe(error: ValidationError, prefix: str) -> list[str]:
    lines = []
    for item in error.errors():
        message = str(item["msg"]).removeprefix("Value error, ")
        field = ".".join(str(part) for part in item["loc"] if not isinstance(part, int))
        if ":" in message.split(" ")[0]:  # the message already names its variable
            lines.append(message)
        elif field:
            lines.append(f"{prefix}{field.upper()}: {message}")
        else:
            lines.append(message)
    return lines


def load_settings(**overrides: Any) -> Settings:
    """Read and check every setting; raise ConfigError naming each bad variable."""
    problems: list[str] = []
    sections: dict[str, BaseModel] = {}
    for name, (section_class, prefix) in _SECTIONS.items():
        if name in overrides:
            continue
        try:
            sections[name] = section_class()
        except ValidationError as error:
            problems.extend(_describe(error, prefix))
    if problems:
        raise ConfigError("\n".join(problems))
    try:
        return Settings(**sections, **overrides)
    except ValidationError as error:
        raise ConfigError("\n".join(_describe(error, ""))) from None
