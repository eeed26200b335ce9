"""Turning an answer's `[n]` markers into citations, without ever inventing one.

A marker whose number matches no passage in the prompt is removed from the text, streamed or not. The
streaming filter holds back text from a `[` until it knows whether a marker follows, so a user never sees
a marker that the final answer drops.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence

from longlens.schema import Citation, Hit, location_of

MARKER = re.compile(r"\[(\d+(?:\s*[,;]\s*\d+)*)\]")
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
_WORD = re.compile(r"\w+")
_MAX_MARKER_LEN = 24


def _numbers(group: str) -> list[int]:
    return [int(n) for n in re.split(r"\s*[,;]\s*", group)]


def clean_markers(text: str, n_passages: int) -> str:
    """Drop marker numbers that point nowhere; a marker left empty disappears with its leading space."""

    def fix(match: re.Match[str]) -> str:
        valid = [n for n in _numbers(match.group(1)) if 1 <= n <= n_passages]
        return "".join(f"[{n}]" for n in valid)

    cleaned = MARKER.sub(fix, text)
    return re.sub(r"[ \t]+([.,;:!?])", r"\1", re.sub(r"[ \t]{2,}", " ", cleaned)).strip()


def cited_numbers(text: str, n_passages: int) -> list[int]:
    """The valid passage numbers the text cites, in order of first appearance."""
    seen: list[int] = []
    for match in MARKER.finditer(text):
        for n in _numbers(match.group(1)):
            if 1 <= n <= n_passages and n not in seen:
                seen.append(n)
    return seen


def build_citations(answer: str, passages: Sequence[Hit]) -> list[Citation]:
    """One Citation per passage the answer cites, with the passage sentence closest to the claim."""
    citations = []
    for n in cited_numbers(answer, len(passages)):
        hit = passages[n - 1]
        citations.append(
            Citation(
                n=n,
                document=hit.document,
                chunk_id=hit.chunk_id,
                quote=best_quote(hit.text, _claim_for(answer, n)),
                title=hit.title,
                **location_of(hit),
            )
        )
    return citations


def _claim_for(answer: str, n: int) -> str:
    """The answer sentence(s) carrying marker n: what the quote should support."""
    sentences = [s for s in _SENTENCE.split(answer) if s.strip()]
    carrying = [s for s in sentences if n in [m for g in MARKER.findall(s) for m in _numbers(g)]]
    return " ".join(carrying) or answer


def best_quote(passage: str, claim: str, max_chars: int = 300) -> str:
    """The passage sentence sharing the most words with the claim (the first sentence on a tie)."""
    claim_words = set(_WORD.findall(claim.lower()))
    sentences = [s.strip() for s in _SENTENCE.split(passage) if s.strip()] or [passage.strip()]
    best = max(sentences, key=lambda s: len(claim_words & set(_WORD.findall(s.lower()))))
    return best if len(best) <= max_chars else best[: max_chars - 1].rstrip() + "…"


def filter_stream(pieces: Iterable[str], n_passages: int) -> Iterator[str]:
    """Re-chunk streamed text so that invalid markers never reach the reader."""
    held = ""
    for piece in pieces:
        held += piece
        out, held = _split_safe(held, n_passages)
        if out:
            yield out
    if held:
        yield clean_markers(held, n_passages) if MARKER.fullmatch(held) else held


def _split_safe(buffer: str, n_passages: int) -> tuple[str, str]:
    """Emit everything that cannot be the start of an unfinished marker; keep the rest."""
    out = []
    i = 0
    while i < len(buffer):
        start = buffer.find("[", i)
        if start == -1:
            out.append(buffer[i:])
            return "".join(out), ""
        out.append(buffer[i:start])
        match = MARKER.match(buffer, start)
        if match:
            out.append(clean_markers(match.group(0), n_passages))
            i = match.end()
            continue
        tail = buffer[start:]
        if len(tail) < _MAX_MARKER_LEN and re.fullmatch(r"\[[\d\s,;]*", tail):
            return "".join(out), tail  # may still become a marker: wait for more text
        out.append("[")
        i = start + 1
    return "".join(out), ""
