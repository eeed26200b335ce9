"""Ingesting a video with LongLens: search finds what was said, shown and subtitled, with its time range."""

from __future__ import annotations

import pytest


@pytest.fixture
def ingested(lens, lecture):
    report = lens.ingest([lecture])
    assert report.ok and not report.failed, report
    return lens


def _hit_at(lens, query: str, t: float):
    hits = lens.search(query, k=3, doc_type="video")
    assert hits, query
    best = hits[0]
    assert best.doc_type == "video"
    assert best.t_start is not None and best.t_end is not None
    assert best.t_start - 2 <= t <= best.t_end + 2, (query, best)
    return best


def test_search_returns_time_ranges(ingested, truth):
    first = _hit_at(ingested, "what is the secret password", truth.SPEECH[0][0])
    second = _hit_at(ingested, "zebra migration patterns", truth.SLIDES[1][0])
    assert first.chunk_id != second.chunk_id and first.t_end < second.t_start  # two scenes, two time ranges
    _hit_at(ingested, "harbour lighthouse tour", truth.CUES[0][0])
    _hit_at(ingested, "bright comet seen through the telescope", truth.SPEECH[1][0])
    _hit_at(ingested, "volcanic basalt columns", truth.CUES[1][0])
    doc = ingested.documents()[0]
    assert doc.duration == pytest.approx(truth.DURATION, abs=0.5)
