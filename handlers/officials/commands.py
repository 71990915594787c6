"""Officials' chat commands: /register, /scores, /overdue, /digest, /subscribe, /export,
/web, /invite.

Every command but /register looks up the chat's official and checks role and scope
on each call (`handlers.officials.access`). A citizen, a revoked official, or an official
whose role lacks the command all get the same polite refusal, which says nothing
about agencies; an agency code outside the scope gets the same answer as one that
does not exist. Replies show dossier codes and dates, never a citizen's name or phone.

The chart and the workbook are returned as descriptions (`Outbound.attachment`), drawn
after the commit; each carries a signed, expiring download link as its fallback for
channels that cannot carry files. The handler never knows which channel it answers.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

from bot import metrics
from bot import throttle as _throttle_store
from bot.boundary import EARLIEST, LATEST
from bot.models import Chat, Official
from handlers.dossiers import code_list
from handlers.messages import Context, Inbound, Outbound
from handlers.officials import access, content, late, links, signin
from handlers.officials.content import Words
from handlers.officials.schedule import parse_schedule, upcoming_period
from handlers.reports import MONTH, QUARTER, YEAR, Period, ReportError
from handlers.survey import split_command

_PERIOD_WORDS = {
    "week": "week",
    "tuan": "week",
    "tuần": "week",
    "month": MONTH,
    "thang": MONTH,
    "tháng": MONTH,
    "quarter": QUARTER,
    "quy": QUARTER,
    "quý": QUARTER,
    "year": YEAR,
    "nam": YEAR,
    "năm": YEAR,
}


class _Refused(Exception):
    """The caller may not do this; the reply is the generic refusal."""


class _Unusable(Exception):
    """An argument cannot be used; the exception carries the reply."""

    def __init__(self, reply: str):
        super().__init__(reply)
        self.reply = reply


def _words(ctx: Context, chat: Chat) -> Words:
    return Words(ctx.translator, chat.language)


def _today(ctx: Context) -> date:
    return ctx.now.astimezone(ctx.settings.zone).date()


async def _official(ctx: Context, chat: Chat, command: str) -> Official:
    official = await access.active_official(ctx.session, chat.id)
    if not access.allowed(official, command):
        raise _Refused
    assert official is not None
    return official


def _period(token: str, today: date) -> Period | None:
    word = _PERIOD_WORDS.get(token.lower())
    if word == "week":
        monday = today - timedelta(days=today.weekday())
        return Period(monday, monday + timedelta(days=6))
    if word is not None:
        return Period.containing(today, word)
    if not token.isascii():  # only ASCII digits are numbers ("٢٠٢٥" is not a year)
        return None
    try:
        period = Period.parse(token)
    except ValueError:
        return None
    # Reports also read the period before; years far off would overflow date arithmetic.
    return period if period.start >= EARLIEST and period.end <= LATEST else None


async def _scope_and_period(
    ctx: Context, official: Official, argument: str, words: Words, usage: str
) -> tuple[access.Scope, Period]:
    """The period (this month unless given) and the scope, narrowed to one agency if asked."""
    period: Period | None = None
    agency_code: str | None = None
    for token in argument.split():
        parsed = _period(token, _today(ctx)) if period is None else None
        if parsed is not None:
            period = parsed
        elif agency_code is None:
            agency_code = token
        else:
            raise _Unusable(words("official_bad_argument", text=token[:40], usage=words(usage)))
    scope = await _scope(ctx, official, words, agency_code)
    return scope, period or Period.containing(_today(ctx), MONTH)


async def _scope(
    ctx: Context, official: Official, words: Words, agency_code: str | None = None
) -> access.Scope:
    """The official's scope as `access.official_scope` narrows it; refusals as replies."""
    try:
        return await access.official_scope(ctx.session, official, agency_code)
    except access.OutOfScope as out:
        if out.code is None:  # the official's own agency left the catalogue
            raise _Refused from None
        raise _Unusable(words("official_not_in_scope", code=out.code[:40])) from None


def _link(ctx: Context, words: Words, label: str, payload) -> str:
    return content.link_lines(words, ctx.settings, [(label, payload)], ctx.now)


# --------------------------------------------------------------------------- commands


async def register(inbound: Inbound, chat: Chat, ctx: Context) -> list[Outbound]:
    words = _words(ctx, chat)
    _, argument = split_command(inbound.text)
    if not argument:
        return [Outbound(words("official_register_usage"))]
    # Every try counts, right or wrong, before the code is looked at: guessing is bounded
    # by the day's limit whatever the codes sent.
    tries = await _throttle_store.count_attempt(
        ctx.session, chat.id, _throttle_store.REGISTER, _today(ctx)
    )
    if tries > ctx.settings.officials.register_max_attempts:
        metrics.increment("register_throttled_total")
        return [Outbound(words("official_register_throttled"))]
    official = await access.redeem(ctx.session, argument, chat, ctx.now)  # spaces ignored
    if official is None:
        return [Outbound(words("official_register_invalid"))]
    scope = await access.scope_of(ctx.session, official.agency_id)
    commands = "/scores, /overdue, /digest, /subscribe, /export, /web"
    if official.role == access.ADMIN:
        commands += ", /invite"
    return [
        Outbound(
            words(
                "official_registered",
                role=words(f"official_role_{official.role}"),
                scope=words.scope(scope),
                schedule=words.schedule(official),
                commands=commands,
            )
        )
    ]


async def scores(inbound: Inbound, chat: Chat, ctx: Context) -> list[Outbound]:
    """A short message with SIPAS, its change, the target and n; plus the chart."""
    words = _words(ctx, chat)
    official = await _official(ctx, chat, "scores")
    _, argument = split_command(inbound.text)
    scope, period = await _scope_and_period(ctx, official, argument, words, "official_scores_usage")
    report = await content.scope_report(
        ctx.session, ctx.questionnaires, ctx.settings, scope, period, grouping=()
    )
    head = words("official_scores_head", period=words.period(period), scope=words.scope(scope))
    lines = [head, *content.score_lines(report, words), content.dropoff_line(report.dropoff, words)]
    text = "\n".join(lines)
    if report.total.indices.respondents == 0:
        return [Outbound(text)]
    chart, _ = content.report_files(report, words.lang, "sipas", period)
    payload = links.export_payload(official, scope, period, words.lang, links.CHART)
    chart = replace(chart, fallback=_link(ctx, words, "official_link_chart", payload))
    return [Outbound(text, attachment=chart)]


async def export(inbound: Inbound, chat: Chat, ctx: Context) -> list[Outbound]:
    """The Excel workbook: a document where the channel takes files, else a signed link."""
    words = _words(ctx, chat)
    official = await _official(ctx, chat, "export")
    _, argument = split_command(inbound.text)
    scope, period = await _scope_and_period(ctx, official, argument, words, "official_export_usage")
    caption = words(
        "official_export_caption", period=words.period(period), scope=words.scope(scope)
    )
    report = await content.scope_report(
        ctx.session, ctx.questionnaires, ctx.settings, scope, period
    )
    _, workbook = content.report_files(report, words.lang, "sipas", period)
    payload = links.export_payload(official, scope, period, words.lang, links.WORKBOOK)
    workbook = replace(workbook, fallback=_link(ctx, words, "official_link_workbook", payload))
    return [Outbound(caption, attachment=workbook)]


async def overdue(inbound: Inbound, chat: Chat, ctx: Context) -> list[Outbound]:
    """Late dossiers (escalated first) and apology notices that could not be delivered."""
    words = _words(ctx, chat)
    official = await _official(ctx, chat, "overdue")
    scope = await _scope(ctx, official, words)
    today = _today(ctx)
    found = await late.overdue(ctx.session, scope, today)
    lines = [words("official_overdue_head", scope=words.scope(scope), date=words.date(today))]
    if found.unsigned_agencies:
        lines.append(
            words("official_overdue_unsigned", agencies=code_list(found.unsigned_agencies))
        )
    if found.empty:
        return [Outbound("\n".join([*lines, words("official_overdue_none")]))]
    lines.append(
        words(
            "official_overdue_summary",
            late=found.late_total,
            escalated=found.escalated_total,
            apologies=found.apologies_total,
        )
    )
    lines += [_late_line(words, item) for item in found.late]
    if found.late_total > len(found.late):
        lines.append(words("official_overdue_more", count=found.late_total - len(found.late)))
    if found.apologies:
        lines += ["", words("official_overdue_apologies_head")]
        for apology in found.apologies:
            state = words(f"official_apology_{apology.status}")
            lines.append(
                words(
                    "official_apology_line",
                    code=apology.dossier_code,
                    number=apology.number,
                    state=state,
                )
            )
        if found.apologies_total > len(found.apologies):
            more = found.apologies_total - len(found.apologies)
            lines.append(words("official_overdue_more", count=more))
    if found.unexplained:
        lines += ["", words("official_overdue_unexplained_head", count=found.unexplained_total)]
        lines += [_late_line(words, item) for item in found.unexplained]
        if found.unexplained_total > len(found.unexplained):
            more = found.unexplained_total - len(found.unexplained)
            lines.append(words("official_overdue_more", count=more))
    return [Outbound("\n".join(lines))]


def _late_line(words, item: late.LateDossier) -> str:
    """One dossier: code, procedure, due date, new date, escalation, a missing reason."""
    line = words(
        "official_overdue_line",
        code=item.code,
        procedure=item.procedure[:60],
        due=words.date(item.due_date) if item.due_date else "—",
    )
    if item.new_due_date:
        line += " " + words("official_overdue_new_date", date=words.date(item.new_due_date))
    if item.escalated:
        line += " " + words("official_overdue_escalated")
    if item.reason_missing:
        line += " " + words("official_overdue_reason_missing")
    return line


async def digest_now(inbound: Inbound, chat: Chat, ctx: Context) -> list[Outbound]:
    """The next digest as it stands now (data so far), sent straight back."""
    words = _words(ctx, chat)
    official = await _official(ctx, chat, "digest")
    scope = await _scope(ctx, official, words)
    frequency, period = upcoming_period(official, ctx.now, ctx.settings.zone)
    title = words(
        "official_digest_preview", period=words.period(period), date=words.date(_today(ctx))
    )
    try:
        preview = await content.compose(
            ctx.session,
            questionnaires=ctx.questionnaires,
            settings=ctx.settings,
            words=words,
            scope=scope,
            title=title,
            period=period,
            now=ctx.now,
        )
    except ReportError:
        raise _Refused from None
    replies = [Outbound(preview.text)]
    for caption, label, kind, attachment in (
        ("official_chart_caption", "official_link_chart", links.CHART, preview.chart),
        ("official_workbook_caption", "official_link_workbook", links.WORKBOOK, preview.workbook),
    ):
        if attachment is not None:
            payload = links.export_payload(official, scope, period, words.lang, kind)
            attachment = replace(attachment, fallback=_link(ctx, words, label, payload))
            replies.append(Outbound(words(caption), attachment=attachment))
    return replies


async def subscribe(inbound: Inbound, chat: Chat, ctx: Context) -> list[Outbound]:
    """Change the digest schedule; it applies from the next occurrence after now."""
    words = _words(ctx, chat)
    official = await _official(ctx, chat, "subscribe")
    _, argument = split_command(inbound.text)
    parsed = parse_schedule(argument, official)
    if parsed is None:
        return [Outbound(words("official_subscribe_usage"))]
    current = (
        official.digest_frequency,
        official.digest_weekday,
        official.digest_month_day,
        official.digest_minute,
    )
    if parsed != current:
        (
            official.digest_frequency,
            official.digest_weekday,
            official.digest_month_day,
            official.digest_minute,
        ) = parsed
        official.schedule_from = ctx.now
    return [Outbound(words("official_subscribed", schedule=words.schedule(official)))]


async def web(inbound: Inbound, chat: Chat, ctx: Context) -> list[Outbound]:
    """A one-time link that signs this official in to the web dashboard (signin)."""
    words = _words(ctx, chat)
    official = await _official(ctx, chat, "web")
    await _scope(ctx, official, words)  # refused alike when the own agency has gone
    if ctx.settings.public_base_url is None:
        return [Outbound(words("official_web_unavailable"))]
    token = await signin.issue_link(ctx.session, official, ctx.now)
    link = signin.link_of(ctx.settings.public_base_url, token)
    return [Outbound(words("official_web_link", link=link, minutes=signin.LINK_MINUTES))]


async def invite(inbound: Inbound, chat: Chat, ctx: Context) -> list[Outbound]:
    """Admins only: a one-time code for a new official within the admin's own scope."""
    words = _words(ctx, chat)
    official = await _official(ctx, chat, "invite")
    _, argument = split_command(inbound.text)
    tokens = argument.split()
    if len(tokens) != 2 or tokens[0].lower() not in access.ROLES:
        return [Outbound(words("official_invite_usage"))]
    try:
        agency_code = access.parse_scope(tokens[1])
        within = await access.scope_of(ctx.session, official.agency_id)
        invited, code = await access.create_invitation(
            ctx.session,
            role=tokens[0].lower(),
            agency_code=agency_code,
            now=ctx.now,
            settings=ctx.settings.officials,
            within=within,
        )
    except access.InvitationError:
        return [Outbound(words("official_invite_refused"))]
    scope = await access.scope_of(ctx.session, invited.agency_id)
    expires = invited.invite_expires_at.astimezone(ctx.settings.zone)
    return [
        Outbound(
            words(
                "official_invited",
                role=words(f"official_role_{invited.role}"),
                scope=words.scope(scope),
                expires=expires.strftime("%H:%M %d/%m/%Y"),
                code=access.display_code(code),
            )
        )
    ]


def _guarded(handler):
    async def guarded(inbound: Inbound, chat: Chat, ctx: Context) -> list[Outbound]:
        try:
            return await handler(inbound, chat, ctx)
        except _Refused:
            return [Outbound(_words(ctx, chat)("official_refused"))]
        except _Unusable as unusable:
            return [Outbound(unusable.reply)]

    guarded.__name__ = handler.__name__
    guarded.__doc__ = handler.__doc__
    return guarded


# command name (without the slash) -> handler, for handlers.router
COMMANDS = {
    "register": _guarded(register),
    "scores": _guarded(scores),
    "overdue": _guarded(overdue),
    "digest": _guarded(digest_now),
    "subscribe": _guarded(subscribe),
    "export": _guarded(export),
    "web": _guarded(web),
    "invite": _guarded(invite),
}
