"""Plain text in any common encoding; paragraphs (blank-line separated) become segments.

Decoding order: BOM, BOM-less UTF-16/32 (recognised by their NUL byte pattern), strict UTF-8, then
charset-normalizer. charset-normalizer alone often picks cp1250/cp1257 for Western text or UTF-16 for
short snippets, so cp1252 wins ties and UTF-16/32 are never guessed without NUL bytes. Form feeds, as
written by pdftotext and old printers' text, are page breaks and set `page`.
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path

import charset_normalizer

from longlens.retrieval.parsers._common import ParseOptions, finalize, read_bytes
from longlens.schema import ParsedDocument, ParseError, Segment

_BOMS = (  # UTF-32 first: its LE BOM starts with UTF-16's.
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_WIDE = ["utf_16", "utf_16_le", "utf_16_be", "utf_32", "utf_32_le", "utf_32_be"]
_BINARY_CONTROL = re.compile(rb"[\x00-\x08\x0e-\x1a\x1c-\x1f]")
_BLANK_LINE = re.compile(r"\n[ \t]*\n")
SNIFF_BYTES = 1 << 16
FIRST_LINE_TITLE_MAX = 120
MOSTLY_ASCII = 0.6  # share of ASCII bytes above which a wrong code page only garbles a few letters


def looks_binary(data: bytes) -> bool:
    """NUL bytes (outside UTF-16/32) or many control characters in the sample: not a text file."""
    sample = data[:SNIFF_BYTES]
    if _bom_encoding(sample) or _wide_encoding(sample):
        return False
    if b"\x00" in sample:
        return True
    return len(_BINARY_CONTROL.findall(sample)) > max(2, len(sample) // 100)


def _bom_encoding(data: bytes) -> tuple[bytes, str] | None:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return bom, encoding
    return None


def _wide_encoding(data: bytes) -> str | None:
    """BOM-less UTF-16/32 of mostly Latin text: NUL bytes at a fixed place in every code unit."""
    sample = data[:SNIFF_BYTES]
    if len(sample) < 4 or b"\x00" not in sample:
        return None
    for width, encoding, zero_lanes in (
        (4, "utf-32-le", (2, 3)),
        (4, "utf-32-be", (0, 1)),
        (2, "utf-16-le", (1,)),
        (2, "utf-16-be", (0,)),
    ):
        if len(data) % width:
            continue
        units = len(sample) // width
        if all(sample[lane::width].count(0) >= 0.9 * units for lane in zero_lanes):
            decoded = sample.decode(encoding, errors="replace")
            printable = sum(ch.isprintable() or ch in "\t\n\r\f" for ch in decoded)
            return encoding if printable >= 0.95 * len(decoded) else None
    return None


def decode_text(data: bytes) -> tuple[str, list[str]]:
    """Bytes to str plus warnings; raises ParseError for binary or undecodable content."""
    warnings: list[str] = []
    found = _bom_encoding(data)
    if found:
        bom, encoding = found
        body = data[len(bom) :]
        try:
            return body.decode(encoding), warnings
        except UnicodeDecodeError:
            return body.decode(encoding, errors="replace"), [f"invalid {encoding} bytes were replaced"]
    encoding = _wide_encoding(data)
    if encoding:
        return data.decode(encoding, errors="replace"), warnings
    if looks_binary(data):
        raise ParseError("binary content, not text")
    try:
        return data.decode("utf-8"), warnings
    except UnicodeDecodeError:
        pass
    encoding, sure = _guess_single_byte(data)
    if encoding is None:
        raise ParseError("could not detect the text encoding")
    if not sure:
        warnings.append(f"text encoding guessed as {encoding}; some accented characters may be wrong")
    return data.decode(encoding, errors="replace"), warnings


def _guess_single_byte(data: bytes) -> tuple[str | None, bool]:
    """(encoding, sure): charset-normalizer's pick with cp1252 winning ties; text that charset-normalizer
    rejects but that is mostly ASCII is read as cp1252 (not sure), since only a few characters can be off."""
    matches = charset_normalizer.from_bytes(data, cp_exclusion=_WIDE)
    best = matches.best()
    if best is not None:
        for match in matches:
            if (
                match.encoding == "cp1252"
                and match.chaos <= best.chaos + 0.01
                and match.coherence >= best.coherence - 0.01
            ):
                return "cp1252", True
        if best.coherence > 0 or not _decodes(data, "cp1252"):
            return best.encoding, True
        return "cp1252", True  # no language evidence either way (short text): the Western default
    ascii_share = sum(b < 0x80 for b in data[:SNIFF_BYTES]) / min(len(data), SNIFF_BYTES)
    if ascii_share >= MOSTLY_ASCII and _decodes(data, "cp1252"):
        return "cp1252", False
    return None, False


def _decodes(data: bytes, encoding: str) -> bool:
    try:
        data.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


def split_paragraphs(text: str, page: int | None = None) -> list[Segment]:
    """One segment per blank-line separated paragraph."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return [Segment(text=p, page=page) for p in _BLANK_LINE.split(text) if p.strip()]


def parse_text(path: Path, options: ParseOptions | None = None) -> ParsedDocument:
    """Decode, split on blank lines (and on form feeds into pages), title from a short first line."""
    text, warnings = decode_text(read_bytes(path))
    pages = text.split("\f")
    if len(pages) > 1 and not pages[-1].strip():
        pages.pop()  # pdftotext ends every page, the last one included, with a form feed
    paged = "\f" in text
    segments: list[Segment] = []
    for number, page_text in enumerate(pages, start=1):
        segments.extend(split_paragraphs(page_text, number if paged else None))
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    title = first if len(first) <= FIRST_LINE_TITLE_MAX else path.stem
    return finalize(
        "text",
        title,
        segments,
        path,
        page_count=len(pages) if paged else None,
        warnings=warnings,
        no_text_message="no text found (the file holds only whitespace)",
    )
