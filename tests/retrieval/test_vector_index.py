"""The FAISS index: exact search by chunk id, removal, atomic persistence."""

from __future__ import annotations

import numpy as np
import pytest

from longlens.retrieval.vector_index import FaissIndex


def _unit(rng, n, dim):
    v = rng.standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_search_matches_brute_force_and_returns_chunk_ids():
    rng = np.random.default_rng(0)
    vecs, ids = _unit(rng, 300, 32), np.arange(1000, 1300, dtype=np.int64)
    index = FaissIndex(32)
    index.add(ids, vecs)
    queries = _unit(rng, 5, 32)
    scores, found = index.search(queries, 7)
    expected = np.argsort(-(queries @ vecs.T), axis=1)[:, :7] + 1000
    np.testing.assert_array_equal(found, expected)
    np.testing.assert_allclose(scores, np.sort(queries @ vecs.T, axis=1)[:, ::-1][:, :7], rtol=1e-5)


def test_remove_and_persist_roundtrip(tmp_path):
    rng = np.random.default_rng(1)
    path = tmp_path / "idx" / "c.faiss"
    index = FaissIndex(16, path)
    index.add(np.arange(50), _unit(rng, 50, 16))
    assert index.remove(np.array([3, 4, 999])) == 2
    index.save()
    assert not path.with_name("c.faiss.tmp").exists()
    reopened = FaissIndex(16, path)
    assert reopened.ntotal == 48
    assert set(reopened.ids().tolist()) == set(range(50)) - {3, 4}


def test_rejects_wrong_shapes_and_handles_empty(tmp_path):
    index = FaissIndex(8)
    scores, ids = index.search(np.ones(8, dtype=np.float32), 3)
    assert ids.shape == (1, 0)
    with pytest.raises(ValueError):
        index.add(np.arange(2), np.ones((2, 9), dtype=np.float32))
    index.add(np.arange(2), np.eye(2, 8, dtype=np.float32))
    index.save()  # no path: a no-op, not an error
    path = tmp_path / "x.faiss"
    saved = FaissIndex(8, path)
    saved.add(np.arange(1), np.ones((1, 8), dtype=np.float32))
    saved.save()
    with pytest.raises(ValueError, match="8 dims"):
        FaissIndex(4, path)
