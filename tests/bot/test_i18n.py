"""Both message catalogs say the same things with the same placeholders."""

from __future__ import annotations

import ast
import re
import string
from datetime import date
from pathlib import Path

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


# Files whose Vietnamese strings are data, not copy: the column headers and state names
# of the one-stop systems' exports and of the paper-form files, which are matched as
# written; and operator-facing command-line help. The report workbook's labels are still
# to move (handlers/reports/workbook.py).
_DATA_VOCABULARY = {
    "handlers/dossiers/records.py",
    "handlers/survey/forms_import.py",
    "bot/rendering/forms_template.py",
    "bot/cli/reports.py",
    "handlers/reports/workbook.py",
}
_VIETNAMESE = re.compile(
    r"[àáạảãâầấậẩẫăằắặẳẵèéẹẻẽêềếệểễìíịỉĩòóọỏõôồốộổỗơờớợởỡùúụủũưừứựửữỳýỵỷỹđ]", re.I
)


def _sentences(path: Path) -> list[tuple[int, str]]:
    """String literals (docstrings aside) of three words or more with Vietnamese letters."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {  # of modules, classes, functions and attributes alike
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
    }
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
        and _VIETNAMESE.search(node.value)
        and len(node.value.split()) >= 3
    ]


def test_no_vietnamese_copy_is_written_in_the_code():
    root = Path(__file__).resolve().parents[2]
    found = [
        f"{path.relative_to(root)}:{line}: {text[:60]}"
        for package in ("bot", "handlers")
        for path in sorted((root / package).rglob("*.py"))
        if str(path.relative_to(root)) not in _DATA_VOCABULARY
        for line, text in _sentences(path)
    ]
    assert found == [], "move these to bot/locales/{vi,en}.yaml:\n" + "\n".join(found)


def test_report_headings_and_the_command_menu_come_from_both_catalogs():
    from bot.channels._telegram_api import COMMANDS
    from handlers.reports.render import heading

    assert heading("vi", "ci") == "KTC 95%" and heading("en", "ci") == "95% CI"
    assert heading("fr", "title") == heading("vi", "title")
    assert dict(COMMANDS["vi"])["skip"] == "Bỏ qua câu không bắt buộc"
    assert dict(COMMANDS["en"])["skip"] == "Skip an optional question"
