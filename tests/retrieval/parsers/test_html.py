"""HTML: noise removal, heading paths, blocks (lists, tables, pre), titles, encodings."""

from __future__ import annotations

import pytest

from longlens.retrieval.parsers import parse
from longlens.schema import ParseError

PAGE = """<!DOCTYPE html><html><head><title> Library  Guide </title>
<style>.x { color: red }</style><script>var tracking = "SCRIPT NOISE";</script></head>
<body>
<header><a href="/">HEADER NOISE home</a></header>
<nav><a href="/a">NAV NOISE</a></nav>
<main>
  <h1>Orchard <em>Library</em></h1>
  <p>Open   since
     1911.</p>
  <h2>Hours</h2>
  <p>Wednesday until 20:30.<br>Closed on Sunday.</p>
  <div hidden>HIDDEN NOISE</div>
  <div style="display: none">STYLE NOISE</div>
  <h3>Holidays</h3>
  <ul><li>New Year</li><li><p>Easter Monday</p></li></ul>
  <h2>Collections</h2>
  <table><tr><th>Kind</th><th>Items</th></tr><tr><td>Maps</td><td>38</td></tr></table>
  <pre>  indented
    code</pre>
  <!-- COMMENT NOISE -->
  <aside>ASIDE NOISE</aside>
</main>
<footer>FOOTER NOISE</footer>
</body></html>"""


def test_blocks_headings_and_noise(tmp_path, offsets):
    path = tmp_path / "page.html"
    path.write_text(PAGE, encoding="utf-8")
    doc = parse(path)
    assert doc.doc_type == "html" and doc.title == "Library Guide"
    got = [(s.heading_path, s.text) for s in doc.segments]
    assert got == [
        (("Orchard Library",), "Open since 1911."),
        (("Orchard Library", "Hours"), "Wednesday until 20:30.\nClosed on Sunday."),
        (("Orchard Library", "Hours", "Holidays"), "- New Year"),
        (("Orchard Library", "Hours", "Holidays"), "- Easter Monday"),
        (("Orchard Library", "Collections"), "Kind\tItems\nMaps\t38"),
        (("Orchard Library", "Collections"), "  indented\n    code"),
    ]
    assert "NOISE" not in offsets(doc)


def test_title_falls_back_to_first_h1(tmp_path):
    path = tmp_path / "page.htm"
    path.write_text("<html><body><h2>Sub</h2><p>x</p><h1>Main Title</h1><p>y</p></body></html>")
    assert parse(path).title == "Main Title"


def test_article_header_is_kept(tmp_path):
    path = tmp_path / "a.html"
    path.write_text("<body><article><header><h1>Story</h1><p>By A. Writer</p></header><p>Text.</p></article>")
    doc = parse(path)
    assert [(s.heading_path, s.text) for s in doc.segments] == [(("Story",), "By A. Writer"), (("Story",), "Text.")]


def test_declared_legacy_charset(tmp_path):
    path = tmp_path / "old.html"
    html = '<html><head><meta charset="windows-1252"></head><body><p>Crème brûlée — €6.50</p></body></html>'
    path.write_bytes(html.encode("cp1252"))
    assert parse(path).segments[0].text == "Crème brûlée — €6.50"


def test_deep_nesting_does_not_recurse(tmp_path):
    path = tmp_path / "deep.html"
    path.write_text("<body>" + "<div>" * 3000 + "<p>deep text</p>" + "</div>" * 3000 + "</body>")
    assert parse(path).segments[0].text == "deep text"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "^empty file$"),
        (b"<html><body><script>only()</script><nav>menu</nav></body></html>", "^no text found$"),
        (b"\x00\x01\x02<html>" * 100, "^binary content"),
    ],
    ids=["empty", "only-noise", "binary"],
)
def test_bad_html(tmp_path, content, message):
    path = tmp_path / "bad.html"
    path.write_bytes(content)
    with pytest.raises(ParseError, match=message):
        parse(path)
