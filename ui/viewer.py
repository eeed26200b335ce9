"""Source viewer: a PDF page with the cited passage highlighted, or the passage in its text (escaped)."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pypdfium2 as pdfium
from PIL import Image, ImageDraw


def render_pdf_page(path: str | Path, page: int, quote: str, scale: float = 1.5) -> Image.Image:
    """Render 1-based `page` and draw boxes round the characters of the quoted passage."""
    pdf = pdfium.PdfDocument(str(path))
    pg = pdf[max(0, page - 1)]
    img = pg.render(scale=scale).to_pil().convert("RGB")
    height = pg.get_height()
    textpage = pg.get_textpage()
    overlay = Image.new("RGBA", img.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    for probe in _probes(quote):
        hit = textpage.search(probe, match_case=False).get_next()
        if hit is None:
            continue
        start, count = hit
        for i in range(start, start + count):
            left, bottom, right, top = textpage.get_charbox(i)
            draw.rectangle([left * scale, (height - top) * scale, right * scale, (height - bottom) * scale],
                           fill=(255, 230, 0, 110))
    return Image.alpha_composite(img.convert("RGBA"), overlay).convert("RGB")


def _probes(quote: str, words: int = 4) -> list[str]:
    """Short word runs of the quote: a PDF's line breaks split long phrases, short runs still match."""
    tokens = quote.split()
    return [" ".join(tokens[i:i + words]) for i in range(0, len(tokens), words)][:200]


MARKDOWN_PUNCTUATION = re.compile(r"([\\`*_{}\[\]()#+\-.!|~:])")


def inert(text: str) -> str:
    """`text` shown as typed by a Markdown view: no HTML, and no Markdown image or link that would fetch from
    a remote host when a citation is opened (a document's tracking pixel)."""
    return MARKDOWN_PUNCTUATION.sub(r"\\\1", html.escape(text, quote=False))


def passage_markdown(text: str, quote: str, context: int = 600) -> str:
    """The quote in its surrounding text; everything escaped so a document can never inject HTML or images."""
    idx = text.find(quote[:80]) if quote else -1
    if idx < 0:
        return inert(quote)
    before = inert(text[max(0, idx - context):idx])
    mid = inert(quote)
    after = inert(text[idx + len(quote):idx + len(quote) + context])
    return f"{before}<mark>{mid}</mark>{after}"
