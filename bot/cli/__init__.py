"""`python -m bot …`: the composition root, where settings, storage and channels meet.

Every command reads the settings first, so a wrong setting stops it with one
line naming the variable (exit status 2) before anything is touched. Commands
that use the database migrate it first: the schema is never created any other way.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import TYPE_CHECKING

from bot.cli import (
    catalog,
    codes,
    dossiers,
    officials,
    report_consumers,
    reports,
    responses,
    run,
    sessions,
)
from bot.cli.common import CommandParser, UsageError

if TYPE_CHECKING:
    from bot.settings import Settings

__all__ = ["COMMAND_MODULES", "UsageError", "build_parser", "main"]

# Every module of commands, in the order `--help` lists them; each has `register(subparsers)`.
COMMAND_MODULES = (
    run,
    catalog,
    codes,
    sessions,
    responses,
    reports,
    report_consumers,
    dossiers,
    officials,
)


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


def build_parser() -> argparse.ArgumentParser:
    parser = CommandParser(prog="python -m bot", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command")
    for module in COMMAND_MODULES:
        module.register(subparsers)
    return parser


async def _main(args: argparse.Namespace, settings: Settings) -> int:
    from bot import migrate
    from bot.database import Database

    database = Database(settings.database_url, pool_size=settings.database_pool_size)
    try:
        await migrate.upgrade(database)
        return await args.func(args, settings, database)
    finally:
        await database.dispose()


def main(argv: list[str] | None = None) -> int:
    from sqlalchemy.exc import InterfaceError, OperationalError

    from bot.logs import configure_logging
    from bot.questionnaire import QuestionnaireError
    from bot.settings import ConfigError, load_settings

    args = build_parser().parse_args(argv)
    if args.command is None:
        args.func = run.cmd_run
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
