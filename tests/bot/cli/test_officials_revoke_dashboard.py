"""`python -m bot officials revoke ID` ends the official's dashboard sessions at once."""

from __future__ import annotations

from bot.cli import build_parser
from handlers.officials import signin
from tests.officials_helpers import officials_settings, seed_agencies, vn
from tests.web_session_helpers import access_rows, registered_official, signed_in

NOW = vn(2026, 11, 20)


async def test_revoking_from_the_command_line_ends_the_dashboard_sessions(database, capsys):
    await seed_agencies(database)
    official = await registered_official(database, "DNAI-STP", now=NOW)
    cookie = await signed_in(database, official, NOW)
    assert await access_rows(database) == (1, 1)
    args = build_parser().parse_args(["officials", "revoke", str(official)])
    assert await args.func(args, officials_settings(database), database) == 0
    assert f"official {official} revoked" in capsys.readouterr().out
    assert await access_rows(database) == (0, 0)
    async with database.transaction() as session:
        assert await signin.session_viewer(session, cookie, NOW) is None
