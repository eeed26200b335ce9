"""Markers map to passages; markers pointing nowhere are dropped, streamed or not."""

from __future__ import annotations

from longlens.answer.citations import best_quote, build_citations, cited_numbers, clean_markers, filter_stream
from longlens.schema import Hit


def _hit(i, text, **loc):
    return Hit(chunk_id=100 + i, document=f"/d/doc{i}.pdf", document_id=i, title="", collection="c",
               text=text, score=1.0, **loc)


def test_clean_and_cite():
    text = "Herons nest in April [1][7]. The colony has 214 pairs [2, 9]. Nothing here [0]."
    assert clean_markers(text, 3) == "Herons nest in April [1]. The colony has 214 pairs [2]. Nothing here."
    assert cited_numbers(text, 3) == [1, 2]


def test_citations_carry_location_and_a_supporting_quote():
    passages = [
        _hit(1, "Herons arrive in March. They nest in April near the river.", page_start=4, page_end=4),
        _hit(2, "Ferries sail hourly.", t_start=72.0, t_end=80.5),
    ]
    answer = "Herons nest in April [1]. Ferries sail every hour [2]. Unknown [3]."
    cits = build_citations(answer, passages)
    assert [(c.n, c.chunk_id, c.page_start, c.t_start) for c in cits] == [(1, 101, 4, None), (2, 102, None, 72.0)]
    assert cits[0].quote == "They nest in April near the river."
    assert best_quote("x" * 500, "x", max_chars=50).endswith("…")


def test_stream_filter_never_shows_invalid_markers_whatever_the_split():
    text = "Answer [1] and [12] and [2,3] and [x] and [4 ok [3]"
    expected = "Answer [1] and  and [2][3] and [x] and [4 ok [3]"
    for size in (1, 2, 3, 5, 100):
        pieces = [text[i : i + size] for i in range(0, len(text), size)]
        assert "".join(filter_stream(pieces, 3)) == expected, size
    assert "".join(filter_stream(["trailing [", "2"], 3)) == "trailing [2"
