"""Markdown with markdown-it-py (CommonMark + tables): ATX and setext headings build the section path.

Each top-level block (paragraph, list, table, block quote, code block) becomes one segment of plain text:
emphasis and link markup are dropped, link text and image alt text kept, code kept verbatim, list items
keep a "- " or "1. " marker, table rows become tab-separated lines. YAML (---) or TOML (+++) front matter
is skipped; its `title:` names the document.
"""

from __future__ import annotations

import re
from pathlib import Path

from bs4 import BeautifulSoup
from markdown_it import MarkdownIt
from markdown_it.token import Token

from longlens.retrieval.parsers._common import ParseOptions, collapse_spaces, finalize, read_bytes
from longlens.retrieval.parsers.text import decode_text
from longlens.schema import ParsedDocument, Segment

_FRONT_MATTER = re.compile(
    r"\A\ufeff?(?:---[ \t]*\n.*?\n(?:---|\.\.\.)|\+\+\+[ \t]*\n.*?\n\+\+\+)[ \t]*(?:\n|\Z)", re.DOTALL
)
_FRONT_MATTER_TITLE = re.compile(r"^title\s*[:=]\s*(.+?)\s*$", re.MULTILINE | re.IGNORECASE)
_MD = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


def parse_markdown(path: Path, options: ParseOptions | None = None) -> ParsedDocument:
    """Segments per top-level block under their headings; title from front matter or the first h1."""
    text, warnings = decode_text(read_bytes(path))
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    title = ""
    front = _FRONT_MATTER.match(text)
    if front:
        found = _FRONT_MATTER_TITLE.search(front.group(0))
        title = found.group(1).strip("'\"") if found else ""
        text = text[front.end() :]
    segments, first_h1, first_heading = _segments(_MD.parse(text))
    return finalize("markdown", title or first_h1 or first_heading, segments, path, warnings=warnings)


def _segments(tokens: list[Token]) -> tuple[list[Segment], str, str]:
    """Top-level blocks as segments, plus the first h1 and the first heading of any level."""
    segments: list[Segment] = []
    headings: list[str] = []
    first_h1 = first_heading = ""
    i = 0
    while i < len(tokens):
        token = tokens[i]
        end = _block_end(tokens, i)
        if token.type == "heading_open":
            level = int(token.tag[1])
            heading = collapse_spaces(_inline_text(tokens[i + 1])) if i + 1 < end else ""
            if heading:
                del headings[level - 1 :]
                headings.extend([""] * (level - 1 - len(headings)))
                headings.append(heading)
                first_heading = first_heading or heading
                if level == 1 and not first_h1:
                    first_h1 = heading
        else:
            text = _block_text(tokens[i : end + 1])
            if text.strip():
                segments.append(Segment(text=text, heading_path=tuple(h for h in headings if h)))
        i = end + 1
    return segments, first_h1, first_heading


def _block_end(tokens: list[Token], start: int) -> int:
    """Index of the token closing the top-level block that opens at `start`."""
    if tokens[start].nesting != 1:
        return start
    depth = 0
    for j in range(start, len(tokens)):
        depth += tokens[j].nesting
        if depth == 0:
            return j
    return len(tokens) - 1


def _block_text(tokens: list[Token]) -> str:
    lines: list[str] = []
    lists: list[list[int]] = []  # per open list: [is_ordered, next number]
    marker = ""
    row: list[str] | None = None
    for token in tokens:
        kind = token.type
        if kind in ("bullet_list_open", "ordered_list_open"):
            lists.append([kind == "ordered_list_open", int(token.attrGet("start") or 1)])
        elif kind in ("bullet_list_close", "ordered_list_close"):
            lists.pop()
        elif kind == "list_item_open" and lists:
            ordered, number = lists[-1]
            marker = "  " * (len(lists) - 1) + (f"{number}. " if ordered else "- ")
            lists[-1][1] = number + 1
        elif kind == "tr_open":
            row = []
        elif kind == "tr_close" and row is not None:
            lines.append("\t".join(row))
            row = None
        elif kind == "inline":
            text = _inline_text(token)
            if row is not None:
                row.append(collapse_spaces(text))
            else:
                lines.append(marker + text)
                marker = ""
        elif kind in ("fence", "code_block"):
            lines.append(token.content.rstrip("\n"))
        elif kind == "html_block":
            lines.append(_html_text(token.content))
    return "\n".join(line for line in lines if line.strip())


def _inline_text(token: Token) -> str:
    """Plain text of an inline token: markup dropped, code spans and image alt text kept."""
    parts: list[str] = []
    for child in token.children or []:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append("\n")
        elif child.type == "image":
            parts.append(_inline_text(child) if child.children else child.content)
    return "".join(parts)


def _html_text(html: str) -> str:
    soup = BeautifulSoup(html, "lxml")
    for tag in soup.find_all(["script", "style", "template"]):
        tag.decompose()
    return soup.get_text().strip()
