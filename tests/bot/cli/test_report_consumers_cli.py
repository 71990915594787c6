"""`bot reports consumers create|list|revoke`, in-process on both databases."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select

from bot.cli import UsageError, build_parser
from bot.models import ReportConsumer
from handlers.consumers import verify_consumer
from tests.builders import seed_catalog
from tests.dossier_helpers import dossier_settings, vn_time

NOW = vn_time(2027, 3, 1)


async def run(database, *argv: str) -> int:
    args = build_parser().parse_args(list(argv))
    if hasattr(args, "clock"):
        args.clock = lambda: NOW
    return await args.func(args, dossier_settings(database), database)


async def test_create_list_revoke(database, capsys):
    await seed_catalog(database)
    assert (
        await run(database, "reports", "consumers", "create", "--province", "--label", "IOC") == 0
    )
    province = capsys.readouterr().out.strip()
    argv = ("reports", "consumers", "create", "--agency", "DNAI-XTEST", "--label", "UBND xã")
    assert await run(database, *argv) == 0
    commune = capsys.readouterr().out.strip()
    key_id, secret = province.removeprefix("sipasr_").split(".")
    async with database.transaction() as session:
        rows = list(await session.scalars(select(ReportConsumer).order_by(ReportConsumer.id)))
        assert rows[0].secret_hash == hashlib.sha256(secret.encode()).hexdigest()
        assert (rows[0].agency_id, rows[0].label) == (None, "IOC")
        seen = await verify_consumer(session, commune, NOW)
        assert (seen.agency_code, seen.label) == ("DNAI-XTEST", "UBND xã")

    assert await run(database, "reports", "consumers", "list") == 0
    listed = capsys.readouterr().out
    assert key_id in listed and secret not in listed
    assert "province" in listed and "DNAI-XTEST" in listed and "never" in listed
    assert f"{NOW:%Y-%m-%d %H:%M}" in listed  # the commune key was just used

    assert await run(database, "reports", "consumers", "revoke", key_id) == 0
    assert await run(database, "reports", "consumers", "list") == 0
    assert "revoked 2027-03-01" in capsys.readouterr().out
    async with database.transaction() as session:
        assert await verify_consumer(session, province, NOW) is None
    with pytest.raises(UsageError, match="no active consumer key"):
        await run(database, "reports", "consumers", "revoke", key_id)
    with pytest.raises(UsageError, match="unknown agency code"):
        await run(database, "reports", "consumers", "create", "--agency", "NOPE", "--label", "x")
    with pytest.raises(UsageError, match="label"):
        await run(database, "reports", "consumers", "create", "--province", "--label", " ")
    with pytest.raises(UsageError, match="longer than 100"):
        await run(database, "reports", "consumers", "create", "--province", "--label", "x" * 101)


@pytest.mark.parametrize("action", ["create", "list", "revoke"])
def test_each_command_says_what_it_does(action, capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["reports", "consumers", action, "--help"])
    assert "consumer key" in capsys.readouterr().out.lower()


def test_a_scope_is_required(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["reports", "consumers", "create", "--label", "x"])
    assert "--province" in capsys.readouterr().err
