"""The in-memory BM25 keyword index: exact scores, updates, persistence, and its place beside the database."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from longlens.retrieval.bm25 import IDF_FLOOR, K1, B, BM25Index
from longlens.retrieval.terms import query_terms, term, words

WORDS = "heron herons nesting nests pump pumps valve café cafe river tide the of a and station gearbox".split()


def _reference(docs: dict[int, str], query: str) -> dict[int, float]:
    """Textbook BM25 (Robertson-Sparck Jones idf, floored), written out over Python dicts."""
    bags = {i: [t for t in map(term, words(text)) if t is not None] for i, text in docs.items()}
    n = len(bags)
    avg = sum(len(b) for b in bags.values()) / n
    scores: dict[int, float] = {}
    for q in query_terms(query):
        df = sum(q in b for b in bags.values())
        idf = max(math.log((n - df + 0.5) / (df + 0.5)), IDF_FLOOR)
        for i, bag in bags.items():
            tf = bag.count(q)
            if tf:
                scores[i] = scores.get(i, 0.0) + idf * tf * (K1 + 1) / (tf + K1 * (1 - B + B * len(bag) / avg))
    return scores


def _random_docs(rng: random.Random, ids: list[int]) -> dict[int, str]:
    return {i: " ".join(rng.choices(WORDS, k=rng.randint(1, 30))) for i in ids}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_scores_equal_a_reference_after_adds_replacements_and_removals(seed):
    rng = random.Random(seed)
    ids = sorted(rng.sample(range(1, 10_000), 90))
    docs = _random_docs(rng, ids)
    index = BM25Index()
    for part in (ids[:40], ids[40:70]):  # two batches, merged by the first search
        index.add(np.array(part), [docs[i] for i in part])
    index.search("heron", 1)
    index.add(np.array(ids[70:]), [docs[i] for i in ids[70:]])  # still pending when the next change comes
    gone = rng.sample(ids, 15)
    index.remove(np.array(gone))
    for i in gone:
        del docs[i]
    replaced = rng.sample(sorted(docs), 10)
    docs.update(_random_docs(rng, replaced))
    index.add(np.array(replaced), [docs[i] for i in replaced])
    assert sorted(index.ids().tolist()) == sorted(docs)

    for query in ["heron nests", "the gearbox of the pump", "cafe river tide valve", "Café, herons!"]:
        expected = _reference(docs, query)
        got = index.search(query, k=len(docs))
        assert {i for i, _ in got} == set(expected)
        for chunk_id, score in got:
            assert score == pytest.approx(expected[chunk_id], rel=1e-5)
        assert all((a[1], -a[0]) >= (b[1], -b[0]) for a, b in zip(got, got[1:], strict=False))  # best first
        top3 = index.search(query, k=3)
        assert [s for _, s in top3] == pytest.approx([s for _, s in got[:3]])


def test_stems_accents_and_stopwords():
    index = BM25Index()
    index.add(np.array([1, 2, 3]), ["Grey herons were nesting by the café.", "A pump house.", "The and of it"])
    assert [i for i, _ in index.search("how many heron nests near the cafe", 5)] == [1]
    assert index.search("the of and", 5) == []  # stopwords alone match nothing
    assert index.search("submarine", 5) == []


def test_a_word_of_thousands_of_letters_is_kept_by_its_first_64_and_still_found():
    from longlens.retrieval.terms import MAX_WORD_CHARS

    giant = "heronmarshweir" * 400  # text without spaces is one word per chunk
    index = BM25Index()
    index.add(np.array([1, 2]), [giant + " survey", "a plain survey of the marsh"])
    assert max(map(len, index._vocab)) <= MAX_WORD_CHARS  # the vocabulary holds no 5,600-letter term
    assert [i for i, _ in index.search(giant, 5)] == [1]
    assert [i for i, _ in index.search(giant[:MAX_WORD_CHARS] + "different tail", 5)] == [1]  # cut the same way


def test_allowed_ids_filter_and_k():
    index = BM25Index()
    index.add(np.arange(10, 20), [f"pump number {i} " + "pump " * (i - 10) for i in range(10, 20)])
    assert [i for i, _ in index.search("pump", 3)] == [19, 18, 17]
    assert [i for i, _ in index.search("pump", 10, allowed_ids=np.array([11, 15, 99, 3]))] == [15, 11]
    assert index.search("pump", 5, allowed_ids=np.array([], dtype=np.int64)) == []
    assert index.search("pump", 0) == []


def test_save_and_load_round_trip(tmp_path):
    rng = random.Random(7)
    docs = _random_docs(rng, list(range(1, 200)))
    path = tmp_path / "k.bm25.npz"
    index = BM25Index(path)
    index.add(np.array(list(docs)), list(docs.values()))
    index.remove(np.array([5, 6, 7]))
    index.save()
    assert not index.dirty and not list(tmp_path.glob("*.tmp"))
    loaded = BM25Index(path)
    assert np.array_equal(np.sort(loaded.ids()), np.sort(index.ids()))
    for query in ["heron pump", "station valve tide"]:
        assert loaded.search(query, 20) == index.search(query, 20)
    loaded.add(np.array([1000]), ["gearbox gearbox gearbox"])  # the loaded vocabulary keeps growing correctly
    assert loaded.search("gearbox", 1)[0][0] == 1000


def test_a_damaged_file_is_refused(tmp_path):
    path = tmp_path / "k.bm25.npz"
    path.write_bytes(b"not an index")
    with pytest.raises(Exception):  # noqa: B017 - numpy's own error for a bad file; IndexSet rebuilds on any
        BM25Index(path)


def test_ingest_writes_the_keyword_index_and_a_new_process_loads_it(lens, tmp_path, monkeypatch):
    """A CLI process answering one query must not re-tokenize the collection."""
    from longlens import LongLens

    (tmp_path / "a.md").write_text("# Birds\n\n## Herons\n\nGrey herons nest in tall trees.\n")
    (tmp_path / "b.txt").write_text("The ferry leaves at noon.")
    lens.ingest([tmp_path / "a.md", tmp_path / "b.txt"])
    lens.close()
    assert list((lens.settings.data_dir / "indexes").glob("collection-*.bm25.npz"))
    with LongLens(lens.settings.data_dir, workers=1) as fresh:
        fresh.embedder = lens.embedder
        monkeypatch.setattr(fresh.store, "keyword_texts", lambda ids: pytest.fail(f"re-tokenized {ids}"))
        hits = fresh.search("herons birds", k=1, mode="keyword")
        assert hits[0].heading_path == "Birds > Herons"  # the section path is indexed with the text


def test_rarity_ranks_absent_terms_rarest():
    index = BM25Index()
    index.add(np.arange(4), ["heron colony", "heron nests", "heron pairs", "ferry fleet"])
    rarity = index.rarity("heron ferry quokka")
    assert rarity["quokka"] > rarity["ferri"] > rarity["heron"]
    assert BM25Index().rarity("heron") == {"heron": 1.0}
