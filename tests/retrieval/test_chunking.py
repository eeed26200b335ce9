"""Chunking keeps locations honest and sizes within the embedder's budget."""

from __future__ import annotations

import pytest

from longlens.models.embedder import load_tokenizer, resolve_embedder_path
from longlens.retrieval.chunking import chunk_segments, offsets_fn_for
from longlens.schema import Segment


@pytest.fixture(scope="module")
def offsets():
    return offsets_fn_for(load_tokenizer(resolve_embedder_path("packaged:all-MiniLM-L6-v2")))


def _segments(texts_and_locs):
    """Build segments with char offsets into the texts joined by blank lines."""
    segs, pos = [], 0
    for text, kwargs in texts_and_locs:
        segs.append(Segment(text=text, char_start=pos, char_end=pos + len(text), **kwargs))
        pos += len(text) + 2
    full = "\n\n".join(t for t, _ in texts_and_locs)
    return segs, full


def _sentences(n: int, tag: str) -> str:
    return " ".join(f"Sentence {i} of part {tag} talks about river {i * 7 % 13} and hill {i % 5}." for i in range(n))


def test_never_glues_two_pages_or_sections(offsets):
    segs, _ = _segments(
        [
            ("Short text on page one.", {"page": 1}),
            ("More text on page one.", {"page": 1}),
            ("Text on page two.", {"page": 2}),
            ("Intro paragraph.", {"heading_path": ("Intro",)}),
            ("Methods paragraph.", {"heading_path": ("Methods",)}),
        ]
    )
    chunks = chunk_segments(segs, offsets, max_tokens=100, overlap=10)
    assert [(c.page_start, c.page_end, c.heading_path) for c in chunks] == [
        (1, 1, ""),
        (2, 2, ""),
        (None, None, "Intro"),
        (None, None, "Methods"),
    ]
    assert chunks[0].text == "Short text on page one.\n\nMore text on page one."
    assert [c.ordinal for c in chunks] == [0, 1, 2, 3]


def test_long_segment_splits_within_budget_with_overlap_and_exact_spans(offsets):
    text = _sentences(80, "A")
    segs, full = _segments([("Heading words.", {"page": 3}), (text, {"page": 3})])
    chunks = chunk_segments(segs, offsets, max_tokens=64, overlap=16)
    assert len(chunks) > 5
    for c in chunks:
        assert c.token_count <= 64
        assert full[c.char_start : c.char_end] == c.text
        assert c.page_start == c.page_end == 3
    # consecutive windows overlap in text, and together they cover the whole segment
    windows = [c for c in chunks if c.char_start >= segs[1].char_start]
    for a, b in zip(windows, windows[1:], strict=False):
        assert b.char_start < a.char_end
    assert windows[0].char_start == segs[1].char_start and windows[-1].char_end == segs[1].char_end
    # windows prefer to end at a sentence boundary
    assert sum(c.text.endswith(".") for c in windows[:-1]) >= len(windows[:-1]) - 1


def test_media_segments_carry_time_range_and_sources(offsets):
    segs, _ = _segments(
        [
            ("hello and welcome to the lecture", {"t_start": 1.0, "t_end": 3.5, "source": "speech"}),
            ("SLIDE: Gradient descent", {"t_start": 2.0, "t_end": 6.0, "source": "ocr"}),
            ("now the second part", {"t_start": 7.0, "t_end": 9.0, "source": "speech"}),
        ]
    )
    chunks = chunk_segments(segs, offsets, max_tokens=200, overlap=10)
    assert len(chunks) == 1
    assert (chunks[0].t_start, chunks[0].t_end, chunks[0].sources) == (1.0, 9.0, "ocr,speech")


def test_rejects_bad_budget_and_ignores_blank_segments(offsets):
    with pytest.raises(ValueError):
        chunk_segments([Segment("x")], offsets, max_tokens=10, overlap=10)
    assert chunk_segments([Segment("   "), Segment("\n")], offsets) == []


@pytest.mark.parametrize("shape", ["one line", "no spaces"])
def test_a_huge_line_is_tokenized_in_bounded_pieces_and_fully_covered(offsets, shape):
    """50 MB on one line took 8.1 GB: one tokenizer call held every offset, and a text without spaces was one
    [UNK] token, so the whole file became one chunk."""
    from longlens.retrieval import chunking

    words = _sentences(40_000, "x")  # about 3 MB
    text = words if shape == "one line" else words.replace(" ", "")
    calls: list[list[int]] = []

    def watched(texts):  # noqa: ANN001, ANN202
        calls.append([len(t) for t in texts])
        return offsets(texts)

    chunks = chunk_segments([Segment(text=text, char_start=0, char_end=len(text))], watched, 200, 32)
    assert len(calls) > 1 and all(sum(c) <= chunking.BATCH_CHARS and max(c) <= chunking.PIECE_CHARS for c in calls)
    assert all(c.text == text[c.char_start:c.char_end] for c in chunks)
    assert max(len(c.text) for c in chunks) <= 200 * chunking.MAX_TOKEN_CHARS
    end = 0
    for c in sorted(chunks, key=lambda c: c.char_start):
        assert not text[end:c.char_start].strip()  # nothing but whitespace between consecutive chunks
        end = max(end, c.char_end)
    assert end == len(text)
