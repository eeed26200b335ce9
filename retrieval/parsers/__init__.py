"""Source files → `ParsedDocument`: segments of text in reading order, each knowing where it came from.

Conventions every parser follows (tests hold them to it):

- Segments are in reading order. A segment never spans two pages or two sections: PDFs give one segment
  per page (`page`, 1-based; `source="ocr"` when Tesseract read a scanned page); HTML, Markdown and
  DOCX give one segment per block (paragraph, list, table, code block) with `heading_path`, the titles
  of the sections above it. Heading text lives in `heading_path`, not in segment text. Plain text
  gives one segment per blank-line separated paragraph (form feeds, if any, are page breaks). The
  chunker merges neighbours that share a location.
- Offsets: a document's full text is its segments' texts joined with "\\n\\n" (`SEPARATOR`, see
  `full_text`); `char_start`/`char_end` index that string, so
  `full_text(doc.segments)[s.char_start:s.char_end] == s.text`. `_common.finalize` is the one place
  they are set.
- Bad input raises `ParseError` with a plain cause ("empty file", "encrypted PDF (password required)",
  "binary content, not text", ...); the caller prefixes the path. Problems that leave usable text
  (a scanned page without OCR, a guessed encoding) go to `ParsedDocument.warnings` instead.
- Type detection (`detect_type`) uses the suffix and checks the first bytes. Unknown suffixes are
  refused, except light text formats (.rst, .csv, .log, .json, .yaml, ...), which are read as text.

Parsers are looked up in `PARSERS` (doc type → function), imported on first use so that importing this
package stays cheap; `register_parser` lets another module (e.g. video ingestion) claim a type.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from longlens.retrieval.parsers._common import SEPARATOR, ParseOptions, full_text
from longlens.retrieval.parsers.detect import detect_type
from longlens.schema import ParsedDocument

__all__ = [
    "PARSERS",
    "SEPARATOR",
    "ParseOptions",
    "Parser",
    "detect_type",
    "full_text",
    "parse",
    "register_parser",
]

Parser = Callable[[Path, ParseOptions], ParsedDocument]


def _lazy(module: str, name: str) -> Parser:
    """A parser that imports its module (bs4, python-docx, pypdfium2, ...) only when first called."""

    def load_and_parse(path: Path, options: ParseOptions) -> ParsedDocument:
        parser: Parser = getattr(importlib.import_module(f"longlens.retrieval.parsers.{module}"), name)
        return parser(path, options)

    load_and_parse.__name__ = name
    return load_and_parse


PARSERS: dict[str, Parser] = {
    "pdf": _lazy("pdf", "parse_pdf"),
    "docx": _lazy("docx", "parse_docx"),
    "html": _lazy("html", "parse_html"),
    "markdown": _lazy("markdown", "parse_markdown"),
    "text": _lazy("text", "parse_text"),
    "video": _lazy("video", "parse_video"),
}


def register_parser(doc_type: str, parser: Parser) -> None:
    """Install or replace the parser for a doc type (one of the names `detect_type` returns)."""
    PARSERS[doc_type] = parser


def parse(path: Path, options: ParseOptions | None = None, **overrides: object) -> ParsedDocument:
    """Detect the type of `path` and run its parser; raises ParseError with the cause for bad input.

    `options` (or keyword overrides of its fields, e.g. `ocr=False`) steer the parsers.
    """
    path = Path(path)
    doc_type = detect_type(path)
    opts = replace(options or ParseOptions(), **overrides)  # type: ignore[arg-type]
    return PARSERS[doc_type](path, opts)
