"""`python -m bot reports consumers …`: keys of the reports API's consumers.

    python -m bot reports consumers create (--province | --agency CODE) --label TEXT
    python -m bot reports consumers list
    python -m bot reports consumers revoke KEY_ID

The key is printed once, at creation; only a hash of its secret is stored.
"""

from __future__ import annotations

import argparse
import sys

from bot.cli.common import UsageError
from bot.clock import utc_now
from bot.database import Database
from bot.settings import Settings
from handlers.consumers import (
    PREFIX,
    ConsumerError,
    create_consumer,
    listed_consumers,
    revoke_consumer,
)


async def cmd_create(args: argparse.Namespace, settings: Settings, database: Database) -> int:
    async with database.transaction() as session:
        try:
            key = await create_consumer(
                session, agency_code=args.agency, label=args.label, now=args.clock()
            )
        except ConsumerError as error:
            raise UsageError(str(error)) from None
    print(key)
    print(
        "Give this key to the consumer now: it is not shown again (only its hash is kept).",
        file=sys.stderr,
    )
    return 0


async def cmd_list(args: argparse.Namespace, settings: Settings, database: Database) -> int:
    async with database.transaction() as session:
        rows = await listed_consumers(session)
    print(f"{'key id':<12} {'scope':<16} {'state':<18} {'last used':<17} label")
    for consumer, agency in rows:
        state = f"revoked {consumer.revoked_at:%Y-%m-%d}" if consumer.revoked_at else "active"
        used = f"{consumer.last_used_at:%Y-%m-%d %H:%M}" if consumer.last_used_at else "never"
        print(
            f"{consumer.key_id:<12} {agency or 'province':<16} {state:<18} {used:<17} "
            f"{consumer.label}"
        )
    return 0


async def cmd_revoke(args: argparse.Namespace, settings: Settings, database: Database) -> int:
    key_id = args.key_id.removeprefix(PREFIX).split(".")[0]
    async with database.transaction() as session:
        if not await revoke_consumer(session, key_id, args.clock()):
            raise UsageError(f"no active consumer key {key_id!r}")
    print(f"consumer key {key_id} revoked")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    reports = subparsers.add_parser(
        "reports", help="the reports API (/api/v1/reports) and who may read it"
    ).add_subparsers(dest="group", required=True)
    consumers = reports.add_parser(
        "consumers",
        help="keys of the reports API's consumers (the operations centre …)",
    ).add_subparsers(dest="action", required=True)
    create = consumers.add_parser(
        "create",
        help="create a consumer key, scoped to the province or one agency (shown once)",
    )
    scope = create.add_mutually_exclusive_group(required=True)
    scope.add_argument("--province", action="store_true", help="may read every agency")
    scope.add_argument("--agency", metavar="CODE", help="may read this agency only")
    create.add_argument("--label", required=True, help="who reads with it, e.g. 'IOC Dong Nai'")
    create.set_defaults(func=cmd_create, clock=utc_now)
    consumers.add_parser(
        "list", help="consumer keys, their scope and last use (never a secret)"
    ).set_defaults(func=cmd_list)
    revoke = consumers.add_parser("revoke", help="revoke a consumer key at once")
    revoke.add_argument("key_id", help="the key's id (or the whole key)")
    revoke.set_defaults(func=cmd_revoke, clock=utc_now)
