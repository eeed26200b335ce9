"""Keyword and hybrid search, fusion, and metadata filters."""

from __future__ import annotations

import pytest

from longlens.keyword_search import query_terms
from longlens.retrieval.fusion import reciprocal_rank_fusion
from longlens.schema import LongLensError


def test_rrf_rewards_agreement_and_is_deterministic():
    fused = reciprocal_rank_fusion([[1, 2, 3], [3, 4, 1]])
    assert [i for i, _ in fused] == [1, 3, 2, 4]
    assert fused[0][1] == pytest.approx(1 / 61 + 1 / 63)
    tie = reciprocal_rank_fusion([[5, 6], [6, 5]])
    assert [i for i, _ in tie] == [5, 6] and tie[0][1] == pytest.approx(tie[1][1])
    with pytest.raises(ValueError):
        reciprocal_rank_fusion([[1]], weights=[1.0, 2.0])


def test_query_terms_drop_stopwords():
    assert query_terms("What is the serial number of the X-7 pump?") == ["serial", "number", "x", "7", "pump"]
    assert query_terms("the") == ["the"]


@pytest.fixture
def corpus_lens(lens, tmp_path, pdf_writer):
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
    assert corpus_lens.search("impeller", k=5, document="nope.md") == []
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
