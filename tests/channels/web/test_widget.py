"""The widget must stay light enough for a child's phone on a poor connection."""

from __future__ import annotations

import gzip
from pathlib import Path

import frontdoor.channels.web.chat as web

CAP_BYTES = 20 * 1024  # issue 4: script and styles together at most 20 KB gzipped


def gzipped_size(*names: str) -> int:
    return sum(len(gzip.compress((web.STATIC / name).read_bytes(), compresslevel=9)) for name in names)


def test_widget_script_and_styles_weigh_at_most_20_kb_gzipped() -> None:
    size = gzipped_size("widget.js", "widget.css")
    assert 2_000 < size <= CAP_BYTES, size


def test_widget_has_no_inline_handlers_eval_or_third_party_urls() -> None:
    source = (web.STATIC / "widget.js").read_text()
    assert "eval(" not in source and "new Function" not in source and "innerHTML" not in source
    pages = [*Path(web.STATIC).glob("*.html"), *(Path(web.STATIC).parent / "templates").glob("*.html")]
    assert any(p.name == "demo.html" for p in pages) and any(p.name == "receipt.html" for p in pages)
    for path in pages:
        html = path.read_text()
        assert "<script>" not in html and " on" + "click=" not in html and "style=" not in html, path
