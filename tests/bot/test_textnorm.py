"""fold() is what makes typed answers and agency searches accent-insensitive."""

import pytest

from bot.textnorm import fold


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Đồng Nai", "dong nai"),
        ("ĐỒNG", "dong"),
        ("đường", "duong"),
        ("Rất không hài lòng", "rat khong hai long"),
        ("HÀI LÒNG", "hai long"),
        ("  4.  Hài   lòng!! ", "4 hai long"),
        ("Sở Tài nguyên & Môi trường", "so tai nguyen moi truong"),
        ("UBND xã Tân Lập (cũ)", "ubnd xa tan lap cu"),
        ("18–24 tuổi", "18 24 tuoi"),
        ("a\tb\nc\u00a0d", "a b c d"),
        ("4️⃣", "4"),
        ("👍 có", "co"),
        ("", ""),
        ("...", ""),
    ],
)
def test_fold(text: str, expected: str) -> None:
    assert fold(text) == expected


def test_fold_same_for_precomposed_and_combining_input() -> None:
    precomposed = "Hải Phòng"
    combining = "Ha\u0309i Pho\u0300ng"
    assert fold(precomposed) == fold(combining) == "hai phong"


def test_fold_is_idempotent() -> None:
    for text in ("Đồng Nai", "Không ý kiến", "Q.1, TP. Hồ Chí Minh"):
        assert fold(fold(text)) == fold(text)
