"""Builders for parser inputs: every test writes its own files into tmp_path."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from longlens.retrieval.parsers import full_text
from longlens.schema import ParsedDocument


def write_text_pdf(path: Path, pages: list[str], title: str | None = None) -> Path:
    """A PDF whose page i holds pages[i] (one drawString per line); "" makes a truly blank page."""
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), invariant=1)
    if title is not None:
        c.setTitle(title)
    for text in pages:
        y = 780
        for line in text.splitlines():
            c.drawString(60, y, line)
            y -= 16
        c.showPage()
    c.save()
    return path


def write_image_pdf(path: Path, pages: list[str | tuple[str, ...]], stamp: str = "") -> Path:
    """A PDF mixing text pages (str) and scanned-looking pages (tuple of lines drawn into an image),
    the latter optionally stamped with a little real text, as scanners and Bates numbering do."""
    from PIL import Image, ImageDraw, ImageFont
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pagesize=A4, invariant=1)
    for page in pages:
        if isinstance(page, str):
            c.drawString(60, 780, page)
        else:
            image = Image.new("L", (1240, 1754), 255)  # A4 at 150 dpi
            draw = ImageDraw.Draw(image)
            font = ImageFont.load_default(size=40)
            for i, line in enumerate(page):
                draw.text((100, 150 + 70 * i), line, fill=0, font=font)
            c.drawImage(ImageReader(image), 0, 0, width=A4[0], height=A4[1])
            if stamp:
                c.drawString(60, 30, stamp)
        c.showPage()
    c.save()
    return path


def check_offsets(doc: ParsedDocument) -> str:
    """Every segment's text is its slice of the full text; returns the full text."""
    text = full_text(doc.segments)
    assert doc.segments, "no segments"
    for seg in doc.segments:
        assert text[seg.char_start : seg.char_end] == seg.text
        assert seg.text == seg.text.strip("\n") and seg.text.strip()
    starts = [seg.char_start for seg in doc.segments]
    assert starts == sorted(starts) and starts[0] == 0
    assert doc.segments[-1].char_end == len(text)
    return text


@pytest.fixture
def text_pdf() -> Callable[..., Path]:
    return write_text_pdf


@pytest.fixture
def image_pdf() -> Callable[..., Path]:
    return write_image_pdf


@pytest.fixture
def offsets() -> Callable[[ParsedDocument], str]:
    return check_offsets
