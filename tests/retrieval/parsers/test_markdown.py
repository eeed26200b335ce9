"""Markdown: ATX and setext headings, front matter, code fences, lists, tables, inline markup."""

from __future__ import annotations

import pytest

from longlens.retrieval.parsers import parse
from longlens.schema import ParseError

DOC = """---
title: "Calibration Notes"
tags: [a, b]
---

Intro before headings with a [link](http://example.com) and ![alt text](x.png).

Telescope
=========

Setext level one.

Mirror
------

### Tilt

Keep tilt within **0.02 degrees**
and check `focus` nightly.

```python
# not a heading inside a fence
x = 1
```

- first item
- second item
  1. nested one
  2. nested two

## Readout

| Mode | Speed |
|------|-------|
| slow | 100 kHz |

> Quoted advice.

<div>Raw <b>HTML</b> block</div>

# Second top
Plain.
"""


def test_structure(tmp_path, offsets):
    path = tmp_path / "notes.md"
    path.write_text(DOC, encoding="utf-8")
    doc = parse(path)
    assert doc.doc_type == "markdown" and doc.title == "Calibration Notes"
    got = [(s.heading_path, s.text) for s in doc.segments]
    assert got == [
        ((), "Intro before headings with a link and alt text."),
        (("Telescope",), "Setext level one."),
        (("Telescope", "Mirror", "Tilt"), "Keep tilt within 0.02 degrees\nand check focus nightly."),
        (("Telescope", "Mirror", "Tilt"), "# not a heading inside a fence\nx = 1"),
        (("Telescope", "Mirror", "Tilt"), "- first item\n- second item\n  1. nested one\n  2. nested two"),
        (("Telescope", "Readout"), "Mode\tSpeed\nslow\t100 kHz"),
        (("Telescope", "Readout"), "Quoted advice."),
        (("Telescope", "Readout"), "Raw HTML block"),
        (("Second top",), "Plain."),
    ]
    text = offsets(doc)
    assert "tags:" not in text and "**" not in text


def test_title_from_first_h1_without_front_matter(tmp_path):
    path = tmp_path / "readme.markdown"
    path.write_text("## Minor\n\ntext\n\n# Major Title\n\nmore\n")
    assert parse(path).title == "Major Title"


def test_toml_front_matter_and_crlf(tmp_path):
    path = tmp_path / "post.md"
    path.write_bytes(b'+++\r\ntitle = "Toml Post"\r\n+++\r\n# Head\r\n\r\nBody line.\r\n')
    doc = parse(path)
    assert doc.title == "Toml Post"
    assert [(s.heading_path, s.text) for s in doc.segments] == [(("Head",), "Body line.")]


def test_cp1252_markdown(tmp_path):
    path = tmp_path / "menu.md"
    path.write_bytes("# Menu\n\nCrème brûlée costs €6.50 — “good”.\n".encode("cp1252"))
    assert parse(path).segments[0].text == "Crème brûlée costs €6.50 — “good”."


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "^empty file$"), (b"# Only\n\n## Headings\n", "^no text found$"), (b"\x00\x01" * 50, "^binary")],
    ids=["empty", "headings-only", "binary"],
)
def test_bad_markdown(tmp_path, content, message):
    path = tmp_path / "bad.md"
    path.write_bytes(content)
    with pytest.raises(ParseError, match=message):
        parse(path)
