"""Which use case an inbound message belongs to.

The survey is the default conversation; other use cases (dossier linking,
officials' commands) claim their own commands here, so each stays a module of
its own and the survey never needs to know about them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bot.models import Chat
from handlers import officials, survey
from handlers.dossiers import linking as dossiers
from handlers.messages import Context, Inbound, InboundKind, Outbound

Handler = Callable[[Inbound, Chat, Context], Awaitable[list[Outbound]]]

# command name (without the slash) -> the handler that owns it
COMMANDS: dict[str, Handler] = {"hoso": dossiers.handle}
COMMANDS.update(officials.COMMANDS)


def command_of(inbound: Inbound) -> str | None:
    if inbound.kind is not InboundKind.TEXT:
        return None
    command, _ = survey.split_command(inbound.text)
    return command


async def handle(inbound: Inbound, chat: Chat, ctx: Context) -> list[Outbound]:
    # Text no database can store reaches no command: the survey says it was not understood.
    command = command_of(inbound) if survey.readable(inbound.text) else None
    owner = COMMANDS.get(command or "", survey.handle)
    return await owner(inbound, chat, ctx)
