"""Accent-insensitive text folding.

Citizens type answers and agency names with or without Vietnamese diacritics, in any
case, often with stray punctuation ("4. Hài lòng", "so tu phap!"). Comparing folded
forms lets one table of phrases match all of those spellings.
"""

from __future__ import annotations

import unicodedata

# "đ" is a letter of its own, not "d" plus a mark, so NFD leaves it alone. "ð" (the
# Icelandic eth) is what some legacy Vietnamese encodings produce for "Đ" when converted.
_LETTER_MAP = str.maketrans({"đ": "d", "ð": "d"})


def fold(text: str) -> str:
    """Return ``text`` casefolded, without diacritics, with punctuation as single spaces.

    Symbols (emoji, "+", "&") and invisible format characters count as punctuation here:
    none of them changes what a typed answer or an agency name means.
    """
    decomposed = unicodedata.normalize("NFD", text.casefold())
    chars: list[str] = []
    for char in decomposed:
        category = unicodedata.category(char)
        if category in ("Mn", "Me"):  # accents; enclosing marks such as the keycap in "4️⃣"
            continue
        if category[0] in "PSCZ":  # punctuation, symbol, control/format, separator
            chars.append(" ")
        else:
            chars.append(char)
    return " ".join("".join(chars).translate(_LETTER_MAP).split())
