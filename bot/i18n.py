"""Message catalogs and number formats: how the bot writes, per language.

Catalogs are YAML files in `bot/locales/`, so a translator or an official can
correct wording without touching Python. A key missing in one language falls
back to Vietnamese, the primary language of the bot.

Numbers follow the language's conventions through Babel's CLDR data: Vietnamese
writes 66,08 and 1.539, English 66.08 and 1,539. Every index is shown with the
same two decimals, wherever it appears.
"""

from __future__ import annotations

import functools
from datetime import date
from pathlib import Path

import yaml
from babel.numbers import format_decimal

from bot.settings import LANGUAGES

LOCALE_DIR = Path(__file__).parent / "locales"
PRIMARY = "vi"
INDEX_DECIMALS = 2
MISSING = "—"


def number(
    value: float | None, lang: str, decimals: int = INDEX_DECIMALS, sign: bool = False
) -> str:
    """A decimal as `lang` writes it (66,08 / 66.08); "—" when there is no value."""
    if value is None:
        return MISSING
    digits = "0" * decimals
    pattern = f"#,##0.{digits}" if decimals else "#,##0"
    if sign:
        pattern = f"+{pattern};-{pattern}"
    return format_decimal(value, format=pattern, locale=lang if lang in LANGUAGES else PRIMARY)


def count(value: int | None, lang: str) -> str:
    """A whole number with the language's grouping (1.539 / 1,539)."""
    return number(value, lang, decimals=0)


def day(value: date) -> str:
    """Dates as Vietnamese documents write them, also in English output: dd/mm/yyyy."""
    return value.strftime("%d/%m/%Y")


class Translator:
    def __init__(self, catalogs: dict[str, dict[str, str]], default_language: str = PRIMARY):
        self.catalogs = catalogs
        self.default_language = default_language

    @classmethod
    def load(cls, default_language: str = PRIMARY, directory: Path = LOCALE_DIR) -> Translator:
        catalogs = {}
        for language in LANGUAGES:
            with open(directory / f"{language}.yaml", encoding="utf-8") as file:
                catalogs[language] = yaml.safe_load(file)
        return cls(catalogs, default_language)

    def language(self, preferred: str | None) -> str:
        return preferred if preferred in self.catalogs else self.default_language

    def __call__(self, language: str | None, key: str, **params: object) -> str:
        catalog = self.catalogs.get(self.language(language), {})
        template = catalog.get(key) or self.catalogs[PRIMARY][key]
        return template.format(**params).strip() if params else template.strip()


@functools.cache
def shipped() -> Translator:
    """The catalogs shipped in bot/locales, read once: for what is rendered outside a chat
    (reports, charts, workbooks, templates), whose callers hold no translator."""
    return Translator.load()
