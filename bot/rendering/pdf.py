"""A printable apology notice: A4, laid out like a Vietnamese administrative document.

Layout after Nghị định 30/2020/NĐ-CP: agency names top left with the notice
number under them, the national motto top right with place and date, the title
centred in bold, the addressee, the body justified, the signature block on the
right. Margins 20/15/20/30 mm (top/right/bottom/left), 13 pt serif text.

The font is embedded (subset) so that Vietnamese renders anywhere: DejaVu Serif,
found in DOSSIER_PDF_FONT, matplotlib's bundled fonts, or Debian's fonts-dejavu.
"""

from __future__ import annotations

import importlib.util
import unicodedata
from pathlib import Path

from fpdf import FPDF

from bot.models import ApologyNotice
from handlers.dossiers import NoticeTemplate, notice_values

_FAMILY = "DejaVuSerif"
_STYLES = {"": "DejaVuSerif.ttf", "B": "DejaVuSerif-Bold.ttf", "I": "DejaVuSerif-Italic.ttf"}
_DEBIAN = Path("/usr/share/fonts/truetype/dejavu")


class FontMissing(RuntimeError):
    """No font that can render Vietnamese was found."""


def font_files(configured: str | None = None) -> dict[str, Path]:
    """Regular, bold and italic files of the first place that has them."""
    places: list[Path] = []
    if configured:
        path = Path(configured)
        places.append(path.parent if path.is_file() else path)
    spec = importlib.util.find_spec("matplotlib")
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            places.append(Path(location) / "mpl-data" / "fonts" / "ttf")
    places.append(_DEBIAN)
    for place in places:
        files = {style: place / name for style, name in _STYLES.items()}
        if all(path.is_file() for path in files.values()):
            return files
    raise FontMissing(
        "no DejaVu Serif font found: install matplotlib (pip) or fonts-dejavu-core (apt), "
        "or set DOSSIER_PDF_FONT to the folder holding DejaVuSerif.ttf"
    )


def _nfc(text: str) -> str:
    """Precomposed letters: the font has them, combining marks would misplace accents."""
    return unicodedata.normalize("NFC", text)


class _Notice(FPDF):
    def __init__(self, fonts: dict[str, Path]):
        super().__init__(orientation="P", unit="mm", format="A4")
        self.set_margins(left=30, top=20, right=15)
        self.set_auto_page_break(auto=True, margin=20)
        for style, path in fonts.items():
            self.add_font(_FAMILY, style, str(path))

    def line_of(
        self,
        text: str,
        *,
        width: float,
        style: str = "",
        size: float = 13,
        align: str = "C",
        x: float | None = None,
        height: float = 6.5,
    ) -> None:
        if x is not None:
            self.set_x(x)
        self.set_font(_FAMILY, style, size)
        self.multi_cell(width, height, _nfc(text), align=align, new_x="LEFT", new_y="NEXT")

    def rule(self, x_centre: float, length: float) -> None:
        y = self.get_y() + 0.5
        self.set_line_width(0.3)
        self.line(x_centre - length / 2, y, x_centre + length / 2, y)
        self.set_y(y + 2)


def render_pdf(notice: ApologyNotice, template: NoticeTemplate, font: str | None = None) -> bytes:
    """The notice as PDF bytes."""
    values = notice_values(notice, template)
    pdf = _Notice(font_files(font))
    pdf.set_title(_nfc(template.text("title", values)))
    pdf.set_author(_nfc(notice.agency_name))
    pdf.add_page()
    left, width = pdf.l_margin, pdf.w - pdf.l_margin - pdf.r_margin
    left_width, right_width = 66.0, width - 66.0 + 6
    right_x = left + width - right_width
    top = pdf.get_y()

    # Left column: parent agency, agency (bold), a short rule, the number.
    lines = [template.substitute(raw, values) for raw in template.data.get("header_left", [])]
    lines = [line for line in lines if line]
    for index, line in enumerate(lines):
        bold = "B" if index == len(lines) - 1 else ""
        pdf.line_of(line, width=left_width, style=bold, size=12, x=left, height=5.5)
    pdf.rule(left + left_width / 2, 22)
    pdf.line_of(template.text("number", values), width=left_width, size=13, x=left)
    left_bottom = pdf.get_y()

    # Right column: the motto, a rule under its second line, place and date in italics.
    pdf.set_y(top)
    motto = [str(line) for line in template.data.get("motto", [])]
    for index, line in enumerate(motto):
        pdf.line_of(
            line,
            width=right_width,
            style="B",
            size=11 if index == 0 else 12.5,
            x=right_x,
            height=5.5,
        )
    pdf.rule(right_x + right_width / 2, 55)
    pdf.line_of(template.text("place_date", values), width=right_width, style="I", x=right_x)
    pdf.set_y(max(left_bottom, pdf.get_y()) + 8)

    pdf.line_of(template.text("title", values), width=width, style="B", size=13.5, x=left)
    pdf.ln(3)
    pdf.line_of(template.text("recipient", values), width=width, x=left)
    pdf.ln(4)
    pdf.set_font(_FAMILY, "", 13)
    with pdf.text_columns(text_align="J", l_margin=left, r_margin=pdf.r_margin) as columns:
        for paragraph in template.text("body", values).split("\n\n"):
            paragraph = " ".join(paragraph.split())
            if paragraph:
                with columns.paragraph(
                    first_line_indent=10, line_height=1.3, bottom_margin=2
                ) as text:
                    text.write(_nfc(paragraph))

    pdf.ln(6)
    sign_x, sign_width = left + width / 2, width / 2
    if pdf.get_y() > pdf.h - 60:
        pdf.add_page()
    pdf.line_of(template.text("signer_title", values), width=sign_width, style="B", x=sign_x)
    pdf.line_of(
        template.text("signature_hint", values), width=sign_width, style="I", size=12, x=sign_x
    )
    pdf.ln(22)
    pdf.line_of(template.text("signer_name", values) or " ", width=sign_width, style="B", x=sign_x)
    return bytes(pdf.output())
