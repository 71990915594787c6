"""Both message catalogs say the same things with the same placeholders."""

from __future__ import annotations

import string
from datetime import date

from bot import i18n
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


def test_numbers_follow_each_languages_conventions():
    assert i18n.number(66.08, "vi") == "66,08" and i18n.number(66.08, "en") == "66.08"
    assert i18n.count(1539, "vi") == "1.539" and i18n.count(1539, "en") == "1,539"
    assert i18n.number(1234567.891, "vi") == "1.234.567,89"
    assert i18n.number(-2.5, "vi", sign=True) == "-2,50"
    assert i18n.number(2.5, "en", sign=True) == "+2.50"
    assert i18n.number(None, "vi") == "—"
    assert i18n.number(80.0, "xx") == "80,00"  # an unknown language falls back to Vietnamese


def test_dates_are_written_day_first():
    assert i18n.day(date(2027, 2, 3)) == "03/02/2027"
