"""Per-collection indexes (FAISS vectors, BM25 keywords), kept in agreement with the database.

The database is the truth (chunks store their text and vectors); an index file is a cache that may lag
behind it after a crash or another process's writes. `reconcile` brings an index back in line by adding the
chunks the database has and removing ids it lost, which is what lets a killed ingestion resume cleanly and
what `longlens doctor` reports.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from longlens.retrieval.bm25 import BM25Index
from longlens.retrieval.vector_index import FaissIndex
from longlens.store import Store


@dataclass(frozen=True)
class IndexKind:
    """What differs between the kinds of index: the file suffix, how one opens, what it is fed per chunk."""

    suffix: str
    open: Callable[[Path, int], Any]  # (path, dim) -> an index with ids/add/remove/save/dirty
    rows: Callable[[Store, list[int], int], Any]  # (store, chunk ids, dim) -> what `add` takes for them


DENSE = IndexKind(".faiss", lambda path, dim: FaissIndex(dim, path), lambda store, ids, dim: store.embeddings(ids, dim))
KEYWORD = IndexKind(".bm25.npz", lambda path, _dim: BM25Index(path), lambda store, ids, _dim: store.keyword_texts(ids))


@dataclass
class ReconcileReport:
    collection_id: int
    added: int
    removed: int
    rebuilt: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed or self.rebuilt)


class IndexSet:
    """Lazily opened, reconciled indexes of one kind for the collections of one data directory."""

    def __init__(self, store: Store, index_dir: Path, kind: IndexKind = DENSE) -> None:
        self.store = store
        self.index_dir = Path(index_dir)
        self.kind = kind
        self._indexes: dict[int, Any] = {}
        self._revisions: dict[int, int] = {}
        self._lock = threading.RLock()

    def path(self, collection_id: int) -> Path:
        return self.index_dir / f"collection-{collection_id}{self.kind.suffix}"

    def stray_files(self, known_ids: set[int]) -> list[Path]:
        """Index files of this kind whose collection no longer exists."""
        known = {self.path(i).name for i in known_ids}
        return [p for p in self.index_dir.glob(f"collection-*{self.kind.suffix}") if p.name not in known]

    def get(self, collection_id: int, dim: int, revision: int | None = None) -> Any:
        """The collection's index; with the database's `revision`, re-checked if another process changed it."""
        with self._lock:
            index = self._indexes.get(collection_id)
            if index is None:
                index, _ = self._open(collection_id, dim)
                self._indexes[collection_id] = index
            elif revision is not None and self._revisions.get(collection_id) != revision:
                report = self._reconcile(collection_id, index, dim)
                if report.changed:
                    index.save()
            if revision is not None:
                self._revisions[collection_id] = revision
            return index

    def _open(self, collection_id: int, dim: int) -> tuple[Any, ReconcileReport]:
        path = self.path(collection_id)
        rebuilt = False
        try:
            index = self.kind.open(path, dim)
        except Exception:  # unreadable or wrong-sized file: the database can rebuild it
            path.unlink(missing_ok=True)
            index = self.kind.open(path, dim)
            rebuilt = True
        report = self._reconcile(collection_id, index, dim)
        report.rebuilt = rebuilt
        if report.changed:
            index.save()
        return index, report

    def _reconcile(self, collection_id: int, index: Any, dim: int) -> ReconcileReport:
        in_db = self.store.chunk_ids(collection_id)
        in_index = index.ids()
        missing = np.setdiff1d(in_db, in_index, assume_unique=True)
        orphans = np.setdiff1d(in_index, in_db, assume_unique=True)
        index.remove(orphans)
        if len(missing):
            index.add(missing, self.kind.rows(self.store, missing.tolist(), dim))
        return ReconcileReport(collection_id, added=len(missing), removed=len(orphans))

    def reconcile(self, collection_id: int, dim: int) -> ReconcileReport:
        """Re-check one collection against the database (used by `doctor`), opening it if needed."""
        with self._lock:
            if collection_id not in self._indexes:
                index, report = self._open(collection_id, dim)
                self._indexes[collection_id] = index
                return report
            index = self._indexes[collection_id]
            report = self._reconcile(collection_id, index, dim)
            if report.changed:
                index.save()
            return report

    def apply(
        self, collection_id: int, dim: int, add_ids: list[int], vectors: np.ndarray, remove_ids: list[int]
    ) -> None:
        index = self.get(collection_id, dim)
        index.remove(np.asarray(remove_ids, dtype=np.int64))
        index.add(np.asarray(add_ids, dtype=np.int64), vectors)

    def drop(self, collection_id: int) -> None:
        with self._lock:
            self._indexes.pop(collection_id, None)
            self.path(collection_id).unlink(missing_ok=True)

    def save_dirty(self) -> None:
        with self._lock:
            for index in self._indexes.values():
                if index.dirty:
                    index.save()
