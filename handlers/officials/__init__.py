"""Officials: heads of agencies and the provincial reform office (issue 7).

- `access`: one-time invitations, binding a chat, roles and the agencies in scope;
- `schedule`: when digests fall due and which days they cover (pure clock maths);
- `content`: what digests and /scores say, in the official's words, and their chart and
  workbook as descriptions (drawn after the commit by `bot.rendering`);
- `digest`: `run_due(now)` that queues due digests in the outbox, and the outbox renderer;
- `links`: signed, expiring download links for channels that cannot carry files;
- `web`, `cli`: the download route on the project's server and `python -m bot officials`.

The chat commands themselves live in `handlers/officials/commands.py`.
"""
