"""Cutting long texts for Zalo, which refuses messages over 2,000 characters."""

from __future__ import annotations

ZALO_TEXT_LIMIT = 2000


def split_text(text: str, limit: int = ZALO_TEXT_LIMIT) -> list[str]:
    """Pieces of at most `limit` characters, cut at line ends where possible.

    A numbered option cut in half would be unreadable, so whole lines are kept
    together; only a single line longer than the limit is cut, at a space if it
    has one. Pieces holding only blank space are dropped (Zalo refuses them).
    """
    if len(text) <= limit:
        return [text] if text.strip() else []
    pieces: list[str] = []
    current: list[str] = []
    size = -1  # length of "\n".join(current)

    def flush() -> None:
        nonlocal current, size
        if current and "\n".join(current).strip():
            pieces.append("\n".join(current))
        current, size = [], -1

    for line in text.split("\n"):
        while len(line) > limit:
            flush()
            cut = line.rfind(" ", 1, limit + 1)
            cut = cut if cut > 0 else limit
            pieces.append(line[:cut])
            line = line[cut:].lstrip(" ")
        if size + 1 + len(line) > limit:
            flush()
        current.append(line)
        size += 1 + len(line)
    flush()
    return pieces
