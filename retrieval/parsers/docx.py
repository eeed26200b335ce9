"""DOCX with python-docx: body paragraphs and tables in document order, sections from heading styles.

A paragraph is a heading when its style (or a style it is based on) is "Heading N", or when it or its
style carries an outline level, as custom heading styles do. Headings go into `heading_path`, not into
segment text. Headers, footers, comments and text boxes are left out.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import docx
from docx.document import Document as DocxDocument
from docx.enum.style import WD_STYLE_TYPE
from docx.opc.exceptions import PackageNotFoundError
from docx.oxml.xmlchemy import BaseOxmlElement
from docx.table import Table

from longlens.retrieval.parsers._common import ParseOptions, collapse_spaces, finalize
from longlens.schema import ParsedDocument, ParseError, Segment

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_HEADING_STYLE = re.compile(r"^heading\s*([1-9])$", re.IGNORECASE)
_TITLE_STYLES = {"title"}
_OUTLINE_XPATH = "./w:pPr/w:outlineLvl/@w:val"
TITLE = -1


def parse_docx(path: Path, options: ParseOptions | None = None) -> ParsedDocument:
    """Paragraphs and tables as segments under their headings; title from properties or Title style."""
    document = _open(path)
    levels = _style_levels(document)
    headings: list[str] = []
    segments: list[Segment] = []
    title_style_text = first_heading = ""
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            segments.append(Segment(text=_table_text(block), heading_path=_path(headings)))
            continue
        text = block.text.strip()
        if not text:
            continue
        level = levels.get(block._p.style)  # the style id; Paragraph.style is slow (scans all styles)
        if level == TITLE:
            title_style_text = title_style_text or text
            continue
        level = level or _outline_level(block._p)
        if level:
            del headings[level - 1 :]
            headings.extend([""] * (level - 1 - len(headings)))  # a level-3 heading right under level 1
            headings.append(collapse_spaces(text))
            first_heading = first_heading or headings[-1]
            continue
        segments.append(Segment(text=text, heading_path=_path(headings)))
    title = (document.core_properties.title or "").strip() or title_style_text or first_heading
    return finalize("docx", title, segments, path)


def _style_levels(document: DocxDocument) -> dict[str | None, int]:
    """Paragraph style id → heading level (TITLE for the Title style); other styles are absent."""
    levels: dict[str | None, int] = {}
    for style in document.styles:
        if style.type != WD_STYLE_TYPE.PARAGRAPH:
            continue
        if (style.name or "").lower() in _TITLE_STYLES:
            levels[style.style_id] = TITLE
        else:
            level = _style_level(style) or _outline_level(style.element)
            if level:
                levels[style.style_id] = level
    return levels


def _open(path: Path) -> DocxDocument:
    with path.open("rb") as fh:
        head = fh.read(8)
    if not head:
        raise ParseError("empty file")
    if head == OLE_MAGIC:
        raise ParseError("not a DOCX package: a password-protected DOCX or a legacy Word .doc file")
    try:
        return docx.Document(str(path))
    except (zipfile.BadZipFile, PackageNotFoundError) as exc:
        raise ParseError("corrupt DOCX (not a valid ZIP package)") from exc
    except KeyError as exc:
        raise ParseError(f"corrupt DOCX (missing part {exc})") from exc
    except Exception as exc:  # python-docx and lxml raise many types for broken XML inside the zip
        raise ParseError(f"corrupt DOCX ({type(exc).__name__}: {exc})") from exc


def _path(headings: list[str]) -> tuple[str, ...]:
    return tuple(h for h in headings if h)


def _style_level(style: object) -> int | None:
    """Heading level from the style or the styles it is based on."""
    seen = 0
    while style is not None and seen < 10:
        match = _HEADING_STYLE.match(getattr(style, "name", "") or "")
        if match:
            return int(match.group(1))
        style = getattr(style, "base_style", None)
        seen += 1
    return None


def _outline_level(element: BaseOxmlElement) -> int | None:
    """Level from a paragraph's or a style's w:outlineLvl (0-based in the XML)."""
    values = element.xpath(_OUTLINE_XPATH)
    if values and str(values[0]).isdigit() and int(values[0]) < 9:  # 9 means "body text"
        return int(values[0]) + 1
    return None


def _table_text(table: Table) -> str:
    """One line per row, cells separated by tabs; horizontally merged cells appear once."""
    lines = []
    for row in table.rows:
        cells: list[str] = []
        previous = None
        for cell in row.cells:
            if cell._tc is previous:  # a horizontally merged cell is returned once per grid column
                continue
            previous = cell._tc
            cells.append(collapse_spaces(cell.text))
        if any(cells):
            lines.append("\t".join(cells))
    return "\n".join(lines)
