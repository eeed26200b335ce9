"""A generated 60 s lecture: every drawn line, spoken sentence and subtitle cue is found at its time (±2 s)."""

from __future__ import annotations

import pytest

from longlens.retrieval.chunking import chunk_segments
from longlens.retrieval.parsers import detect_type

VALID_SOURCES = {"speech", "ocr", "objects", "subtitles"}


def test_document_metadata(lecture, lecture_doc, truth):
    assert detect_type(lecture) == "video"
    assert lecture_doc.doc_type == "video"
    assert lecture_doc.page_count is None
    assert lecture_doc.duration == pytest.approx(truth.DURATION, abs=0.5)
    assert lecture_doc.title == "lecture"
    assert lecture_doc.warnings == []
    segs = lecture_doc.segments
    assert all(s.source in VALID_SOURCES and s.t_start is not None and s.t_end >= s.t_start for s in segs)
    starts = [s.t_start for s in lecture_doc.segments]
    assert starts == sorted(starts)


def test_speech_found_at_its_time(lecture_doc, truth):
    speech = [s for s in lecture_doc.segments if s.source == "speech"]
    for start, text in truth.SPEECH:
        keyword = text.rstrip(".").split()[-1]  # "pineapple", "comet"
        assert truth.near(speech, keyword, start, "speech"), (keyword, speech)
        assert all(s.text.startswith("[speech] ") for s in speech)


def test_on_screen_text_found_at_its_time(lecture_doc, truth):
    for start, end, text in truth.SLIDES:
        segs = [s for s in lecture_doc.segments if s.source == "ocr" and text.split()[0].lower() in s.text.lower()]
        assert len(segs) == 1, lecture_doc.segments  # one slide, one segment: repeats are merged
        assert segs[0].text.startswith("[on screen] ")
        assert text.lower() in segs[0].text.lower()
        assert abs(segs[0].t_start - start) <= 2 and abs(segs[0].t_end - end) <= 2


def test_subtitles_found_at_their_time(lecture_doc, truth):
    for start, _end, text in truth.CUES:
        assert truth.near(lecture_doc.segments, text, start, "subtitles", tol=0.01)


def test_chunks_carry_time_ranges_and_sources(lecture_doc):
    def words(texts):
        out = []
        for t in texts:
            offs, pos = [], 0
            for w in t.split():
                pos = t.index(w, pos)
                offs.append((pos, pos + len(w)))
                pos += len(w)
            out.append(offs)
        return out

    chunks = chunk_segments(lecture_doc.segments, words, max_tokens=200, max_seconds=10)
    assert len(chunks) >= 2
    for c in chunks:
        assert c.t_start is not None and c.t_end is not None
        assert set(c.sources.split(",")) <= VALID_SOURCES
    assert any("pineapple" in c.text and c.t_start <= 2 + 2 for c in chunks)


def test_chunk_time_window_leaves_documents_alone():
    from longlens.schema import Segment

    def chars(texts):
        return [[(i, i + 1) for i in range(len(t))] for t in texts]

    media = [Segment(f"s{i}", t_start=i * 10.0, t_end=i * 10.0 + 5, source="speech") for i in range(12)]
    packed = chunk_segments(media, chars, max_tokens=1000)
    assert len(packed) > 1 and all(c.t_end - c.t_start <= 45 for c in packed)
    docs = [Segment(f"p{i}", page=1) for i in range(12)]
    assert len(chunk_segments(docs, chars, max_tokens=1000)) == 1
