"""`python -m bot run` (the default) and `python -m bot migrate`.

`run` starts what `bot.cli.compose` puts together and what `bot.scheduler` lists; the
platforms' libraries are imported only when it runs, so other commands start fast.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.cli.common import Subparsers
    from bot.database import Database
    from bot.settings import Settings

log = logging.getLogger("bot")

SHUTDOWN_GRACE_SECONDS = 5.0


async def _until_stopped() -> None:
    """Wait for SIGTERM or SIGINT, so that channels and the server stop cleanly."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signal_number, stop.set)
    await stop.wait()
    log.info("stopping")


async def cmd_run(args: argparse.Namespace, settings: Settings, database: Database) -> int:
    from bot import scheduler
    from bot.channels.console import run_console
    from bot.cli import compose
    from bot.cli.common import checked_questionnaires
    from bot.i18n import Translator
    from bot.jobs.dossiers import warn_unready_notices
    from bot.settings import check_official_links
    from bot.web import start_server

    check_official_links(settings)
    questionnaires = checked_questionnaires(settings)
    translator = Translator.load(settings.default_language)
    processor = compose.build_processor(database, settings, questionnaires, translator)
    web_app = compose.build_web_app(database, settings, questionnaires)
    channels = compose.build_channels(settings, processor, web_app)
    work = scheduler.Scheduler(
        database,
        settings,
        scheduler.jobs(database, settings, processor, questionnaires, translator),
        sender=compose.build_sender(
            database, settings, channels, translator, questionnaires=questionnaires
        ),
    )
    runner = None
    if (listen := settings.http_host_port) is not None:
        runner = await start_server(web_app, *listen)
        log.info("HTTP server listening on %s", settings.http_listen)
    log.info("log level %s (libraries: from WARNING, without values)", settings.log_level)
    try:
        await warn_unready_notices(database, settings)
        await work.start()
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
        await work.stop()
        for channel in reversed(channels):
            await channel.stop()
        if runner is not None:
            await runner.cleanup()
        await _let_cancelled_tasks_unwind()
    return 0


async def _let_cancelled_tasks_unwind() -> None:
    """APScheduler cancels running jobs at shutdown without waiting for them; give them
    a moment to release their database connections before the engine is disposed."""
    current = asyncio.current_task()
    others = [task for task in asyncio.all_tasks() if task is not current]
    if others:
        await asyncio.wait(others, timeout=SHUTDOWN_GRACE_SECONDS)


async def cmd_migrate(args: argparse.Namespace, settings: Settings, database: Database) -> int:
    print("database is at the latest schema")  # every command migrates first (bot.cli)
    return 0


def register(subparsers: Subparsers) -> None:
    subparsers.add_parser(
        "run",
        help="start the bot (the default)",
        description="Start the bot: the configured chat channels (or the console chat "
        "when none is), the HTTP server, the scheduled jobs and the outbox sender.",
    ).set_defaults(func=cmd_run)
    subparsers.add_parser(
        "migrate",
        help="apply database migrations",
        description="Bring the database to the latest schema (every command does this "
        "first; this one does nothing else).",
    ).set_defaults(func=cmd_migrate)
