"""`python -m bot …`: the composition root, where settings, storage and channels meet.

Every command reads the settings first, so a wrong setting stops it with one
line naming the variable (exit status 2) before anything is touched. Commands
that use the database migrate it first: the schema is never created any other way.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

from sqlalchemy.exc import InterfaceError, OperationalError

from bot import migrate
from bot.catalog import import_agencies, import_services, is_empty
from bot.clock import utc_now
from bot.database import Database
from bot.i18n import Translator
from bot.inbound import InboundProcessor
from bot.logs import configure_logging
from bot.models import Agency, Service
from bot.questionnaire import QuestionnaireError, load_questionnaires
from bot.settings import ConfigError, Settings, load_settings
from bot.tabular import TableError, print_import_report
from handlers.survey.codes import CodeError
from handlers.survey.publication import held_count, publish_due, schedule_publication
from handlers.survey.store import create_codes

log = logging.getLogger("bot")

Command = Callable[[argparse.Namespace, Settings, Database], Awaitable[int]]
# Modules that add commands of their own: each has `register(subparsers)`.
COMMAND_MODULES: list[str] = []
COMMAND_MODULES.append("bot.cli.dossiers")
COMMAND_MODULES.append("bot.cli.codes_qr")
COMMAND_MODULES.append("bot.cli.reports")
COMMAND_MODULES.append("bot.cli.officials")


class UsageError(Exception):
    """A command was given something it cannot use; the message says what."""


def _secrets(settings: Settings) -> list[str]:
    token = settings.telegram.bot_token
    secret = settings.telegram.webhook_secret
    zalo = (
        settings.zalo_bot.token,
        settings.zalo_bot.webhook_secret,
        settings.zalo_oa.secret_key,
        settings.zalo_oa.refresh_token,
        settings.zalo_oa.webhook_secret_key,
        settings.officials.link_secret,
    )
    return [s.get_secret_value() for s in (token, secret, *zalo) if s is not None]


def _questionnaires(settings: Settings):
    questionnaires = load_questionnaires()
    if settings.survey.questionnaire not in questionnaires:
        raise ConfigError(
            f"SURVEY_QUESTIONNAIRE: unknown questionnaire {settings.survey.questionnaire!r} "
            f"(available: {', '.join(sorted(questionnaires))})"
        )
    return questionnaires


async def _until_stopped() -> None:
    """Wait for SIGTERM or SIGINT, so that channels and the server stop cleanly."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signal_number, stop.set)
    await stop.wait()
    log.info("stopping")


async def cmd_run(args: argparse.Namespace, settings: Settings, database: Database) -> int:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    from bot.channels import build_channels
    from bot.channels.console import run_console
    from bot.jobs.dossiers import DossierWork
    from bot.jobs.officials import OfficialWork
    from bot.settings import check_official_links
    from bot.web import build_app, start_server
    from bot.web.dossiers_api import add_dossier_routes
    from bot.web.files import add_official_routes

    check_official_links(settings)

    processor = InboundProcessor(
        database,
        settings,
        _questionnaires(settings),
        Translator.load(settings.default_language),
    )
    web_app = build_app(database, settings.metrics.token)
    add_dossier_routes(web_app, database, settings)
    add_official_routes(web_app, database, settings, processor.questionnaires)
    channels = build_channels(settings, processor, web_app)
    dossier_work = DossierWork(database, settings, channels, processor.translator)
    scheduler = AsyncIOScheduler(timezone=settings.timezone)
    scheduler.add_job(processor.expire_idle, "interval", hours=1, id="expire-idle-surveys")
    schedule_publication(scheduler, database, settings, processor.questionnaires)
    scheduler.add_job(processor.forget_old_updates, "interval", hours=6, id="forget-old-updates")
    dossier_work.schedule(scheduler)
    OfficialWork(database, settings, processor.questionnaires, processor.translator).install(
        scheduler, dossier_work.sender
    )
    # the days that ended while the bot was stopped:
    await publish_due(database, settings, processor.questionnaires)
    scheduler.start()
    runner = None
    if (listen := settings.http_host_port) is not None:
        runner = await start_server(web_app, *listen)
        log.info("HTTP server listening on %s", settings.http_listen)
    log.info("log level %s (libraries: from WARNING, without values)", settings.log_level)
    try:
        await dossier_work.start()
        if channels:
            for channel in channels:
                await channel.start()
                log.info("channel %s started", channel.name)
            await _until_stopped()
        else:
            print(
                "No chat platform is configured (TELEGRAM_BOT_TOKEN is empty): "
                f"starting the console chat on {database.engine.url.render_as_string()}. "
                "Type /start; Ctrl-D quits.",
                flush=True,
            )
            await run_console(processor)
    finally:
        await dossier_work.stop()
        for channel in reversed(channels):
            await channel.stop()
        scheduler.shutdown(wait=False)
        if runner is not None:
            await runner.cleanup()
        await _let_cancelled_tasks_unwind()
    return 0


SHUTDOWN_GRACE_SECONDS = 5.0


async def _let_cancelled_tasks_unwind() -> None:
    """APScheduler cancels running jobs at shutdown without waiting for them; give them
    a moment to release their database connections before the engine is disposed."""
    current = asyncio.current_task()
    others = [task for task in asyncio.all_tasks() if task is not current]
    if others:
        await asyncio.wait(others, timeout=SHUTDOWN_GRACE_SECONDS)


async def cmd_migrate(args: argparse.Namespace, settings: Settings, database: Database) -> int:
    print("database is at the latest schema")
    return 0


async def _import(args: argparse.Namespace, database: Database, model, importer) -> int:
    path = Path(args.file)
    if not path.is_file():  # noqa: ASYNC240 - a command line, nothing else waits on it
        raise UsageError(f"{path}: no such file")
    async with database.transaction() as session:
        if args.if_empty and not await is_empty(session, model):
            print(f"{path.name}: skipped, the catalogue already has entries")
            return 0
        try:
            report = await importer(session, path)
        except TableError as error:
            raise UsageError(str(error)) from None
    return print_import_report(report, path)


async def cmd_agencies_import(args, settings: Settings, database: Database) -> int:
    return await _import(args, database, Agency, import_agencies)


async def cmd_services_import(args, settings: Settings, database: Database) -> int:
    return await _import(args, database, Service, import_services)


async def cmd_codes_create(args, settings: Settings, database: Database) -> int:
    if not 1 <= args.count <= 100_000:
        raise UsageError("--count must be between 1 and 100000")
    async with database.transaction() as session:
        try:
            codes = await create_codes(
                session,
                agency_code=args.agency,
                service_code=args.service,
                count=args.count,
                single_use=not args.reusable,
                now=utc_now(),
                length=settings.survey.code_length,
                valid_for=timedelta(days=args.days) if args.days else None,
            )
        except CodeError as error:
            raise UsageError(str(error)) from None
    print("\n".join(codes))
    return 0


async def cmd_sessions_expire(args, settings: Settings, database: Database) -> int:
    processor = InboundProcessor(database, settings, {}, Translator.load())
    print(f"{await processor.expire_idle()} idle surveys ended (counted as expired)")
    return 0


async def cmd_responses_publish(args, settings: Settings, database: Database) -> int:
    if args.all_days and not args.force:
        raise UsageError(
            "--all-days publishes today's responses before the day is over, which splits "
            "the day into batches by the time of publication and so weakens anonymity; "
            "add --force if that is really meant"
        )
    published = await publish_due(
        database, settings, load_questionnaires(), include_today=args.all_days
    )
    print(f"{published} held chat responses published; {await held_count(database)} still held")
    return 0


def _add_publish_command(sub: argparse._SubParsersAction) -> None:
    """`responses publish`, under the `responses` command of bot.cli.reports."""
    (actions,) = [
        action
        for action in sub.choices["responses"]._actions
        if isinstance(action, argparse._SubParsersAction)
    ]
    publish = actions.add_parser(
        "publish",
        help="store the held chat responses of the days before today, shuffled (the bot "
        "does this every hour)",
        description="Chat responses wait in a pool until their day is over and are then "
        "stored in one shuffled batch, so that none can be traced to its chat by order, "
        "time or transaction (README, Anonymity). This runs that publication now.",
    )
    publish.add_argument(
        "--all-days",
        action="store_true",
        help="also publish today's held responses (needs --force: it weakens anonymity)",
    )
    publish.add_argument("--force", action="store_true", help="confirm --all-days")
    publish.set_defaults(func=cmd_responses_publish)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("run", help="start the bot (the default)").set_defaults(func=cmd_run)
    sub.add_parser("migrate", help="apply database migrations").set_defaults(func=cmd_migrate)

    for noun, func in (("agencies", cmd_agencies_import), ("services", cmd_services_import)):
        group = sub.add_parser(noun, help=f"manage the {noun} catalogue").add_subparsers(
            dest="action", required=True
        )
        importing = group.add_parser("import", help=f"upsert {noun} from a CSV or XLSX file")
        importing.add_argument("file")
        importing.add_argument(
            "--if-empty", action="store_true", help="only when the catalogue has no entries yet"
        )
        importing.set_defaults(func=func)

    codes = sub.add_parser("codes", help="survey start codes").add_subparsers(
        dest="action", required=True
    )
    create = codes.add_parser("create", help="create codes for an agency and a service")
    create.add_argument("--agency", required=True, help="agency code")
    create.add_argument("--service", required=True, help="service code")
    create.add_argument("--count", type=int, default=1)
    create.add_argument(
        "--reusable",
        action="store_true",
        help="a counter code (one response per chat, service and day) instead of single use",
    )
    create.add_argument("--days", type=float, help="valid for this many days (default: no end)")
    create.set_defaults(func=cmd_codes_create)

    sessions = sub.add_parser("sessions", help="survey sessions").add_subparsers(
        dest="action", required=True
    )
    sessions.add_parser("expire", help="end idle surveys (counted as expired)").set_defaults(
        func=cmd_sessions_expire
    )

    for module_name in COMMAND_MODULES:
        __import__(module_name, fromlist=["register"]).register(sub)
    _add_publish_command(sub)
    return parser


async def _main(args: argparse.Namespace, settings: Settings) -> int:
    database = Database(settings.database_url)
    try:
        await migrate.upgrade(database)
        return await args.func(args, settings, database)
    finally:
        await database.dispose()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command is None:
        args.func = cmd_run
    try:
        settings = load_settings()
        configure_logging(settings.log_level, _secrets(settings))
        return asyncio.run(_main(args, settings))
    except (ConfigError, QuestionnaireError) as error:
        print(
            f"configuration error: {error}".replace("\n", "\nconfiguration error: "),
            file=sys.stderr,
        )
        return 2
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (OSError, OperationalError, InterfaceError) as error:
        print(f"DATABASE_URL: cannot use the database: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
