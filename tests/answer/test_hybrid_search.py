"""Keyword and hybrid search, fusion, and metadata filters."""

from __future__ import annotations

import pytest

from longlens.retrieval.fusion import reciprocal_rank_fusion, standardised_score_fusion
from longlens.schema import LongLensError, NoMatchError
from longlens.store.fulltext import match_words


def test_rrf_rewards_agreement_and_is_deterministic():
    fused = reciprocal_rank_fusion([[1, 2, 3], [3, 4, 1]])
    assert [i for i, _ in fused] == [1, 3, 2, 4]
    assert fused[0][1] == pytest.approx(1 / 61 + 1 / 63)
    tie = reciprocal_rank_fusion([[5, 6], [6, 5]])
    assert [i for i, _ in tie] == [5, 6] and tie[0][1] == pytest.approx(tie[1][1])
    with pytest.raises(ValueError):
        reciprocal_rank_fusion([[1]], weights=[1.0, 2.0])


def test_score_fusion_keeps_margins_that_ranks_lose():
    """A passage far ahead on the dense side and level on the keyword side beats one that is first on the
    keyword side by a hair; reciprocal rank fusion, which sees ranks only, puts them the other way round."""
    dense = [(1, 0.80), (2, 0.40), (3, 0.39), (4, 0.38), (5, 0.37)]
    keyword = [(2, 10.0), (3, 9.99), (1, 9.98), (4, 1.0), (5, 1.0)]
    assert reciprocal_rank_fusion([[i for i, _ in dense], [i for i, _ in keyword]])[0][0] == 2
    fused = standardised_score_fusion([dense, keyword])
    assert fused[0][0] == 1 and all(0.0 < s < 1.0 for _, s in fused)
    assert [s for _, s in fused] == sorted((s for _, s in fused), reverse=True)


def test_score_fusion_edges():
    # an id one list lacks ranks with that list's lowest score; an empty list adds nothing
    fused = standardised_score_fusion([[(1, 0.9), (2, 0.5)], [(3, 4.0), (2, 1.0)]])
    assert [i for i, _ in fused] == [1, 3, 2]  # 1 and 3 each first on one side and last on the other: a tie
    alone = standardised_score_fusion([[(7, 0.9), (8, 0.1)], []])
    assert [i for i, _ in alone] == [7, 8]
    tie = standardised_score_fusion([[(5, 1.0), (6, 1.0)]])
    assert [i for i, _ in tie] == [5, 6] and tie[0][1] == pytest.approx(0.5)
    assert standardised_score_fusion([[], []]) == []
    with pytest.raises(ValueError):
        standardised_score_fusion([[(1, 1.0)]], weights=[1.0, 2.0])


def test_query_terms_drop_stopwords():
    assert match_words("What is the serial number of the X-7 pump?") == ["serial", "number", "x", "7", "pump"]
    assert match_words("the") == ["the"]


def _lens_with(tmp_path, embedder, keyword_index: str):
    from longlens import LongLens

    ll = LongLens(tmp_path / f"data-{keyword_index}", workers=1, keyword_index=keyword_index)
    ll.embedder = embedder
    return ll


@pytest.fixture(params=["memory", "database"])
def keyword_lens(request, tmp_path, embedder):
    """A LongLens ranking keywords with the in-memory BM25 index, or inside the database (FTS5)."""
    with _lens_with(tmp_path, embedder, request.param) as ll:
        yield ll


@pytest.fixture
def db_lens(tmp_path, embedder):
    with _lens_with(tmp_path, embedder, "database") as ll:
        yield ll


@pytest.fixture
def corpus_lens(keyword_lens, tmp_path, pdf_writer):
    lens = keyword_lens
    (tmp_path / "parts.md").write_text(
        "# Parts\n\n## Pumps\n\nThe ZX-4471 impeller is replaced every 900 hours.\n\n"
        "## Valves\n\nThe brass valve seals need grease each spring.\n"
    )
    (tmp_path / "story.txt").write_text("A quiet story about a lighthouse keeper and a gull named Pip.")
    pdf_writer(tmp_path / "specs.pdf", ["Cover page.", "Impeller wear limits are 2 mm for the ZX series."])
    assert len(lens.ingest([tmp_path / "parts.md", tmp_path / "story.txt", tmp_path / "specs.pdf"]).ok) == 3
    return lens


def test_keyword_finds_rare_identifiers_dense_misses(corpus_lens):
    hits = corpus_lens.search("ZX-4471", k=3, mode="keyword")
    assert hits and "ZX-4471" in hits[0].text
    hybrid = corpus_lens.search("ZX-4471", k=3)
    assert "ZX-4471" in hybrid[0].text


def test_modes_and_filters(corpus_lens):
    dense = corpus_lens.search("lighthouse keeper", k=5, mode="dense")
    assert dense[0].document.endswith("story.txt")
    only_pdf = corpus_lens.search("impeller", k=5, doc_type="pdf")
    assert only_pdf and {h.doc_type for h in only_pdf} == {"pdf"} and only_pdf[0].page_start == 2
    only_doc = corpus_lens.search("impeller", k=5, document="parts.md")
    assert only_doc and {h.document.rsplit("/", 1)[-1] for h in only_doc} == {"parts.md"}
    with pytest.raises(NoMatchError, match="nope.md"):  # never a silent empty result
        corpus_lens.search("impeller", k=5, document="nope.md")
    kw_only_pdf = corpus_lens.search("impeller", k=5, doc_type="pdf", mode="keyword")
    assert kw_only_pdf and {h.doc_type for h in kw_only_pdf} == {"pdf"}
    with pytest.raises(LongLensError):
        corpus_lens.search("impeller", mode="fuzzy")  # type: ignore[arg-type]


def test_keyword_index_follows_replacement_and_removal(corpus_lens, tmp_path):
    (tmp_path / "parts.md").write_text("# Parts\n\n## Hoses\n\nRubber hoses crack after five winters.\n")
    corpus_lens.ingest([tmp_path / "parts.md"])
    assert all("4471" not in h.text for h in corpus_lens.search("ZX-4471", k=3, mode="keyword"))
    assert corpus_lens.search("rubber hoses", k=1, mode="keyword")[0].heading_path == "Parts > Hoses"
    corpus_lens.remove(["parts.md"])
    assert corpus_lens.search("rubber hoses", k=3, mode="keyword") == []


def test_common_words_score_but_cannot_match_alone(db_lens, tmp_path, monkeypatch):
    """FTS5: in a big collection a word in every chunk still counts, but cannot bring a chunk in on its own."""
    from longlens.store import fulltext
    from longlens.store.fulltext import _sqlite_match

    lens = db_lens
    monkeypatch.setattr(fulltext, "PRUNE_FROM_CHUNKS", 10)  # 31 chunks stand in for a big collection
    for i in range(30):
        (tmp_path / f"log{i}.txt").write_text(f"Station report {i}: the station pump ran normally all week.")
    (tmp_path / "odd.txt").write_text("Station report: the gearbox of the station pump rattled twice.")
    assert len(lens.ingest(sorted(tmp_path.glob("*.txt"))).ok) == 31
    with lens.store.engine.connect() as conn:
        assert _sqlite_match(conn, ["station", "gearbox"]) == '("gearbox") AND ("station" OR "gearbox")'
        assert _sqlite_match(conn, ["station", "pump"]) == '"station" OR "pump"'  # all common: any may match
    hits = lens.search("station gearbox", k=5, mode="keyword")
    assert [h.document for h in hits] == [str(tmp_path / "odd.txt")]
    assert len(lens.search("station pump", k=5, mode="keyword")) == 5
    monkeypatch.setattr(fulltext, "PRUNE_FROM_CHUNKS", 5000)  # small collections: any word may match
    assert len(lens.search("station gearbox", k=5, mode="keyword")) == 5


def test_keyword_top_k_of_a_small_collection_beside_a_large_one(db_lens, tmp_path, monkeypatch):
    """FTS5: ranking runs across all collections first; a collection whose rows are not in that global top still
    gets its own best matches, in the same order as filtering every match would give."""
    from longlens.store import fulltext

    lens = db_lens
    big, small = tmp_path / "big", tmp_path / "small"
    big.mkdir()
    small.mkdir()
    for i in range(40):
        (big / f"b{i}.txt").write_text(f"Turbine turbine turbine blade inspection number {i}.")
    for i in range(3):
        note = f"A long note on gardening, tomatoes and one turbine, entry {i} " + "soil " * i
        (small / f"s{i}.txt").write_text(note)
    assert len(lens.ingest(sorted(big.glob("*.txt")), collection="big").ok) == 40
    assert len(lens.ingest(sorted(small.glob("*.txt")), collection="small").ok) == 3
    monkeypatch.setattr(fulltext, "GLOBAL_FETCH", 1)  # global top 2 rows: all from "big"
    hits = lens.search("turbine", k=2, mode="keyword", collection="small")
    assert len(hits) == 2 and all(h.document.startswith(str(small)) for h in hits)
    monkeypatch.setattr(fulltext, "GLOBAL_FETCH", 100)
    assert [h.chunk_id for h in lens.search("turbine", k=2, mode="keyword", collection="small")] == [
        h.chunk_id for h in hits
    ]
    in_big = lens.search("turbine", k=5, mode="keyword", collection="big")
    assert len(in_big) == 5 and all(h.document.startswith(str(big)) for h in in_big)


def test_search_looks_past_an_instruction_pasted_before_the_question(keyword_lens, tmp_path):
    """A prompt-style query ("... answer the question: ...") finds the answer, not the passage that shares
    the instruction's words (the operator's welcome of a results call)."""
    (tmp_path / "call.md").write_text(
        "# Welcome\n\nWelcome to the Acme Financial Results Conference Call. I am the operator. Members of "
        "the call may ask a question and we will answer each question after the prepared remarks.\n\n"
        "# Segments\n\nSurgical segment sales were 41 million dollars, up 12 percent on last year, "
        "helped by new hospital contracts.\n"
    )
    assert keyword_lens.ingest([tmp_path / "call.md"]).ok
    question = ("You are asked to act as a member of the Financial Results Conference Call and answer the "
                "question: How much did the surgical segment sell?")
    for mode in ("hybrid", "dense", "keyword"):
        hits = keyword_lens.search(question, k=2, mode=mode)
        assert "41 million" in hits[0].text, mode
