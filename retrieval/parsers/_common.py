"""Helpers every parser shares: options, the offset convention, text clean-up and file reading."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from longlens.schema import ParsedDocument, ParseError, Segment

SEPARATOR = "\n\n"
"""Joins segment texts into a document's full text; `char_start`/`char_end` index into that string."""

MAX_TITLE_CHARS = 200

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_TRAILING_SPACE = re.compile(r"[ \t\u00a0]+\n")
_MANY_BLANK_LINES = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")
_LEADING_BLANK_LINES = re.compile(r"\A(?:[ \t]*\n)+")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class ParseOptions:
    """Knobs a parser may read; every parser takes the same options so `parse` can dispatch blindly."""

    ocr: bool = True
    ocr_language: str = "eng"
    ocr_dpi: int = 300
    # Video (retrieval/parsers/video.py). `ocr`/`ocr_language` also switch and steer OCR on keyframes.
    video_max_seconds: float = 6 * 3600.0
    asr: bool = True
    asr_model: str = ""  # "" = the packaged Whisper base; else any faster-whisper name or CTranslate2 folder
    asr_device: str = "auto"  # "auto", "cpu" or "cuda"
    asr_compute_type: str = "auto"  # "auto" = int8 on CPU, float16 on CUDA
    asr_language: str | None = None  # None = detected per file
    asr_beam_size: int = 1
    keyframe_min_interval: float = 2.0  # at most one keyframe per this many seconds
    keyframe_max_interval: float = 10.0  # at least one keyframe per this many seconds
    scene_threshold: float = 0.005  # fraction of a 128x72 thumbnail's pixels that must change to count as a cut
    detector: str = "haar"  # "haar", "none", or "owlv2[:hf-name]" / "grounding-dino[:hf-name]"
    detector_labels: tuple[str, ...] = ("person", "face", "car", "dog", "cat", "laptop", "screen", "whiteboard")
    video_threads: int = 2  # OCR/detection threads beside the ASR thread


def clean_text(text: str) -> str:
    """Normalise newlines, drop control characters and trailing spaces, keep at most one blank line.

    Leading indentation of the first line is kept (it matters in code blocks).
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n")
    text = _CONTROL.sub("", text)
    text = _TRAILING_SPACE.sub("\n", text + "\n")
    text = _MANY_BLANK_LINES.sub("\n\n", text)
    return _LEADING_BLANK_LINES.sub("", text).rstrip()


def collapse_spaces(text: str) -> str:
    """All runs of whitespace (newlines included) become one space; used for titles and headings."""
    return _SPACES.sub(" ", text).strip()


def short_title(text: str) -> str:
    """A one-line title of bounded length."""
    title = collapse_spaces(text)
    if len(title) > MAX_TITLE_CHARS:
        title = title[: MAX_TITLE_CHARS - 1].rstrip() + "…"
    return title


def first_line(segments: Iterable[Segment]) -> str:
    """The first non-empty line of the text, as a title fallback."""
    for seg in segments:
        for line in seg.text.splitlines():
            if line.strip():
                return short_title(line)
    return ""


def read_bytes(path: Path) -> bytes:
    """The whole file; an empty file is an error for every format."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ParseError(f"cannot read file: {exc.strerror or exc}") from exc
    if not data:
        raise ParseError("empty file")
    return data


def finalize(
    doc_type: str,
    title: str,
    segments: Iterable[Segment],
    path: Path,
    *,
    page_count: int | None = None,
    warnings: Iterable[str] = (),
    no_text_message: str = "no text found",
) -> ParsedDocument:
    """Clean segment texts, drop empty ones, fill `char_start`/`char_end`, pick a title.

    This is the only place offsets are computed, so the convention (texts joined with SEPARATOR) holds
    for every format.
    """
    kept: list[Segment] = []
    pos = 0
    for seg in segments:
        seg.text = clean_text(seg.text)
        if not seg.text.strip():
            continue
        seg.char_start = pos
        seg.char_end = pos + len(seg.text)
        pos = seg.char_end + len(SEPARATOR)
        kept.append(seg)
    if not kept:
        raise ParseError(no_text_message)
    title = short_title(title) or first_line(kept) or path.stem
    return ParsedDocument(doc_type=doc_type, title=title, segments=kept, page_count=page_count, warnings=list(warnings))


def full_text(segments: Iterable[Segment]) -> str:
    """The document text that `char_start`/`char_end` refer to."""
    return SEPARATOR.join(seg.text for seg in segments)
