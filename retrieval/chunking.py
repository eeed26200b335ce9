"""Token-aware, structure-aware chunking of parsed segments.

Chunks are measured in the embedder's own tokens, so none is cut off at embedding time. Paragraphs that
share a page and a section are packed together; nothing is packed across a page or a section boundary,
so every chunk has one honest location. Time-stamped media segments are packed by time order instead and
carry the time range they cover. A paragraph longer than the budget is split into overlapping windows
that prefer to end at a sentence boundary.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace

from longlens.schema import Chunk, Segment

# Text → token (start, end) character offsets, for a batch of texts.
OffsetsFn = Callable[[list[str]], list[list[tuple[int, int]]]]

SENTENCE_END = ".!?;:。！？"
PIECE_CHARS = 100_000
"""A segment longer than this is tokenized in pieces (cut at whitespace when there is some): a 50 MB line
would otherwise become one tokenizer call holding ten million offsets at once."""
BATCH_CHARS = 1_000_000
"""Characters handed to the tokenizer per call; bounds the memory its offsets take."""
MAX_TOKEN_CHARS = 32
"""A token spanning more text than this (a tokenizer's [UNK] for a 'word' of thousands of letters with no
space) is counted as several, so no chunk can hold an unbounded run of text."""
MAX_MEDIA_SECONDS = 45.0
"""Longest stretch of a video one chunk may cover when packing several time-stamped segments."""


def offsets_fn_for(tokenizer: object) -> OffsetsFn:
    """Adapt a `tokenizers.Tokenizer` or a fast HF tokenizer to an `OffsetsFn`."""
    if hasattr(tokenizer, "encode_batch"):

        def fast(texts: list[str]) -> list[list[tuple[int, int]]]:
            return [enc.offsets for enc in tokenizer.encode_batch(texts, add_special_tokens=False)]

        return fast

    def hf(texts: list[str]) -> list[list[tuple[int, int]]]:
        out = tokenizer(texts, add_special_tokens=False, return_offsets_mapping=True)  # type: ignore[operator]
        return [list(map(tuple, o)) for o in out["offset_mapping"]]

    return hf


@dataclass
class _Unit:
    """A piece ready to be packed: a whole segment, or one window of a long segment."""

    text: str
    tokens: int
    char_start: int
    char_end: int
    segment: Segment
    whole: bool


def chunk_segments(
    segments: Sequence[Segment],
    offsets_fn: OffsetsFn,
    max_tokens: int = 200,
    overlap: int = 32,
    *,
    max_seconds: float = MAX_MEDIA_SECONDS,
) -> list[Chunk]:
    """Turn a document's segments into chunks of at most `max_tokens` tokens each.

    Time-stamped segments are also kept within `max_seconds` of media per chunk (a segment longer than
    that stays whole), so a cited range stays short enough to seek to; documents are not affected.
    """
    if max_tokens <= 0 or not 0 <= overlap < max_tokens:
        raise ValueError("need max_tokens > 0 and 0 <= overlap < max_tokens")
    segments = [piece for s in segments if s.text.strip() for piece in _pieces(s)]
    if not segments:
        return []
    chunks: list[Chunk] = []
    group: list[_Unit] = []
    group_key: object = None
    for seg, offs in _tokenized(segments, offsets_fn):
        key = _group_key(seg)
        if key != group_key and group:
            _pack(group, max_tokens, chunks, max_seconds)
            group = []
        group_key = key
        if len(offs) <= max_tokens:
            group.append(_Unit(seg.text, len(offs), seg.char_start, seg.char_end, seg, True))
        else:
            group.extend(_windows(seg, offs, max_tokens, overlap))
    if group:
        _pack(group, max_tokens, chunks, max_seconds)
    return chunks


def _pieces(seg: Segment, limit: int = PIECE_CHARS) -> list[Segment]:
    """`seg`, or consecutive parts of it of at most `limit` characters, each cut after whitespace if it has any."""
    text = seg.text
    if len(text) <= limit:
        return [seg]
    parts: list[Segment] = []
    start = 0
    while start < len(text):
        end = min(start + limit, len(text))
        if end < len(text):
            space = max(text.rfind(" ", start + limit // 2, end), text.rfind("\n", start + limit // 2, end))
            end = space + 1 if space >= 0 else end
        parts.append(replace(seg, text=text[start:end], char_start=seg.char_start + start,
                             char_end=seg.char_start + end))
        start = end
    return parts


def _tokenized(segments: list[Segment], offsets_fn: OffsetsFn) -> Iterator[tuple[Segment, list[tuple[int, int]]]]:
    """(segment, token offsets) in order, tokenized BATCH_CHARS at a time; over-long tokens split."""
    batch: list[Segment] = []
    size = 0
    for seg in [*segments, None]:
        if batch and (seg is None or size + len(seg.text) > BATCH_CHARS):
            for done, offs in zip(batch, offsets_fn([b.text for b in batch]), strict=True):
                yield done, _bounded(offs)
            batch, size = [], 0
        if seg is not None:
            batch.append(seg)
            size += len(seg.text)


def _bounded(offs: list[tuple[int, int]], limit: int = MAX_TOKEN_CHARS) -> list[tuple[int, int]]:
    if all(b - a <= limit for a, b in offs):
        return offs
    out: list[tuple[int, int]] = []
    for a, b in offs:
        if b - a > limit:
            out.extend((i, min(i + limit, b)) for i in range(a, b, limit))
        else:
            out.append((a, b))
    return out


def _group_key(seg: Segment) -> object:
    if seg.t_start is not None:
        return "media"
    return (seg.page, seg.heading_path)


def _windows(seg: Segment, offs: list[tuple[int, int]], max_tokens: int, overlap: int) -> list[_Unit]:
    units = []
    n, start, text = len(offs), 0, seg.text
    while start < n:
        end = min(start + max_tokens, n)
        if end < n:
            end = _sentence_cut(text, offs, start, end, max_tokens)
        a, b = offs[start][0], offs[end - 1][1]
        units.append(_Unit(text[a:b], end - start, seg.char_start + a, seg.char_start + b, seg, False))
        if end >= n:
            break
        start = max(end - overlap, start + 1)
    return units


def _sentence_cut(text: str, offs: list[tuple[int, int]], start: int, end: int, max_tokens: int) -> int:
    """The latest token index in the window's last 40% that follows a sentence end or a line break."""
    floor = start + int(max_tokens * 0.6)
    for j in range(end, floor, -1):
        prev_end, next_start = offs[j - 1][1], offs[j][0] if j < len(offs) else len(text)
        if "\n" in text[prev_end:next_start] or (prev_end > 0 and text[prev_end - 1] in SENTENCE_END):
            return j
    return end


def _pack(units: list[_Unit], max_tokens: int, out: list[Chunk], max_seconds: float = MAX_MEDIA_SECONDS) -> None:
    """Greedily pack consecutive whole segments; windows of a split segment stay chunks of their own."""
    batch: list[_Unit] = []
    for unit in units:
        fits = batch and batch[0].whole and unit.whole and sum(u.tokens for u in batch) + unit.tokens <= max_tokens
        fits = fits and _span([*batch, unit]) <= max_seconds
        if batch and not fits:
            out.append(_to_chunk(batch, len(out)))
            batch = []
        batch.append(unit)
    if batch:
        out.append(_to_chunk(batch, len(out)))


def _span(units: list[_Unit]) -> float:
    """Seconds of media the units cover together (0 for documents)."""
    starts = [u.segment.t_start for u in units if u.segment.t_start is not None]
    if not starts:
        return 0.0
    ends = [u.segment.t_end if u.segment.t_end is not None else u.segment.t_start for u in units]
    return max(e for e in ends if e is not None) - min(starts)


def _to_chunk(units: list[_Unit], ordinal: int) -> Chunk:
    first, segs = units[0], [u.segment for u in units]
    pages = [s.page for s in segs if s.page is not None]
    starts = [s.t_start for s in segs if s.t_start is not None]
    ends = [s.t_end if s.t_end is not None else s.t_start for s in segs if s.t_start is not None]
    sources = sorted({s.source for s in segs if s.source})
    return Chunk(
        ordinal=ordinal,
        text="\n\n".join(u.text for u in units),
        token_count=sum(u.tokens for u in units),
        char_start=first.char_start,
        char_end=units[-1].char_end,
        page_start=min(pages) if pages else None,
        page_end=max(pages) if pages else None,
        heading_path=" > ".join(first.segment.heading_path),
        t_start=min(starts) if starts else None,
        t_end=max(e for e in ends if e is not None) if ends else None,
        sources=",".join(sources),
    )
