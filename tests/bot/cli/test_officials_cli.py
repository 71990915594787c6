"""`python -m bot officials …` in-process on both databases; OFFICIALS_* settings; what the
outbox does with a digest whose official or channel is gone."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import select

from bot import cli
from bot.cli import UsageError, build_parser
from bot.jobs.digests import renderers, run_due
from bot.models import OutboxMessage
from bot.outbox import OutboxSender
from bot.settings import (
    ConfigError,
    OfficialSettings,
    OutboxSettings,
    Settings,
    ZaloBotSettings,
    check_official_links,
    load_settings,
)
from tests.builders import QUESTIONNAIRES, TRANSLATOR, Citizen, FakeClock, make_processor
from tests.officials_helpers import invite, officials, officials_settings, seed_agencies, vn

ZALO_TOKEN = "2837461928:zalo-bot-token_0123456789abcdef"


async def run(database, *argv: str) -> int:
    args = build_parser().parse_args(list(argv))
    return await args.func(args, officials_settings(database), database)


async def test_invite_list_and_revoke(database, capsys):
    await seed_agencies(database)
    assert await run(database, "officials", "invite", "--role", "admin", "--scope", "province") == 0
    code = capsys.readouterr().out.splitlines()[0]
    argv = ["officials", "invite", "--role", "official", "--scope", "agency:DNAI-STP"]
    assert await run(database, *argv, "--label", "Giám đốc Sở", "--days", "2") == 0
    capsys.readouterr()

    chat = Citizen(make_processor(database, FakeClock()), "9001")
    assert (await chat.say(f"/register {code}"))[0].text.startswith("Đăng ký thành công")
    admin, invited = (str(row.id) for row in await officials(database))
    assert await run(database, "officials", "list") == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert rows[0][:6] == ["id", "role", "scope", "state", "channel", "digest"]
    assert rows[1][:6] == [admin, "admin", "province", "active", "telegram", "weekly"]
    assert rows[2][:6] == [invited, "official", "agency:DNAI-STP", "invited", "—", "weekly"]
    assert rows[2][6:] == ["Giám", "đốc", "Sở"]
    assert "9001" not in str(rows)  # no chat ids

    assert await run(database, "officials", "revoke", admin) == 0
    capsys.readouterr()
    assert await run(database, "officials", "list", "--active") == 0
    assert len(capsys.readouterr().out.splitlines()) == 1  # the header only
    assert (await chat.say("/scores"))[0].text == TRANSLATOR("vi", "official_refused")
    with pytest.raises(UsageError, match=f"no official {admin} to revoke"):
        await run(database, "officials", "revoke", admin)


@pytest.mark.parametrize(
    ("scope", "message"),
    [
        ("agency:NO-SUCH", "no agency 'NO-SUCH'"),
        ("district", "scope must be province or agency:<code>"),
        ("agency:", "scope must be province or agency:<code>"),
    ],
)
async def test_a_wrong_scope_is_named(database, scope, message):
    await seed_agencies(database)
    with pytest.raises(UsageError, match=message):
        await run(database, "officials", "invite", "--role", "official", "--scope", scope)
    assert await officials(database) == []


def zalo_settings(**officials: object) -> Settings:
    return Settings(
        zalo_bot=ZaloBotSettings(token=ZALO_TOKEN), officials=OfficialSettings(**officials)
    )


def test_a_link_secret_is_required_only_where_links_are_needed():
    check_official_links(Settings(zalo_bot=ZaloBotSettings(token=None)))  # no Zalo: fine
    check_official_links(zalo_settings(link_secret="x" * 32))
    for secret in (None, "", "too-short-a-secret"):
        with pytest.raises(ConfigError, match="^OFFICIALS_LINK_SECRET: "):
            check_official_links(zalo_settings(link_secret=secret))


def test_run_stops_with_the_variable_named(monkeypatch, tmp_path, capsys):
    for name in list(os.environ):
        if name.startswith(("OFFICIALS_", "ZALO_", "TELEGRAM_", "DATABASE_URL")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ZALO_BOT_TOKEN", ZALO_TOKEN)
    monkeypatch.setenv("OFFICIALS_LINK_SECRET", "short")
    assert cli.main(["run"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("configuration error: OFFICIALS_LINK_SECRET:") and "short" not in err


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("OFFICIALS_DIGEST_FREQUENCY", "daily"),
        ("OFFICIALS_DIGEST_WEEKDAY", "8"),
        ("OFFICIALS_DIGEST_WEEKDAY", "someday"),
        ("OFFICIALS_DIGEST_MONTH_DAY", "31"),
        ("OFFICIALS_DIGEST_TIME", "25:00"),
        ("OFFICIALS_INVITE_DAYS", "0"),
        ("OFFICIALS_EXPORT_LINK_HOURS", "-1"),
    ],
)
def test_a_bad_value_is_named(monkeypatch, tmp_path, variable, value):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as error:
        load_settings()
    assert str(error.value).startswith(variable), str(error.value)


def test_schedule_defaults_accept_names(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OFFICIALS_DIGEST_WEEKDAY", "Fri")
    monkeypatch.setenv("OFFICIALS_DIGEST_TIME", "7:30")
    officials = load_settings().officials
    assert (officials.digest_weekday, officials.digest_minute) == (5, 450)


async def test_a_digest_for_a_revoked_official_or_a_stopped_channel_fails(database):
    await seed_agencies(database)
    clock = FakeClock(vn(2026, 11, 18, 15))
    for chat_key, channel in (("9101", "telegram"), ("9102", "zalo_bot")):
        code = await invite(database, now=clock.now)
        chat = Citizen(make_processor(database, clock), chat_key, channel)
        assert (await chat.say(f"/register {code}"))[0].text.startswith("Đăng ký thành công")
    settings = officials_settings(database)
    clock.now = vn(2026, 11, 23, 8)
    assert await run_due(database, settings, QUESTIONNAIRES, TRANSLATOR, clock()) == 2
    telegram_official, _ = await officials(database)
    assert await run(database, "officials", "revoke", str(telegram_official.id)) == 0

    class Recorder:
        name = "telegram"
        sent: list = []

        async def send(self, chat_key, replies):
            self.sent.append(chat_key)

    sender = OutboxSender(
        database,
        OutboxSettings(),
        {"telegram": Recorder()},  # Zalo Bot is not running in this process
        renderers(settings, TRANSLATOR, clock),
        clock=clock,
    )
    report = await sender.drain()
    assert (report.sent, report.failed) == (0, 2) and Recorder.sent == []
    async with database.transaction() as session:
        errors = (
            await session.scalars(select(OutboxMessage.last_error).order_by(OutboxMessage.id))
        ).all()
    assert errors == ["nothing to send any more", "channel zalo_bot is not running"]


async def test_digests_run_at_a_moment_lists_then_creates_once(database, capsys):
    await seed_agencies(database)
    clock = FakeClock(vn(2026, 11, 18, 15))
    code = await invite(database, now=clock.now)
    chat = Citizen(make_processor(database, clock), "9201")
    assert (await chat.say(f"/register {code}"))[0].text.startswith("Đăng ký thành công")
    capsys.readouterr()

    # Monday 30/11/2026 08:00 local is still Sunday in UTC: the local time counts.
    monday = ("officials", "digests", "run", "--at", "2026-11-30T08:00")
    assert await run(database, *monday, "--dry-run") == 0
    out = capsys.readouterr().out
    assert "digests due at 2026-11-30 08:00 (Asia/Ho_Chi_Minh): 1" in out
    assert "weekly 23/11/2026–29/11/2026 (vi), to create" in out
    assert "dry run: nothing created" in out
    async with database.transaction() as session:
        assert (await session.scalars(select(OutboxMessage))).all() == []

    assert await run(database, *monday) == 0
    assert "1 digests created and queued" in capsys.readouterr().out
    assert await run(database, *monday) == 0  # again: the same digest, not a second one
    out = capsys.readouterr().out
    assert "already created" in out and "0 digests created" in out
    async with database.transaction() as session:
        assert len((await session.scalars(select(OutboxMessage))).all()) == 1

    # Before the first Monday after registering nothing is due.
    assert await run(database, "officials", "digests", "run", "--at", "2026-11-22T08:00") == 0
    assert "Asia/Ho_Chi_Minh): 0" in capsys.readouterr().out
    with pytest.raises(UsageError, match="--at: not an ISO 8601 time"):
        await run(database, "officials", "digests", "run", "--at", "next monday")


def test_the_example_file_gives_the_defaults(monkeypatch, tmp_path):
    import shutil
    from pathlib import Path

    for name in list(os.environ):
        if name.startswith("OFFICIALS_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    defaults = load_settings().officials
    shutil.copy(Path(__file__).resolve().parents[3] / ".env.example", tmp_path / ".env")
    assert load_settings().officials == defaults
