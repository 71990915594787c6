"""Message catalogs: every sentence the bot says, per language, outside the code.

Catalogs are YAML files in `bot/locales/`, so a translator or an official can
correct wording without touching Python. A key missing in one language falls
back to Vietnamese, the primary language of the bot.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from bot.settings import LANGUAGES

LOCALE_DIR = Path(__file__).parent / "locales"
PRIMARY = "vi"


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
