"""Attachments: described by use cases, drawn after the commit, or sent as signed links.

Structural, not timed: the use cases' replies carry descriptions and no bytes (so
nothing was drawn inside their transaction), the modules that run inside it do not
import a renderer, and `prepare` turns a description into a valid PNG / XLSX where
files go or into its link line where they do not. The download route is fuzzed:
whatever token arrives, the answer is 403/404/410, never 5xx, and nothing is stored.
"""

from __future__ import annotations

import ast
import io
from collections import Counter
from datetime import date
from pathlib import Path

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook
from sqlalchemy import func, select

from bot.channels.console import CAPABILITIES as CONSOLE
from bot.channels.telegram import CAPABILITIES as TELEGRAM
from bot.channels.zalo_bot import CAPABILITIES as ZALO_BOT
from bot.models import Chat, Official, OfficialDigest, OutboxMessage, ProcessedUpdate
from bot.rendering import prepare
from bot.web import build_app, start_server
from bot.web.files import add_official_routes
from handlers.messages import (
    ChartAttachment,
    Outbound,
    Sheet,
    StoredFile,
    WorkbookAttachment,
)
from handlers.officials import links
from tests.bot.web.test_app import free_port
from tests.builders import QUESTIONNAIRES, TRANSLATOR, Citizen, FakeClock, make_processor
from tests.officials_helpers import (
    LINK_SECRET,
    all_at,
    invite,
    officials_settings,
    respond,
    seed_agencies,
    vn,
)

PNG = b"\x89PNG\r\n\x1a\n"
ROOT = Path(__file__).resolve().parents[3]
CHART = ChartAttachment(
    title="Chỉ số hài lòng theo yếu tố — 2026-11",
    labels=("F1\nTiếp cận", "F2\nThủ tục"),
    current=(80.0, 66.5),
    current_low=(3.0, 4.0),
    current_high=(2.5, 3.5),
    annotations=("80,00", "66,50"),
    previous=(75.0, 0.0),
    current_label="Kỳ này (2026-11)",
    previous_label="Kỳ trước (2026-10)",
    target=80.0,
    target_label="Mục tiêu 80%",
    y_label="Chỉ số (%)",
    file_name="sipas-2026-11.png",
    fallback="Biểu đồ: https://example.test/officials/files/x",
)
WORKBOOK = WorkbookAttachment(
    (Sheet("Tổng quan", ("Mục", "Giá trị"), (("Số phiếu", 3), ("SIPAS", 66.5)), typed_column=1),),
    "sipas-2026-11.xlsx",
    "Bảng tính Excel: https://example.test/officials/files/y",
)


async def test_where_files_go_each_description_becomes_a_valid_file_in_order():
    replies = [
        Outbound("văn bản"),
        Outbound("biểu đồ", attachment=CHART),
        Outbound("bảng tính", attachment=WORKBOOK),
        Outbound("đã lưu", attachment=StoredFile(b"%PDF-1.7", False, "a.pdf", "link")),
    ]
    text, chart, workbook, stored = await prepare(replies, TELEGRAM)
    assert text == replies[0]
    assert chart.image is not None and chart.image.startswith(PNG) and chart.file is None
    assert chart.text == "biểu đồ" and chart.attachment is None
    sheet = load_workbook(io.BytesIO(workbook.file))["Tổng quan"]
    assert dict(sheet.values) == {"Mục": "Giá trị", "Số phiếu": 3, "SIPAS": 66.5}
    assert sheet["B3"].number_format == "0.00" and sheet["B2"].number_format == "#,##0"
    assert workbook.file_name == "sipas-2026-11.xlsx" and workbook.image is None
    assert (stored.file, stored.file_name, stored.attachment) == (b"%PDF-1.7", "a.pdf", None)


@pytest.mark.parametrize("capabilities", [ZALO_BOT, CONSOLE])
async def test_where_files_cannot_go_the_fallback_line_is_sent_and_nothing_drawn(capabilities):
    replies = [Outbound("biểu đồ", attachment=CHART), Outbound("", attachment=WORKBOOK)]
    chart, workbook = await prepare(replies, capabilities)
    assert chart.text == f"biểu đồ\n{CHART.fallback}" and workbook.text == WORKBOOK.fallback
    for reply in (chart, workbook):
        assert (reply.image, reply.file, reply.attachment) == (None, None, None)


DRAWING = ("matplotlib", "openpyxl", "fpdf")


def _imports(path: Path, top_level: bool = False) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in tree.body if top_level else ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_nothing_that_runs_inside_a_transaction_imports_a_renderer():
    """Use cases and their content builders cannot draw: they never import a drawing
    library nor `bot.rendering`; the report describers import one only in their CLI
    writers (function-level), so describing a report loads no drawing library."""
    for path in [*ROOT.glob("handlers/*.py"), ROOT / "handlers/officials/content.py"]:
        names = _imports(path)
        assert not {n for n in names if n.split(".")[0] in DRAWING or n.startswith("bot.rendering")}
    for name in ("chart", "workbook"):
        path = ROOT / f"handlers/reports/{name}.py"
        assert not {n for n in _imports(path, top_level=True) if n.split(".")[0] in DRAWING}
    for name in ("chart", "workbook"):  # the drawers load their library only when drawing
        path = ROOT / f"bot/rendering/{name}.py"
        assert not {n for n in _imports(path, top_level=True) if n.split(".")[0] in DRAWING}


async def _official(database, clock, secret: bool = True) -> Citizen:
    ids = await seed_agencies(database)
    await respond(database, ids, "DNAI-STP", date(2026, 11, 24), all_at(5))
    extra = {"link_secret": LINK_SECRET} if secret else {}
    app_settings = officials_settings(database, **extra)
    if secret:
        app_settings = app_settings.model_copy(update={"public_base_url": "https://sipas.test"})
    processor = make_processor(database, clock, app_settings)
    official = Citizen(processor, "o-1")
    code = await invite(database, agency="DNAI-STP", now=clock.now)
    assert (await official.say(f"/register {code}"))[0].text.startswith("Đăng ký thành công")
    return official


async def test_use_cases_return_descriptions_with_links_and_never_bytes(database):
    clock = FakeClock(vn(2026, 11, 26, 9))
    official = await _official(database, clock)
    found = Counter()
    for command in ("/scores 2026-11", "/export 2026-11", "/digest"):
        for reply in await official.say(command):
            assert (reply.image, reply.file) == (None, None), command  # nothing drawn inside
            if reply.attachment is not None:
                found[type(reply.attachment).__name__] += 1
                assert "https://sipas.test/officials/files/" in reply.attachment.fallback
                assert "(Đường dẫn hết hạn lúc 09:00 27/11/2026.)" in reply.attachment.fallback
    assert found == {"ChartAttachment": 2, "WorkbookAttachment": 2}
    # The same description, prepared for Telegram, is the file itself.
    (scores,) = [r for r in await official.say("/scores 2026-11") if r.attachment]
    (drawn,) = await prepare([scores], TELEGRAM)
    assert drawn.image.startswith(PNG) and drawn.text == scores.text


async def test_without_a_link_secret_the_fallback_says_where_to_get_the_file(database):
    official = await _official(database, FakeClock(vn(2026, 11, 26, 9)), secret=False)
    (reply,) = await official.say("/export 2026-11")
    (prepared,) = await prepare([reply], ZALO_BOT)
    assert prepared.text.endswith(TRANSLATOR("vi", "official_links_unavailable"))
    assert "Telegram" in TRANSLATOR("en", "official_links_unavailable")


# -- the download route, fuzzed -----------------------------------------------------------

FUZZ = settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
URL_SAFE = st.text(
    st.characters(codec="ascii", exclude_characters="/?#%", exclude_categories=("Cc",)),
    min_size=1,
    max_size=1200,
)


@pytest.fixture
async def route(database):
    """The download route on loopback, with a genuine link to mutate."""
    clock = FakeClock(vn(2026, 11, 26, 9))
    app_settings = officials_settings(database, link_secret=LINK_SECRET)
    app = build_app(database)
    add_official_routes(app, database, app_settings, QUESTIONNAIRES, clock)
    port = free_port()
    runner = await start_server(app, "127.0.0.1", port)
    genuine = links.sign(
        LINK_SECRET.encode(),
        {
            "k": "png",
            "o": 1,
            "a": "DNAI-STP",
            "p": ["2026-11-01", "2026-11-30", "month"],
            "x": int(clock.now.timestamp()) + 3600,
        },
    )
    try:
        async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{port}") as client:
            yield database, client, genuine
    finally:
        await runner.cleanup()


async def _counts(database) -> tuple[int, ...]:
    async with database.transaction() as session:
        return tuple(
            [
                await session.scalar(select(func.count()).select_from(model))
                for model in (Chat, Official, OfficialDigest, OutboxMessage, ProcessedUpdate)
            ]
        )


@FUZZ
@given(
    token=st.one_of(URL_SAFE, st.binary(max_size=64).map(lambda b: b.hex())),
    cut=st.integers(0, 200),
    flip=st.integers(0, 200),
    mutate=st.booleans(),
)
async def test_any_token_is_refused_below_500_and_stores_nothing(route, token, cut, flip, mutate):
    database, client, genuine = route
    if mutate:  # a genuine token cut short or with one character changed
        position = flip % len(genuine)
        changed = "A" if genuine[position] != "A" else "B"
        token = (genuine[:position] + changed + genuine[position + 1 :])[: len(genuine) - cut]
    before = await _counts(database)
    async with client.get(f"{links.PATH}/{token}") as response:
        await response.read()
        assert response.status in (403, 404, 410), (token, response.status)
        assert response.headers.get("Cache-Control") == "no-store" or response.status == 404
    assert await _counts(database) == before
