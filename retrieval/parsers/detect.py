"""File type by suffix, confirmed by the first bytes, so a mislabelled file fails with a clear reason."""

from __future__ import annotations

from pathlib import Path

from longlens.retrieval.parsers.text import looks_binary
from longlens.schema import ParseError

SUFFIXES: dict[str, str] = {
    ".pdf": "pdf",
    ".docx": "docx",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".md": "markdown",
    ".markdown": "markdown",
    ".mdown": "markdown",
    ".mkd": "markdown",
    ".txt": "text",
    ".text": "text",
    ".mp4": "video",
    ".m4v": "video",
    ".mkv": "video",
    ".webm": "video",
    ".mov": "video",
    ".avi": "video",
}
TEXT_LIKE_SUFFIXES = {
    ".rst", ".csv", ".tsv", ".log", ".json", ".jsonl", ".yaml", ".yml", ".toml", ".ini", ".cfg",
    ".conf", ".xml", ".tex", ".srt", ".vtt", ".org", ".adoc", ".asc", ".nfo",
}  # fmt: skip
"""Read as plain text: their markup is light enough that paragraphs still make sense."""
SUBTITLE_SUFFIXES = (".srt", ".vtt")
"""Read as a video's sidecar subtitles when they sit beside it with its name; as text when named alone."""
LEGACY = {
    ".doc": "legacy Word .doc files are not supported; save the file as .docx",
    ".ppt": "PowerPoint files are not supported; export the slides to PDF",
    ".pptx": "PowerPoint files are not supported; export the slides to PDF",
}
HEAD_BYTES = 4096
PDF_MAGIC_WINDOW = 1024  # the PDF spec lets %PDF- start anywhere in the first 1024 bytes
ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
MP4_BOXES = {b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip", b"pnot"}
EBML_MAGIC = b"\x1a\x45\xdf\xa3"


def suffixes_of(doc_type: str) -> frozenset[str]:
    """The suffixes that name files of `doc_type` ("pdf", "video", ...)."""
    return frozenset(suffix for suffix, kind in SUFFIXES.items() if kind == doc_type)


def detect_type(path: Path) -> str:
    """One of "pdf", "docx", "html", "markdown", "text", "video"; ParseError when the file cannot be one.

    Unknown suffixes fail, except the text-like ones in TEXT_LIKE_SUFFIXES (.rst, .csv, .log, .json, ...),
    which are read as text.
    """
    suffix = path.suffix.lower()
    doc_type = SUFFIXES.get(suffix) or ("text" if suffix in TEXT_LIKE_SUFFIXES else None)
    if doc_type is None:
        if suffix in LEGACY:
            raise ParseError(LEGACY[suffix])
        raise ParseError(f"unsupported file type '{suffix}'" if suffix else "unsupported file type (no suffix)")
    head = _read_head(path)
    _SNIFFERS[doc_type](head)
    return doc_type


def _read_head(path: Path) -> bytes:
    if not path.exists():
        raise ParseError("no such file or directory")
    if not path.is_file():
        raise ParseError("not a regular file")
    try:
        with path.open("rb") as fh:
            head = fh.read(HEAD_BYTES)
    except OSError as exc:
        raise ParseError(f"cannot read file: {exc.strerror or exc}") from exc
    if not head:
        raise ParseError("empty file")
    return head


def _sniff_pdf(head: bytes) -> None:
    if b"%PDF-" not in head[:PDF_MAGIC_WINDOW]:
        raise ParseError("not a PDF (the file does not start with %PDF)")


def _sniff_docx(head: bytes) -> None:
    if head.startswith(OLE_MAGIC):
        raise ParseError("not a DOCX package: a password-protected DOCX or a legacy Word .doc file")
    if not head.startswith(ZIP_MAGIC):
        raise ParseError("corrupt DOCX (not a valid ZIP package)")


def _sniff_text(head: bytes) -> None:
    if looks_binary(head):
        raise ParseError("binary content, not text")


def _sniff_video(head: bytes) -> None:
    is_mp4 = head[4:8] in MP4_BOXES
    is_mkv = head.startswith(EBML_MAGIC)
    is_avi = head.startswith(b"RIFF") and head[8:12] == b"AVI "
    if not (is_mp4 or is_mkv or is_avi):
        raise ParseError("not a video container (no MP4, Matroska/WebM or AVI header)")


_SNIFFERS = {
    "pdf": _sniff_pdf,
    "docx": _sniff_docx,
    "html": _sniff_text,
    "markdown": _sniff_text,
    "text": _sniff_text,
    "video": _sniff_video,
}
