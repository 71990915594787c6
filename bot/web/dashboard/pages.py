"""How a dashboard page is written: templates, texts, number formats and safe headers.

Templates (`templates/`, autoescaped) get `t` (the texts of bot/locales in the page's
language), the number and date formats of `bot.i18n` (66,08 and 1.539 and dd/mm/yyyy in
Vietnamese, 66.08 and 1,539 in English) and `url` for links that keep the page's choices.
Every answer, error pages included, is `no-store` and carries a content security policy
that allows no script and no foreign origin, and a referrer only within the site (a sign-in
link's address must not reach another site).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp_jinja2
import jinja2
from aiohttp import web

from bot.i18n import PRIMARY, count, day, number, shipped

TEMPLATES = web.AppKey("dashboard_templates", jinja2.Environment)
HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}


def setup(app: web.Application) -> None:
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.PackageLoader("bot.web.dashboard", "templates"),
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
        undefined=jinja2.StrictUndefined,
        app_key=TEMPLATES,
    )
    env.filters["quote"] = lambda text: quote(str(text), safe="")


def share(value: float | None, lang: str, decimals: int = 1) -> str:
    """A 0..1 share as a percentage: "86,4%"."""
    return "—" if value is None else f"{number(100 * value, lang, decimals)}%"


def _words(lang: str) -> dict[str, Any]:
    texts = shipped()

    def t(key: str, **params: object) -> str:
        return texts(lang, key, **params)

    def named(prefix: str, code: str) -> str:
        """A catalogue level or a channel kind in words; one we have no words for as it is."""
        key = f"{prefix}{code}"
        return t(key) if key in texts.catalogs[PRIMARY] else code

    return {
        "t": t,
        "lang": lang,
        "num": lambda value, decimals=2, sign=False: number(value, lang, decimals, sign),
        "count": lambda value: count(value, lang),
        "day": lambda value: day(value) if value is not None else "—",
        "share": lambda value, decimals=1: share(value, lang, decimals),
        "block_name": lambda level: named("dashboard_block_", level),
        "channel_name": lambda kind: named("web_channel_", kind),
        "link": link,
    }


def _other_language(request: web.Request, lang: str) -> str:
    """The same page in the other language (the overview when this answers a post)."""
    other = "en" if lang == "vi" else "vi"
    if request.method != "GET":
        return link("/dashboard/", {"lang": other})
    params = [(key, value) for key, value in request.query.items() if key != "lang"]
    return f"{request.path}?{urlencode([*params, ('lang', other)])}"


def page(
    request: web.Request,
    template: str,
    lang: str,
    context: Mapping[str, Any],
    status: int = 200,
    params: Mapping[str, str] | None = None,
) -> web.Response:
    """A template rendered in `lang` with the safe headers; `params` are the choices that
    links to the other pages keep (period, trend, language)."""
    kept = dict(params or {"lang": lang})
    context = {
        **_words(lang),
        "url": lambda path, **changes: link(path, {**kept, **changes}),
        "switch_lang": _other_language(request, lang),
        "active": None,
        "request_path": request.path,
        **context,
    }
    response = aiohttp_jinja2.render_template(
        template, request, context, status=status, app_key=TEMPLATES
    )
    response.headers.update(HEADERS)
    return response


def message(request: web.Request, lang: str, status: int, key: str) -> web.Response:
    """A short page that says one thing: refusals and errors, identical for every cause
    that must not be told apart (an unknown unit and one outside the scope): nothing of
    the address asked for is repeated."""
    other = link("/dashboard/", {"lang": "en" if lang == "vi" else "vi"})
    context = {"key": key, "signed_in": False, "switch_lang": other}
    return page(request, "message.html", lang, context, status)


def link(path: str, params: Mapping[str, str | None]) -> str:
    kept = {key: value for key, value in params.items() if value is not None}
    return f"{path}?{urlencode(kept)}" if kept else path
