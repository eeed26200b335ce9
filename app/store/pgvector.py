"""Vectors inside PostgreSQL (pgvector): the database is then the only state, shared by every app replica.

Each chunk's vector sits beside its row in a `vec vector` column, written in the same transaction as the row,
so there is no file to reconcile or lose. A collection gets its own partial HNSW index over
`vec::vector(<dim>)` (collections may use embedders of different sizes; one index per collection keeps each
search inside its collection). A search limited to some documents is exact: it scans only their rows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine, text

from longlens.config import EF_SEARCH, MAX_EF_SEARCH
from longlens.retrieval.vector_index import VectorIndex
from longlens.schema import LongLensError
from longlens.store.indexes import IndexSet, ReconcileReport
from longlens.store.store import Store
from longlens.store.vector_column import available, install, vector_literal, write_vectors

DOCTOR_SAMPLE = 2000
"""Rows per collection whose vector `doctor` compares with the bytes stored beside it."""


class PgVectorIndex(VectorIndex):
    """One collection's vectors in the `chunks` table, searched through its partial HNSW index.

    `add` and `remove` exist for reconciliation (vectors a database lacks are filled from the stored
    float32 bytes); ingestion writes vectors with the rows themselves. Nothing to save: `dirty` stays False.
    """

    path = None
    dirty = False

    def __init__(self, engine: Engine, collection_id: int, dim: int, ef_search: int = EF_SEARCH) -> None:
        if not 1 <= ef_search <= MAX_EF_SEARCH:
            raise LongLensError(f"ef_search must be between 1 and {MAX_EF_SEARCH}, not {ef_search}")
        self.ef_search = int(ef_search)
        self.engine = engine
        self.collection_id = int(collection_id)
        self.dim = int(dim)
        self._expr = f"(vec::vector({self.dim}))"
        with engine.begin() as conn:
            conn.execute(text(
                f"CREATE INDEX IF NOT EXISTS {hnsw_index_name(self.collection_id)} ON chunks "
                f"USING hnsw ({self._expr} vector_ip_ops) WHERE collection_id = {self.collection_id}"
            ))

    @property
    def ntotal(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(
                text("SELECT count(*) FROM chunks WHERE collection_id = :c AND vec IS NOT NULL"),
                {"c": self.collection_id},
            ).scalar())

    def ids(self) -> np.ndarray:
        return self._ids(has_vector=True)

    def _ids(self, has_vector: bool) -> np.ndarray:
        condition = "vec IS NOT NULL" if has_vector else "vec IS NULL"
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(f"SELECT id FROM chunks WHERE collection_id = :c AND {condition}"), {"c": self.collection_id}
            ).scalars().all()
        return np.asarray(rows, dtype=np.int64)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if len(ids) and vectors.shape != (len(ids), self.dim):
            raise ValueError(f"expected vectors of shape ({len(ids)}, {self.dim}), got {vectors.shape}")
        with self.engine.begin() as conn:
            write_vectors(conn, list(ids), vectors)

    def remove(self, ids: np.ndarray) -> int:
        """Clear the vectors of rows still there (a deleted row took its vector with it)."""
        if len(ids) == 0:
            return 0
        with self.engine.begin() as conn:
            result = conn.execute(
                text("UPDATE chunks SET vec = NULL WHERE id = ANY(CAST(:ids AS bigint[])) AND vec IS NOT NULL"),
                {"ids": [int(i) for i in ids]},
            )
            return int(result.rowcount or 0)

    def missing_ids(self) -> np.ndarray:
        """Rows of the collection without a vector."""
        return self._ids(has_vector=False)

    def differing(self, sample: int) -> tuple[int, int]:
        """(differing, checked): of up to `sample` random rows, how many have a vector other than the float32
        bytes stored with the row (the truth the vector was written from)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                text("SELECT vec::text, embedding FROM chunks WHERE collection_id = :c AND vec IS NOT NULL "
                     "ORDER BY random() LIMIT :n"),
                {"c": self.collection_id, "n": sample},
            ).all()
        bad = 0
        for vec, stored in rows:
            got = np.array(vec.strip("[]").split(","), dtype=np.float32)
            want = np.frombuffer(stored, dtype=np.float32)
            bad += got.shape != want.shape or not np.allclose(got, want, rtol=0, atol=1e-6)
        return bad, len(rows)

    def clear(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(text("UPDATE chunks SET vec = NULL WHERE collection_id = :c"), {"c": self.collection_id})

    def search(
        self, queries: np.ndarray, k: int, allowed_ids: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        n = len(queries)
        if k <= 0 or (allowed_ids is not None and len(allowed_ids) == 0):
            return np.zeros((n, 0), dtype=np.float32), np.zeros((n, 0), dtype=np.int64)
        scores = np.full((n, k), -np.inf, dtype=np.float32)
        found = np.full((n, k), -1, dtype=np.int64)
        if allowed_ids is not None:
            # exact over the allowed rows: the distance is written without the index's cast, so the
            # planner reads those rows by id instead of walking the collection's graph and filtering after
            sql = ("SELECT id, vec <#> CAST(:q AS vector) AS d FROM chunks WHERE collection_id = :c "
                   "AND id = ANY(CAST(:allowed AS bigint[])) AND vec IS NOT NULL ORDER BY d LIMIT :k")
        else:
            sql = (f"SELECT id, {self._expr} <#> CAST(:q AS vector({self.dim})) AS d FROM chunks "
                   f"WHERE collection_id = {self.collection_id} ORDER BY {self._expr} <#> "
                   f"CAST(:q AS vector({self.dim})) LIMIT :k")
        allowed = [int(i) for i in allowed_ids] if allowed_ids is not None else None
        with self.engine.begin() as conn:
            conn.execute(text(f"SET LOCAL hnsw.ef_search = {min(MAX_EF_SEARCH, max(self.ef_search, k))}"))
            for row, query in enumerate(queries):
                params = {"q": vector_literal(query), "c": self.collection_id, "k": k, "allowed": allowed}
                for col, (chunk_id, distance) in enumerate(conn.execute(text(sql), params).all()):
                    found[row, col], scores[row, col] = chunk_id, -distance  # <#> is the negative inner product
        width = int((found >= 0).sum(axis=1).max()) if n else 0
        return scores[:, :width], found[:, :width]

    def save(self) -> None:
        """Nothing to write: every change was committed in the database."""


def hnsw_index_name(collection_id: int) -> str:
    return f"chunks_vec_hnsw_{int(collection_id)}"


class PgVectorSet(IndexSet):
    """The collections' vector indexes when vectors live in PostgreSQL: no files and no checksums. Rows carry
    their vectors, so another process's writes need no reconciling; opening a collection fills any vector
    a row lacks (a database that used FAISS before) from the row's stored bytes."""

    def __init__(self, store: Store, ef_search: int = EF_SEARCH) -> None:
        import threading

        self.store = store
        self.ef_search = ef_search
        self._indexes: dict[int, PgVectorIndex] = {}
        self._lock = threading.RLock()

    def get(self, collection_id: int, dim: int, revision: int | None = None) -> PgVectorIndex:
        with self._lock:
            index = self._indexes.get(collection_id)
            if index is None:
                index = PgVectorIndex(self.store.engine, collection_id, dim, self.ef_search)
                self._reconcile(collection_id, index, dim)
                self._indexes[collection_id] = index
            return index

    def _reconcile(self, collection_id: int, index: Any, dim: int) -> ReconcileReport:
        missing = index.missing_ids()
        if len(missing):
            index.add(missing, self.store.embeddings(missing.tolist(), dim))
        return ReconcileReport(collection_id, added=len(missing), removed=0)

    def reconcile(self, collection_id: int, dim: int) -> ReconcileReport:
        """Fill the vectors rows lack, and compare a sample of the rest with the rows' stored bytes; any that
        differ mean the column was damaged, and it is written again (used by `doctor`)."""
        with self._lock:
            index = self.get(collection_id, dim)
            bad, checked = index.differing(DOCTOR_SAMPLE)
            if bad:
                damage = f"{bad} of {checked} sampled vectors differ from the stored ones"
                return self.rebuild(collection_id, dim, damage)
            return self._reconcile(collection_id, index, dim)

    def rebuild(self, collection_id: int, dim: int, damage: str) -> ReconcileReport:
        """Write the collection's vectors again from the rows' stored bytes."""
        with self._lock:
            index = self.get(collection_id, dim)
            index.clear()
            report = self._reconcile(collection_id, index, dim)
            report.rebuilt, report.damage = True, damage
            return report

    def apply(
        self, collection_id: int, dim: int, add_ids: list[int], vectors: np.ndarray, remove_ids: list[int]
    ) -> None:
        """Nothing to do but make sure the collection's index exists: the rows carried their vectors."""
        self.get(collection_id, dim)

    def drop(self, collection_id: int) -> None:
        with self._lock:
            self._indexes.pop(collection_id, None)
            with self.store.engine.begin() as conn:
                conn.execute(text(f"DROP INDEX IF EXISTS {hnsw_index_name(collection_id)}"))

    def stray_files(self, known_ids: set[int]) -> list:
        return []

    def save_dirty(self) -> None:
        """Nothing is ever dirty."""


VECTOR_INDEXES = ("auto", "faiss", "pgvector")


def vector_indexes(store: Store, index_dir: Path, choice: str = "auto", ef_search: int = EF_SEARCH) -> IndexSet:
    """The vector indexes for this store: pgvector when `choice` says so, or when it is "auto" and the
    database is PostgreSQL with the `vector` extension available; FAISS files in `index_dir` otherwise."""
    if choice not in VECTOR_INDEXES:
        raise LongLensError(f"vector_index must be one of {', '.join(VECTOR_INDEXES)}, not '{choice}'")
    if choice == "faiss" or (choice == "auto" and not available(store.engine)):
        return IndexSet(store, index_dir)
    if not available(store.engine):
        raise LongLensError(
            "vector_index 'pgvector' needs a PostgreSQL database with the pgvector extension "
            f"(LONGLENS_DATABASE_URL is {store.engine.url.render_as_string(hide_password=True)})"
        )
    install(store.engine)
    store.vectors_in_database = True
    return PgVectorSet(store, ef_search)
