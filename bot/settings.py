"""Every setting of the bot, read once from the environment and `.env`.

One object with a section per concern. `load_settings()` turns any validation
problem into a `ConfigError` whose lines name the environment variable, so a
wrong deployment stops at start-up with a readable message instead of failing
later in the middle of a citizen's survey.

Longer than 450 lines because it is the one settings object: each section is short,
and keeping them together is what lets `.env.example` be checked against it.
"""

from __future__ import annotations

import json
import re
from enum import StrEnum
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.boundary import ascii_int
from bot.clock import WEEKDAYS
from bot.states import DigestFrequency

LANGUAGES = ("vi", "en")
_TELEGRAM_TOKEN = re.compile(r"^\d{3,20}:[A-Za-z0-9_-]{30,100}$")


def _telegram_token_problem(token: str) -> str:
    """What is wrong with a token, in words that never repeat it."""
    if token != token.strip() or token.strip("\"'") != token:
        return "it has spaces or quotes around it"
    bot_id, colon, secret = token.partition(":")
    if not colon:
        return "there is no ':' between the bot number and the secret"
    if not re.fullmatch(r"[0-9]{3,20}", bot_id):
        return f"the part before ':' must be 3-20 digits, it has {len(bot_id)} characters"
    if not re.fullmatch(r"[A-Za-z0-9_-]*", secret):
        return "the secret after ':' has characters other than A-Z a-z 0-9 _ -"
    return f"the secret after ':' has {len(secret)} characters, BotFather gives 30-100"


_WEBHOOK_SECRET = re.compile(r"^[A-Za-z0-9_-]{16,256}$")
_TELEGRAM_USERNAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{4,31}$")
_ZALO_BOT_TOKEN = re.compile(r"^[A-Za-z0-9:_-]{10,200}$")
_ZALO_BOT_SECRET = re.compile(r"^[A-Za-z0-9_-]{8,256}$")
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
    # The bot's @username for deep links and QR codes; empty = ask getMe.
    bot_username: str | None = None
    # Flood limits (Telegram: about 1 message/s per chat with short bursts, about 30/s in all).
    chat_rate: float = Field(default=1.0, gt=0, le=1000)
    chat_burst: int = Field(default=4, ge=1, le=1000)
    global_rate: float = Field(default=30.0, gt=0, le=10_000)
    bulk_rate: float = Field(default=20.0, gt=0, le=10_000)

    @field_validator("bot_token")
    @classmethod
    def _token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value():
            return None
        if value is not None and not _TELEGRAM_TOKEN.match(value.get_secret_value()):
            raise ValueError(
                f"malformed token: {_telegram_token_problem(value.get_secret_value())} "
                "(expected <digits>:<secret> as given by BotFather)"
            )
        return value

    @field_validator("api_base_url", "proxy_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not re.match(r"^(https?|socks5h?)://[^\s]+$", value):
            raise ValueError("must be an http(s):// or socks5:// URL")
        return value.rstrip("/")

    @field_validator("bot_username")
    @classmethod
    def _username(cls, value: str | None) -> str | None:
        value = (value or "").strip().removeprefix("@")
        if not value:
            return None
        if not _TELEGRAM_USERNAME.match(value):
            raise ValueError("must be the bot's username: 5-32 characters of A-Za-z0-9_")
        return value

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


def _blank_to_none(value: Any) -> Any:
    """An empty environment variable means "not set", as in `.env.example`."""
    if isinstance(value, SecretStr) and not value.get_secret_value().strip():
        return None
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _plain_url(value: str | None, default: str) -> str:
    """An http(s) URL without its trailing slash; empty means the default."""
    if not value:
        return default
    if not re.match(r"^https?://[^\s]+$", value):
        raise ValueError("must be an http(s):// URL")
    return value.rstrip("/")


class ZaloBotMode(StrEnum):
    POLLING = "polling"
    WEBHOOK = "webhook"


class ZaloBotSettings(BaseSettings):
    """The Zalo Bot platform (Telegram-like API); ZALO_BOT_TOKEN turns it on."""

    model_config = _section_config("ZALO_BOT_")

    token: SecretStr | None = None
    api_base_url: str = "https://bot-api.zaloplatforms.com/bot"
    mode: ZaloBotMode = ZaloBotMode.POLLING
    webhook_secret: SecretStr | None = None
    poll_timeout: int = Field(default=30, ge=1, le=120)

    @field_validator("token", "webhook_secret", mode="before")
    @classmethod
    def _blank(cls, value: Any) -> Any:
        return _blank_to_none(value)

    @field_validator("token")
    @classmethod
    def _token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not _ZALO_BOT_TOKEN.match(value.get_secret_value()):
            raise ValueError("malformed token (10-200 characters of A-Za-z0-9:_-)")
        return value

    @field_validator("api_base_url", mode="before")
    @classmethod
    def _url(cls, value: str | None) -> str:
        return _plain_url(value, "https://bot-api.zaloplatforms.com/bot")

    @model_validator(mode="after")
    def _webhook_needs_secret(self) -> ZaloBotSettings:
        if self.mode is ZaloBotMode.WEBHOOK and self.token is not None:
            secret = self.webhook_secret.get_secret_value() if self.webhook_secret else ""
            if not _ZALO_BOT_SECRET.match(secret):
                raise ValueError(
                    "ZALO_BOT_WEBHOOK_SECRET: webhook mode needs 8-256 characters of A-Za-z0-9_-"
                )
        return self

    @property
    def enabled(self) -> bool:
        return self.token is not None


class ZaloOASettings(BaseSettings):
    """A Zalo Official Account (OA API v3); ZALO_OA_APP_ID and its secrets turn it on.

    ZALO_OA_REFRESH_TOKEN is only the first refresh token: Zalo's refresh tokens are
    single-use, so the current one lives in the database. Setting a different value
    here later replaces the stored one (e.g. after the old one was revoked).
    """

    model_config = _section_config("ZALO_OA_")

    app_id: str | None = None
    secret_key: SecretStr | None = None
    refresh_token: SecretStr | None = None
    webhook_secret_key: SecretStr | None = None
    api_base_url: str = "https://openapi.zalo.me"
    oauth_url: str = "https://oauth.zaloapp.com/v4/oa/access_token"
    zns_url: str = "https://business.openapi.zalo.me/message/template"
    zns_template_id: str | None = None
    zns_params: Annotated[dict[str, str], NoDecode] = Field(default_factory=dict)
    reply_window_hours: float = Field(default=48, gt=0, le=24 * 30)
    reply_window_messages: int = Field(default=8, ge=1, le=1000)
    token_refresh_margin_minutes: float = Field(default=60, ge=1, le=12 * 60)
    # Signed events older or newer than this are refused (a captured event replayed).
    replay_window_seconds: float = Field(default=600, ge=30, le=86_400)

    @field_validator(
        "app_id",
        "secret_key",
        "refresh_token",
        "webhook_secret_key",
        "zns_template_id",
        mode="before",
    )
    @classmethod
    def _blank(cls, value: Any) -> Any:
        return _blank_to_none(value)

    @field_validator("app_id")
    @classmethod
    def _app_id(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^[0-9]{1,32}$", value.strip()):
            raise ValueError("must be the numeric app id from the Zalo developer console")
        return value.strip() if value else None

    @field_validator("zns_template_id")
    @classmethod
    def _template_id(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^[A-Za-z0-9_-]{1,64}$", value.strip()):
            raise ValueError("must be the id of an approved ZNS template")
        return value.strip() if value else None

    @field_validator("zns_params", mode="before")
    @classmethod
    def _params(cls, value: Any) -> Any:
        if value is None or (isinstance(value, str) and not value.strip()):
            return {}
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                raise ValueError('must be a JSON object, e.g. {"agency_name": "agency"}') from None
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and k and v for k, v in value.items()
        ):
            raise ValueError("must map template parameter names to field names (strings)")
        return value

    @field_validator("api_base_url", mode="before")
    @classmethod
    def _api_url(cls, value: str | None) -> str:
        return _plain_url(value, "https://openapi.zalo.me")

    @field_validator("oauth_url", mode="before")
    @classmethod
    def _oauth_url(cls, value: str | None) -> str:
        return _plain_url(value, "https://oauth.zaloapp.com/v4/oa/access_token")

    @field_validator("zns_url", mode="before")
    @classmethod
    def _zns_url(cls, value: str | None) -> str:
        return _plain_url(value, "https://business.openapi.zalo.me/message/template")

    @model_validator(mode="after")
    def _complete(self) -> ZaloOASettings:
        required = {
            "ZALO_OA_APP_ID": self.app_id,
            "ZALO_OA_SECRET_KEY": self.secret_key,
            "ZALO_OA_REFRESH_TOKEN": self.refresh_token,
        }
        given = [name for name, value in required.items() if value is not None]
        if (given or self.webhook_secret_key is not None) and len(given) < len(required):
            missing = ", ".join(name for name, value in required.items() if value is None)
            raise ValueError(
                f"{missing.split(',')[0]}: the Zalo OA channel needs all of "
                f"{', '.join(required)} (missing: {missing})"
            )
        if self.zns_params and self.zns_template_id is None:
            raise ValueError("ZALO_OA_ZNS_TEMPLATE_ID: needed when ZALO_OA_ZNS_PARAMS is set")
        if self.zns_template_id is not None and self.app_id is None:
            raise ValueError("ZALO_OA_APP_ID: ZNS sends through the Zalo OA, which is not set")
        return self

    @property
    def enabled(self) -> bool:
        return self.app_id is not None

    @property
    def signature_key(self) -> SecretStr | None:
        """The key of webhook signatures: the OA secret key, else the app's secret key."""
        return self.webhook_secret_key or self.secret_key


# --- metrics (GET /metrics) -------------------------------------------------------------
_BEARER_TOKEN = re.compile(r"^[A-Za-z0-9._~+/-]{32,256}=*$")


class MetricsSettings(BaseSettings):
    """Who may read GET /metrics: a bearer token, else only clients on this machine."""

    model_config = _section_config("METRICS_")

    token: SecretStr | None = None

    @field_validator("token", mode="before")
    @classmethod
    def _blank(cls, value: Any) -> Any:
        return _blank_to_none(value)

    @field_validator("token")
    @classmethod
    def _token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not _BEARER_TOKEN.match(value.get_secret_value()):
            raise ValueError(
                "must be 32-256 characters of A-Za-z0-9._~+/- (a bearer token), e.g. "
                '`python -c "import secrets; print(secrets.token_urlsafe(32))"`'
            )
        return value


# --- end of metrics ------------------------------------------------------------------


class SurveySettings(BaseSettings):
    """How the questionnaire is run for citizens."""

    model_config = _section_config("SURVEY_")

    questionnaire: str = "sipas-2017"
    idle_days: float = Field(default=3.0, gt=0, le=365)
    code_length: int = Field(default=10, ge=8, le=32)
    # Guessing and flooding: wrong start codes a chat may send per local day before codes
    # are no longer looked up, and the messages one chat may send in a burst (refilled
    # at that many per window) before the excess is dropped unread.
    start_code_max_failures: int = Field(default=10, ge=1, le=1000)
    flood_messages: int = Field(default=40, ge=5, le=10_000)
    flood_window_seconds: float = Field(default=10.0, gt=0, le=3600)
    # A survey left unfinished this long gets one reminder (inside the platform's free
    # window, never at night); it must come before the survey expires.
    reminder_hours: float = Field(default=20.0, gt=0)

    @model_validator(mode="after")
    def _reminder_before_expiry(self) -> SurveySettings:
        if self.reminder_hours >= self.idle_days * 24:
            raise ValueError(
                "SURVEY_REMINDER_HOURS: must be less than SURVEY_IDLE_DAYS × 24 "
                f"({self.idle_days * 24:g}), or the survey expires before its reminder"
            )
        return self


class ScoringSettings(BaseSettings):
    """How reports judge the indices: the target (points) and the smallest reliable sample."""

    model_config = _section_config("SCORING_")

    target: float = Field(default=80.0, ge=0, le=100)
    min_sample: int = Field(default=30, ge=1)


class DossierSettings(BaseSettings):
    """Dossiers, deadlines and apology notices (issue 6)."""

    model_config = _section_config("DOSSIER_")

    new_date_working_days: int = Field(default=5, ge=1, le=60)
    retention_days: int = Field(default=365, ge=1, le=3650)
    api_max_body_bytes: int = Field(default=1_048_576, ge=1024, le=16 * 1_048_576)
    api_max_records: int = Field(default=1000, ge=1, le=10_000)
    link_max_failures: int = Field(default=5, ge=1, le=100)
    scan_interval_minutes: float = Field(default=5.0, gt=0, le=1440)
    apology_template: str = "tt03-2025"
    template_dir: str | None = None
    pdf_font: str | None = None

    @field_validator("template_dir", "pdf_font", mode="before")
    @classmethod
    def _blank_path(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("apology_template")
    @classmethod
    def _template_name(cls, value: str) -> str:
        if not re.match(r"^[a-z0-9][a-z0-9._-]{0,40}$", value):
            raise ValueError("must be a template file name without .yaml, e.g. tt03-2025")
        return value


class OutboxSettings(BaseSettings):
    """Pacing and retries of proactive messages (apologies, invitations, digests)."""

    model_config = _section_config("OUTBOX_")

    rate_share: float = Field(default=0.5, gt=0, le=1)
    platform_rates: dict[str, float] = Field(
        default_factory=lambda: {"telegram": 30.0, "zalo_bot": 10.0, "zalo_oa": 10.0, "zns": 10.0}
    )
    max_attempts: int = Field(default=8, ge=1, le=100)
    backoff_seconds: float = Field(default=30.0, gt=0, le=86_400)
    backoff_max_seconds: float = Field(default=3600.0, gt=0, le=7 * 86_400)
    lease_seconds: float = Field(default=120.0, ge=5, le=86_400)
    batch_size: int = Field(default=100, ge=1, le=10_000)
    workers: int = Field(default=8, ge=1, le=64)
    # The last resort only: senders wake on new rows (LISTEN/NOTIFY) and on due rows.
    poll_seconds: float = Field(default=30.0, gt=0, le=600)

    @field_validator("platform_rates")
    @classmethod
    def _positive_rates(cls, value: dict[str, float]) -> dict[str, float]:
        if any(rate <= 0 for rate in value.values()):
            raise ValueError("every rate must be above 0 (messages per second)")
        return value

    def rate(self, platform: str) -> float:
        """Messages per second this sender may use on a platform (1/s when unknown)."""
        return self.rate_share * self.platform_rates.get(platform, 1.0)


LINK_SECRET_MIN = 32


class OfficialSettings(BaseSettings):
    """Officials: invitations, default digest schedule, signed export links (issue 7)."""

    model_config = _section_config("OFFICIALS_")

    invite_days: float = Field(default=7.0, gt=0, le=90)
    digest_frequency: str = DigestFrequency.WEEKLY
    digest_weekday: int = 1  # ISO, 1 = Monday; "mon".."sun" accepted
    digest_month_day: int = Field(default=1, ge=1, le=28)
    digest_time: str = "08:00"
    export_link_hours: float = Field(default=24.0, gt=0, le=24 * 30)
    link_secret: SecretStr | None = None
    tick_seconds: float = Field(default=60.0, ge=5, le=3600)
    # `/register` attempts one chat may make per local day: bounds guessing of invitations.
    register_max_attempts: int = Field(default=5, ge=1, le=100)
    # How long a dashboard session opened by a `/web` sign-in link lasts.
    dashboard_session_hours: float = Field(default=8.0, ge=0.25, le=24 * 7)

    @field_validator("link_secret", mode="before")
    @classmethod
    def _blank(cls, value: Any) -> Any:
        return _blank_to_none(value)

    @field_validator("digest_frequency")
    @classmethod
    def _frequency(cls, value: str) -> str:
        value = value.strip().lower()
        if value not in tuple(DigestFrequency):
            raise ValueError("must be weekly, monthly or off")
        return value

    @field_validator("digest_weekday", mode="before")
    @classmethod
    def _weekday(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().lower()[:3] in WEEKDAYS:
            return WEEKDAYS[value.strip().lower()[:3]]
        number = ascii_int(value, 1) if isinstance(value, str) else value
        if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= 7:
            raise ValueError("must be a weekday: 1-7 (1 = Monday) or mon..sun")
        return number

    @field_validator("digest_time")
    @classmethod
    def _time(cls, value: str) -> str:
        match = re.match(r"^([0-9]{1,2}):([0-9]{2})$", value.strip())
        if not match or int(match[1]) > 23 or int(match[2]) > 59:
            raise ValueError("must be a local time HH:MM, e.g. 08:00")
        return f"{int(match[1]):02d}:{match[2]}"

    @property
    def digest_minute(self) -> int:
        hours, minutes = self.digest_time.split(":")
        return int(hours) * 60 + int(minutes)


def check_official_links(settings: Settings) -> None:
    """Refuse to run without a link secret when a channel that needs links is on.

    Zalo Bot and Zalo OA cannot carry files, so `/export` and digests reach them as
    signed links. Checked by `python -m bot run` rather than by `load_settings`, so
    that commands which serve no links (and Zalo set-ups in tests) need no secret.
    """
    if not (settings.zalo_bot.enabled or settings.zalo_oa.enabled):
        return
    secret = settings.officials.link_secret
    if secret is None or len(secret.get_secret_value()) < LINK_SECRET_MIN:
        raise ConfigError(
            f"OFFICIALS_LINK_SECRET: Zalo channels receive exports as signed links, which "
            f"need a secret of at least {LINK_SECRET_MIN} random characters"
        )


class Settings(BaseSettings):
    """The whole configuration; sections hold the settings of one concern each."""

    model_config = _section_config("")

    database_url: str = "sqlite+aiosqlite:///sipas.db"
    # PostgreSQL connections one process keeps; it never opens more (see bot.database).
    database_pool_size: int = Field(default=20, ge=2, le=500)
    http_listen: str | None = None
    public_base_url: str | None = None
    timezone: str = "Asia/Ho_Chi_Minh"
    default_language: str = "vi"
    log_level: str = "INFO"

    telegram: TelegramSettings = Field(default_factory=TelegramSettings)
    survey: SurveySettings = Field(default_factory=SurveySettings)
    dossier: DossierSettings = Field(default_factory=DossierSettings)
    outbox: OutboxSettings = Field(default_factory=OutboxSettings)
    zalo_bot: ZaloBotSettings = Field(default_factory=ZaloBotSettings)
    zalo_oa: ZaloOASettings = Field(default_factory=ZaloOASettings)
    scoring: ScoringSettings = Field(default_factory=ScoringSettings)
    officials: OfficialSettings = Field(default_factory=OfficialSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)

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
        if (
            self.zalo_bot.enabled
            and self.zalo_bot.mode is ZaloBotMode.WEBHOOK
            and not (self.public_base_url and self.http_listen)
        ):
            raise ValueError("PUBLIC_BASE_URL and HTTP_LISTEN: ZALO_BOT_MODE=webhook needs both")
        if self.zalo_oa.enabled and not self.http_listen:
            raise ValueError("HTTP_LISTEN: the Zalo OA channel receives its events by webhook")
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
    "dossier": (DossierSettings, "DOSSIER_"),
    "outbox": (OutboxSettings, "OUTBOX_"),
    "scoring": (ScoringSettings, "SCORING_"),
    "zalo_bot": (ZaloBotSettings, "ZALO_BOT_"),
    "zalo_oa": (ZaloOASettings, "ZALO_OA_"),
    "officials": (OfficialSettings, "OFFICIALS_"),
    "metrics": (MetricsSettings, "METRICS_"),
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
