"""The running bot put together: the one place where use cases, channels and routes meet.

Dependencies run one way (design.md): the command line builds the channels, the web
server and the scheduler; they use the delivery path and the inbound path; the inbound
path calls the use cases it is *given* here (`USE_CASES`), so `bot.inbound` imports no
handler and a new use case is wired in this module and `handlers.router` alone.

Only `run` (and tests) import this module: it pulls in every platform's library, which
the other commands never need.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime

from aiohttp import web

from bot.channels import Channel, telegram, zalo_bot, zalo_oa
from bot.clock import Clock, utc_now
from bot.database import Database
from bot.i18n import Translator
from bot.inbound import InboundProcessor, UseCases
from bot.jobs import digests
from bot.outbox import OutboxSender, ZnsGateway
from bot.questionnaire import Questionnaire
from bot.settings import Settings
from bot.web import build_app, dashboard
from bot.web.dossiers_api import add_dossier_routes
from bot.web.files import add_official_routes
from bot.web.reports_api import add_reports_routes
from handlers import router
from handlers.dossiers import apologies
from handlers.survey import reminders
from handlers.survey.store import expire_idle_sessions

USE_CASES = UseCases(handle=router.handle, expire_idle=expire_idle_sessions)

ChannelBuilder = Callable[[Settings, InboundProcessor, web.Application], Channel | None]

# Every platform's builder, in start-up order; each returns None when its settings leave
# it off, and may add its webhook route to the web application before the server starts.
CHANNEL_BUILDERS: tuple[ChannelBuilder, ...] = (telegram.build, zalo_bot.build, zalo_oa.build)


def build_processor(
    database: Database,
    settings: Settings,
    questionnaires: dict[str, Questionnaire],
    translator: Translator,
    clock: Clock = utc_now,
) -> InboundProcessor:
    return InboundProcessor(
        database, settings, questionnaires, translator, clock, use_cases=USE_CASES
    )


def build_web_app(
    database: Database, settings: Settings, questionnaires: dict[str, Questionnaire]
) -> web.Application:
    """The server's routes, except the channels' webhooks (their builders add those)."""
    app = build_app(database, settings.metrics.token)
    add_dossier_routes(app, database, settings)
    add_reports_routes(app, database, settings, questionnaires)
    add_official_routes(app, database, settings, questionnaires)
    dashboard.install(app, database, settings, questionnaires)
    return app


def build_channels(
    settings: Settings, processor: InboundProcessor, web_app: web.Application
) -> list[Channel]:
    built = (build(settings, processor, web_app) for build in CHANNEL_BUILDERS)
    return [channel for channel in built if channel is not None]


class _ZnsAdapter:
    """Our `ZnsGateway` over the Zalo OA channel's ZNS client (`send(phone, values, id)`)."""

    def __init__(self, client):
        self.client = client

    async def send_template(self, phone, fields, tracking_id) -> None:
        await self.client.send(phone, fields, tracking_id)


def zns_from_channels(channels: Iterable) -> ZnsGateway | None:
    """ZNS when a running channel offers a configured client as `zns` (the Zalo OA one)."""
    for channel in channels:
        client = getattr(channel, "zns", None)
        if client is not None and callable(getattr(client, "send", None)):
            return _ZnsAdapter(client)
    return None


def build_sender(
    database: Database,
    settings: Settings,
    channels: Iterable[Channel],
    translator: Translator,
    clock: Callable[[], datetime] = utc_now,
    *,
    questionnaires: Mapping[str, Questionnaire] | None = None,
) -> OutboxSender:
    """The outbox sender, with every feature's renderers (apologies, invitations, digests,
    and survey reminders when the questionnaires are given)."""
    channels = list(channels)
    return OutboxSender(
        database,
        settings.outbox,
        {channel.name: channel for channel in channels},
        {
            **apologies.renderers(translator, settings.dossier.template_dir),
            **digests.renderers(settings, translator, clock),
            **(
                reminders.renderers(settings, translator, questionnaires, clock)
                if questionnaires
                else {}
            ),
        },
        zns=zns_from_channels(channels),
        clock=clock,
        default_language=settings.default_language,
    )
