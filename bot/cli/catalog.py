"""`python -m bot agencies import FILE` and `python -m bot services import FILE`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from bot.cli.common import UsageError

if TYPE_CHECKING:
    from bot.cli.common import Subparsers
    from bot.database import Database
    from bot.settings import Settings


async def _import(args: argparse.Namespace, database: Database, noun: str) -> int:
    from bot.catalog import import_agencies, import_services, is_empty
    from bot.models import Agency, Service
    from bot.tabular import TableError, print_import_report

    model, importer = (
        (Agency, import_agencies) if noun == "agencies" else (Service, import_services)
    )
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
    return await _import(args, database, "agencies")


async def cmd_services_import(args, settings: Settings, database: Database) -> int:
    return await _import(args, database, "services")


def register(subparsers: Subparsers) -> None:
    for noun, func in (("agencies", cmd_agencies_import), ("services", cmd_services_import)):
        group = subparsers.add_parser(
            noun,
            help=f"manage the {noun} catalogue",
            description=f"The {noun} catalogue that survey codes and reports refer to.",
        ).add_subparsers(dest="action", required=True)
        importing = group.add_parser(
            "import",
            help=f"upsert {noun} from a CSV or XLSX file",
            description=f"Add new {noun} and update known ones (by code) from a CSV or XLSX "
            "file; running the same file twice changes nothing the second time.",
        )
        importing.add_argument("file")
        importing.add_argument(
            "--if-empty", action="store_true", help="only when the catalogue has no entries yet"
        )
        importing.set_defaults(func=func)
