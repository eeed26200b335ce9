"""Turning an answer's `[n]` markers into citations, without ever inventing one.

A marker whose number matches no passage in the prompt is removed from the text, streamed or not. The
streaming filter holds back text from a `[` until it knows whether a marker follows, so a user never sees
a marker that the final answer drops.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence

from longlens.schema import Citation, Hit

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
                page_start=hit.page_start,
                page_end=hit.page_end,
                t_start=hit.t_start,
                t_end=hit.t_end,
                title=hit.title,
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


STOPWORDS = frozenset(
    "a an and are as at be by for from has have in is it its of on or that the this to was were which with".split()
)


def supporting_passage(sentence: str, passages: Sequence[Hit], min_overlap: float = 0.5) -> int | None:
    """Index of the passage that supports `sentence` best, or None when none holds `min_overlap` of its
    content words (numbers count double); a sentence with no content words needs no support (-1)."""
    words = [w for w in _WORD.findall(MARKER.sub(" ", sentence).lower()) if w not in STOPWORDS]
    if not words:
        return -1
    if not passages:
        return None
    weight = {w: (2.0 if w.isdigit() else 1.0) for w in words}
    total = sum(weight.values())
    coverage = [sum(v for w, v in weight.items() if w in set(_WORD.findall(h.text.lower()))) / total for h in passages]
    best = max(range(len(passages)), key=lambda i: coverage[i])
    return best if coverage[best] >= min_overlap else None


def unsupported_sentences(answer: str, passages: Sequence[Hit], min_overlap: float = 0.5) -> list[str]:
    """The sentences of `answer` that no passage supports, by the measure `attribute_unmarked` uses."""
    sentences = [s.strip() for s in _SENTENCE.split(answer) if s.strip()]
    return [s for s in sentences if supporting_passage(s, passages, min_overlap) is None]


def attribute_unmarked(answer: str, passages: Sequence[Hit], min_overlap: float = 0.5) -> str:
    """Add a marker to each answer sentence that has none, pointing at the passage that supports it best.

    Small models often answer correctly without citing. A sentence is attributed only when at least
    `min_overlap` of its content words (numbers count double) appear in one passage, so a sentence the
    passages do not support stays uncited rather than getting an invented source.
    """
    if not passages or answer.strip() == "":
        return answer
    out = []
    for part in re.split(r"(?<=[.!?])(\s+)", answer):
        if MARKER.search(part):
            out.append(part)
            continue
        best = supporting_passage(part, passages, min_overlap)
        if best is not None and best >= 0:
            stripped = part.rstrip()
            end = stripped[-1] if stripped and stripped[-1] in ".!?" else ""
            body = stripped[: len(stripped) - len(end)]
            part = f"{body} [{best + 1}]{end}" + part[len(stripped) :]
        out.append(part)
    return "".join(out)


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
