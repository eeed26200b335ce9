"""Vectors in PostgreSQL with pgvector, on a real server with the extension (the `pgvector_url` fixture)."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import text

from longlens.schema import LongLensError
from longlens.store.pgvector import PgVectorIndex, PgVectorSet, hnsw_index_name
from longlens.store.store import Store
from longlens.store.vector_column import install

pytestmark = pytest.mark.postgres


def _unit(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    v = rng.standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _chunks_with_vectors(store: Store, vectors: np.ndarray) -> list[int]:
    """Rows in a fresh collection and document whose stored vectors are `vectors`; returns their ids."""
    from longlens.schema import Chunk

    cid = store.ensure_collection("c", "test-embedder", vectors.shape[1])
    chunks = [Chunk(ordinal=i, text=f"chunk {i}", token_count=2, char_start=0, char_end=7) for i in range(len(vectors))]
    _doc, ids, _removed = store.replace_document(
        cid, "/x.txt", sha256="0" * 64, doc_type="text", title="x", size_bytes=1, page_count=None, duration=None,
        warnings=[], chunks=chunks, embeddings=vectors,
    )
    return ids


def test_search_matches_exact_inner_product_with_and_without_a_filter(pgvector_url):
    store = Store(pgvector_url)
    install(store.engine)
    store.vectors_in_database = True
    rng = np.random.default_rng(0)
    vectors = _unit(rng, 300, 48)
    ids = np.asarray(_chunks_with_vectors(store, vectors))
    index = PgVectorIndex(store.engine, 1, 48)
    assert index.ntotal == 300 and sorted(index.ids()) == sorted(ids)
    queries = _unit(rng, 5, 48)
    exact = queries @ vectors.T

    scores, found = index.search(queries, 10)
    for row in range(5):
        best = ids[np.argsort(-exact[row])[:10]]
        assert len(set(found[row]) & set(best)) >= 9  # HNSW is approximate; on 300 vectors it is all but exact
        np.testing.assert_allclose(scores[row], exact[row][np.searchsorted(ids, found[row])], atol=1e-5)

    allowed = ids[::7]
    scores, found = index.search(queries, 5, allowed_ids=allowed)
    for row in range(5):
        sub = exact[row][::7]
        np.testing.assert_array_equal(found[row], allowed[np.argsort(-sub)[:5]])  # filtered search is exact
        np.testing.assert_allclose(scores[row], np.sort(sub)[::-1][:5], atol=1e-5)
    assert index.search(queries, 5, allowed_ids=np.zeros(0, dtype=np.int64))[1].shape == (5, 0)
    with store.engine.connect() as conn:
        made = conn.execute(text("SELECT indexdef FROM pg_indexes WHERE indexname = :n"),
                            {"n": hnsw_index_name(1)}).scalar()
    assert "hnsw" in made and "collection_id = 1" in made
    store.close()


def test_ef_search_is_a_setting_and_never_shorter_than_k(tmp_path, pgvector_url):
    from longlens import LongLens

    store = Store(pgvector_url)
    install(store.engine)
    store.vectors_in_database = True
    rng = np.random.default_rng(1)
    ids = _chunks_with_vectors(store, _unit(rng, 200, 48))
    index = PgVectorIndex(store.engine, 1, 48, ef_search=2)
    assert index.ef_search == 2
    _, found = index.search(_unit(rng, 1, 48), 30)
    assert found.shape == (1, 30) and set(found[0]) <= set(ids)  # a list of 2 candidates would return 2
    with pytest.raises(LongLensError, match="ef_search"):
        PgVectorIndex(store.engine, 1, 48, ef_search=0)
    store.close()
    with LongLens(tmp_path / "data", database_url=pgvector_url, workers=1, pgvector_ef_search=120) as ll:
        assert isinstance(ll.indexes, PgVectorSet) and ll.indexes.ef_search == 120
    with pytest.raises(ValueError, match="pgvector_ef_search"):
        LongLens(tmp_path / "data", database_url=pgvector_url, pgvector_ef_search=5000)


def test_ingest_search_remove_with_no_index_file(tmp_path, embedder, pgvector_url):
    from longlens import LongLens

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "ships.md").write_text("# Ships\n\nThe Cutty Sark carried tea from China.\n")
    (docs / "trains.txt").write_text("The Flying Scotsman reached 100 mph in 1934.")
    with LongLens(tmp_path / "data", database_url=pgvector_url, workers=1) as ll:
        ll.embedder = embedder
        assert isinstance(ll.indexes, PgVectorSet)  # chosen because the database has the extension
        assert len(ll.ingest([docs]).ok) == 2
        assert ll.search("which ship carried tea", k=1, mode="dense")[0].document.endswith("ships.md")
        assert ll.search("a fast locomotive", k=1, mode="dense", document="trains.txt")[0].document.endswith(
            "trains.txt")
        with ll.store.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM chunks WHERE vec IS NULL")).scalar() == 0
        assert not list((tmp_path / "data").rglob("*.faiss"))
        ll.remove(["ships.md"])
        assert all(h.document.endswith("trains.txt") for h in ll.search("ship tea", k=5, mode="dense"))
        assert ll.doctor()["healthy"] is True


def test_a_database_that_used_faiss_gets_its_vectors_and_damaged_vectors_are_rewritten(tmp_path, embedder,
                                                                                        pgvector_url):
    from longlens import LongLens

    doc = tmp_path / "ships.md"
    doc.write_text("# Ships\n\nThe Cutty Sark carried tea from China.\n\n## Wrecks\n\nThe Mary Rose sank in 1545.")
    with LongLens(tmp_path / "data", database_url=pgvector_url, workers=1, vector_index="faiss") as ll:
        ll.embedder = embedder
        ll.ingest([doc])
        assert not isinstance(ll.indexes, PgVectorSet)
    with LongLens(tmp_path / "data", database_url=pgvector_url, workers=1) as ll:
        ll.embedder = embedder
        assert "Cutty Sark" in ll.search("which ship carried tea", k=1, mode="dense")[0].text
        with ll.store.engine.begin() as conn:
            assert conn.execute(text("SELECT count(*) FROM chunks WHERE vec IS NULL")).scalar() == 0
            big = "[" + ",".join(["1000"] * embedder.dim) + "]"
            conn.execute(text("UPDATE chunks SET vec = CAST(:v AS vector)"), {"v": big})  # damage every vector
        hits = ll.search("which ship carried tea", k=2, mode="dense")  # scores out of [-1, 1]: rewritten first
        assert "Cutty Sark" in hits[0].text and all(-1 <= h.score <= 1 for h in hits)

        with ll.store.engine.begin() as conn:
            conn.execute(text("UPDATE chunks SET vec = CAST(:v AS vector) WHERE id = (SELECT min(id) FROM chunks)"),
                         {"v": "[" + ",".join(["0.01"] * embedder.dim) + "]"})  # in range, but not the stored one
            conn.execute(text("UPDATE chunks SET vec = NULL WHERE id = (SELECT max(id) FROM chunks)"))
        report = ll.doctor()
        assert report["healthy"] is False
        assert "1 of 1 sampled vectors differ" in report["collections"][0]["index_damage"]
        assert ll.doctor()["healthy"] is True
        with ll.store.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM chunks WHERE vec IS NULL")).scalar() == 0
        index = ll.indexes.get(1, embedder.dim)
        assert index.differing(100) == (0, 2)


def test_forcing_pgvector_without_it_is_a_clear_error(tmp_path):
    from longlens import LongLens

    with pytest.raises(LongLensError, match="pgvector extension"):
        LongLens(tmp_path / "data", vector_index="pgvector")
    with pytest.raises(ValueError, match="vector_index"):
        LongLens(tmp_path / "data2", vector_index="milvus")
