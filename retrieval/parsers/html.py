"""HTML with BeautifulSoup + lxml: main text in reading order, h1..h6 as the section path.

Navigation, scripts, styles, forms and page furniture (nav, footer, aside, a site-wide header, anything
hidden or with a navigation/contentinfo role) are dropped so they do not flood retrieval. The walk is
iterative: deeply nested markup must not hit Python's recursion limit.
"""

from __future__ import annotations

import re
from pathlib import Path

from bs4 import BeautifulSoup, NavigableString, Tag
from bs4.element import CData, Comment, Declaration, Doctype, ProcessingInstruction

from longlens.retrieval.parsers._common import ParseOptions, collapse_spaces, finalize, read_bytes
from longlens.retrieval.parsers.text import looks_binary
from longlens.schema import ParsedDocument, ParseError, Segment

NOISE_TAGS = {
    "script", "style", "noscript", "template", "nav", "footer", "aside", "form", "button", "select",
    "textarea", "iframe", "object", "embed", "svg", "canvas", "map", "dialog", "head", "meta", "link",
}  # fmt: skip
NOISE_ROLES = {"navigation", "banner", "contentinfo", "search", "complementary", "dialog", "menu"}
BLOCK_TAGS = {
    "p", "div", "section", "article", "main", "header", "li", "ul", "ol", "dl", "dt", "dd", "blockquote",
    "figure", "figcaption", "address", "details", "summary", "caption", "hr", "body", "center", "fieldset",
}  # fmt: skip
HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_SKIPPED_STRINGS = (Comment, Doctype, Declaration, CData, ProcessingInstruction)
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)
_INLINE_SPACE = re.compile(r"[^\S\n]+")
_LINE_SPACE = re.compile(r"\s+")


def parse_html(path: Path, options: ParseOptions | None = None) -> ParsedDocument:
    """Blocks (paragraphs, list items, tables, pre) as segments; title from <title> or the first h1."""
    data = read_bytes(path)
    if looks_binary(data):
        raise ParseError("binary content, not HTML")
    soup = BeautifulSoup(data, "lxml")
    title_tag = soup.find("title")
    title = collapse_spaces(title_tag.get_text()) if title_tag else ""
    walker = _Walker()
    walker.walk(soup.body or soup)
    return finalize("html", title or walker.first_h1, walker.segments, path)


def _is_noise(tag: Tag) -> bool:
    if tag.name in NOISE_TAGS:
        return True
    attrs = tag.attrs or {}
    if "hidden" in attrs or attrs.get("aria-hidden") == "true":
        return True
    if attrs.get("role") in NOISE_ROLES:
        return True
    if _HIDDEN_STYLE.search(str(attrs.get("style", ""))):
        return True
    # A page-wide <header> holds logo and menu; one inside an article holds the article's title.
    return tag.name == "header" and tag.find_parent(["article", "main", "section"]) is None


class _Walker:
    """Collects text into the current block and flushes it as a segment at block boundaries."""

    def __init__(self) -> None:
        self.segments: list[Segment] = []
        self.headings: list[str] = []
        self.parts: list[str] = []
        self.first_h1 = ""
        self.bullet = False  # the next text starts a list item

    def walk(self, root: Tag) -> None:
        stack: list[tuple[Tag | NavigableString, bool]] = [(root, False)]
        while stack:
            node, closing = stack.pop()
            if closing:
                self.flush()
                self.bullet = False
                continue
            if isinstance(node, NavigableString):
                if not isinstance(node, _SKIPPED_STRINGS):
                    self.parts.append(_LINE_SPACE.sub(" ", str(node)))
                continue
            if not isinstance(node, Tag) or (node is not root and _is_noise(node)):
                continue
            name = node.name
            if name in HEADINGS:
                self.heading(HEADINGS[name], node)
            elif name == "pre":
                self.flush()
                self.add(node.get_text())
            elif name == "table":
                self.flush()
                self.add(_table_text(node))
            elif name == "br":
                self.parts.append("\n")
            else:
                if name in BLOCK_TAGS:
                    self.flush()
                    stack.append((node, True))
                    self.bullet = self.bullet or name == "li"
                stack.extend((child, False) for child in reversed(node.contents))

    def heading(self, level: int, node: Tag) -> None:
        self.flush()
        text = collapse_spaces(node.get_text(" "))
        if not text:
            return
        del self.headings[level - 1 :]
        self.headings.extend([""] * (level - 1 - len(self.headings)))
        self.headings.append(text)
        if level == 1 and not self.first_h1:
            self.first_h1 = text

    def flush(self) -> None:
        if not self.parts:
            return
        lines = (_INLINE_SPACE.sub(" ", line).strip() for line in "".join(self.parts).split("\n"))
        self.parts = []
        text = "\n".join(line for line in lines if line)
        if text:
            self.add(f"- {text}" if self.bullet else text)
            self.bullet = False

    def add(self, text: str) -> None:
        if text.strip():
            self.segments.append(Segment(text=text, heading_path=tuple(h for h in self.headings if h)))


def _table_text(table: Tag) -> str:
    """Rows of this table (not of tables nested in it) as tab-separated cells."""
    lines = []
    for row in table.find_all("tr"):
        if row.find_parent("table") is not table:
            continue
        cells = [collapse_spaces(cell.get_text(" ")) for cell in row.find_all(["td", "th"], recursive=False)]
        if any(cells):
            lines.append("\t".join(cells))
    return "\n".join(lines)
