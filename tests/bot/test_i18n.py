"""Both message catalogs say the same things with the same placeholders."""

from __future__ import annotations

import string

from bot.i18n import Translator


def placeholders(template: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(template) if field}


def test_catalogs_have_the_same_keys_and_placeholders():
    catalogs = Translator.load().catalogs
    assert set(catalogs["vi"]) == set(catalogs["en"])
    for key, vietnamese in catalogs["vi"].items():
        assert placeholders(vietnamese) == placeholders(catalogs["en"][key]), key
        assert vietnamese.strip() and catalogs["en"][key].strip(), key


def test_unknown_language_falls_back_to_the_default():
    translate = Translator.load(default_language="vi")
    assert translate("fr", "progress", number=7, total=22) == "Câu 7/22"
    assert translate("en", "progress", number=7, total=22) == "Question 7/22"
