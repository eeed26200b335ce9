"""Plain dataclasses passed between the stages of the flow (parse → chunk → embed → retrieve → answer).

This module imports nothing from the rest of longlens so every stage can depend on it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any


class LongLensError(Exception):
    """Base class for errors that carry a message meant for the user."""


class NoMatchError(LongLensError):
    """A filter (a document, a type) matched nothing: a mistake to report, never an empty result."""


class ParseError(LongLensError):
    """A source file could not be turned into text; the message says why, for that file."""


@dataclass
class Segment:
    """A run of text from one place in a source: one page of a PDF, one section, one caption.

    `page` is 1-based; `heading_path` lists the section titles above the text; `t_start`/`t_end` are
    seconds for media; `source` names where media text came from (speech, ocr, objects, subtitles).
    """

    text: str
    page: int | None = None
    heading_path: tuple[str, ...] = ()
    t_start: float | None = None
    t_end: float | None = None
    source: str | None = None
    char_start: int = 0
    char_end: int = 0


@dataclass
class ParsedDocument:
    """What a parser returns: the document's segments in reading order plus its metadata."""

    doc_type: str
    title: str
    segments: list[Segment]
    page_count: int | None = None
    duration: float | None = None
    warnings: list[str] = field(default_factory=list)


@dataclass(kw_only=True)
class Location:
    """Where a passage lives, the one definition every stage shares: pages (1-based), the section path
    ("Intro > Scope"), seconds for media. Chunk, Hit and Citation are Locations; `location_of` copies one."""

    page_start: int | None = None
    page_end: int | None = None
    t_start: float | None = None
    t_end: float | None = None
    heading_path: str = ""


LOCATION_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Location))


def location_of(item: object) -> dict[str, Any]:
    """The location fields of any object that has them (a Location, a database row), as keyword arguments."""
    return {name: getattr(item, name) for name in LOCATION_FIELDS}


@dataclass
class Chunk(Location):
    """A retrieval unit: contiguous text that never spans two sections or two pages silently."""

    ordinal: int
    text: str
    token_count: int
    char_start: int
    char_end: int
    sources: str = ""


@dataclass
class Hit(Location):
    """One retrieved chunk with where it lives and how well it scored."""

    chunk_id: int
    document: str
    document_id: int
    title: str
    collection: str
    text: str
    score: float
    ordinal: int = 0
    doc_type: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Citation(Location):
    """A source an answer cites: `n` is the marker number used in the answer text."""

    n: int
    document: str
    chunk_id: int
    quote: str
    title: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Answer:
    """A generated answer and the citations its `[n]` markers point to."""

    text: str
    citations: list[Citation] = field(default_factory=list)
    dropped: int = 0  # generated sentences no passage supported, never shown
    quoted: bool = False  # the answer quotes the passages instead of generating

    def to_dict(self) -> dict[str, Any]:
        return {
            "answer": self.text, "citations": [c.to_dict() for c in self.citations],
            "dropped_sentences": self.dropped, "quoted": self.quoted,
        }
