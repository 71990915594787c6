"""Citizens and their dossiers: linking a chat to a dossier and asking for its state.

Two ways to link: the receipt's start code (deep link, QR code or typed; see
`link_by_start_code`, called by the survey when a code belongs to a dossier), or
`/hoso <dossier code> <last 4 digits of the phone on file>`. Guessing is bounded:
after `DOSSIER_LINK_MAX_FAILURES` failures in a day for a chat, or for a dossier
code, every attempt gets the same refusal until the next day (it points to the
receipt's code, which links without guessing); a wrong code and wrong digits get
the same reply, so the bot never confirms that a code exists.
Replies never show the citizen's name or phone number.
"""

from __future__ import annotations

import hmac

from bot import metrics
from bot.clock import local_today
from bot.models import Chat, Dossier, StartCode
from bot.states import DossierState
from handlers.dossiers import store
from handlers.messages import Context, Inbound, Outbound


def _t(ctx: Context, chat: Chat, key: str, **params: object) -> str:
    return ctx.translator(chat.language, key, **params)


def _today(ctx: Context):
    return local_today(ctx.now, ctx.settings)


def _format(day) -> str:
    return day.strftime("%d/%m/%Y") if day else "—"


def status_text(dossier: Dossier, chat: Chat, ctx: Context) -> str:
    """One dossier's state for its citizen: code, procedure, state and dates."""
    lines = [
        _t(
            ctx,
            chat,
            "hoso_status",
            code=dossier.code,
            procedure=dossier.procedure_name,
            state=_t(ctx, chat, f"dossier_state_{dossier.state}"),
            appointment=_format(dossier.due_date or dossier.appointment_date),
        )
    ]
    if dossier.new_due_date is not None:
        lines.append(_t(ctx, chat, "hoso_new_date", date=_format(dossier.new_due_date)))
    return "\n".join(lines)


async def _invitation(dossier: Dossier, chat: Chat, ctx: Context) -> str | None:
    """The survey invitation for a returned dossier whose code is still unused."""
    if dossier.state != DossierState.RETURNED:
        return None
    code = await store.unused_start_code(ctx.session, dossier.id)
    if code is None:
        return None
    return _t(ctx, chat, "hoso_rate_now", start_code=code)


def _link(dossier: Dossier, chat: Chat, ctx: Context) -> None:
    dossier.chat_id = chat.id
    dossier.linked_at = ctx.now


async def link_by_start_code(code: StartCode, chat: Chat, ctx: Context) -> list[Outbound] | None:
    """Link the chat to the dossier of a receipt's code.

    None when the survey should go on (the result was returned: time to rate it);
    otherwise the replies that say the dossier is linked and where it stands.
    """
    dossier = await store.dossier_by_id(ctx.session, code.dossier_id)
    if dossier is None or dossier.purged_at is not None:
        return None
    _link(dossier, chat, ctx)
    if dossier.state == DossierState.RETURNED:
        return None
    return [
        Outbound(_t(ctx, chat, "hoso_linked")),
        Outbound(status_text(dossier, chat, ctx)),
    ]


async def _attempt_link(code: str, digits: str, chat: Chat, ctx: Context) -> list[Outbound]:
    limit = ctx.settings.dossier.link_max_failures
    if max(await store.link_failures(ctx.session, chat.id, code, _today(ctx))) >= limit:
        # The per-dossier limit also stops the dossier's owner for the day, so the reply
        # points to the receipt's survey code (or QR code), which links without digits.
        metrics.increment("hoso_throttled_total")
        return [Outbound(_t(ctx, chat, "hoso_throttled"))]
    dossier = await store.dossier_by_code(ctx.session, code)
    phone = dossier.phone if dossier is not None and dossier.purged_at is None else None
    matches = (
        phone is not None
        and len(digits) == 4
        and hmac.compare_digest(phone[-4:].encode(), digits.encode())
    )
    if not matches:
        store.add_link_failure(ctx.session, chat.id, code, _today(ctx))
        return [Outbound(_t(ctx, chat, "hoso_not_found"))]
    assert dossier is not None
    _link(dossier, chat, ctx)
    replies = [Outbound(_t(ctx, chat, "hoso_linked")), Outbound(status_text(dossier, chat, ctx))]
    if (invitation := await _invitation(dossier, chat, ctx)) is not None:
        replies.append(Outbound(invitation))
    return replies


async def handle(inbound: Inbound, chat: Chat, ctx: Context) -> list[Outbound]:
    """`/hoso`: list linked dossiers; `/hoso CODE`: one of them; `/hoso CODE 1234`: link."""
    _, _, argument = inbound.text.strip().partition(" ")
    parts = argument.split()
    code = parts[0][:64] if parts else ""
    if len(parts) >= 2:
        return await _attempt_link(code, parts[1], chat, ctx)
    linked = await store.linked_dossiers(ctx.session, chat.id)
    if code:
        linked = [dossier for dossier in linked if dossier.code == code]
    if not linked:
        return [Outbound(_t(ctx, chat, "hoso_usage"))]
    replies = [Outbound(status_text(dossier, chat, ctx)) for dossier in linked]
    for dossier in linked:
        if (invitation := await _invitation(dossier, chat, ctx)) is not None:
            replies.append(Outbound(invitation))
    return replies
