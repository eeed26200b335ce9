"""One FAISS index per collection, kept in agreement with the database.

The database is the truth (chunks store their vectors); an index file may lag behind it after a crash.
`reconcile` brings an index back in line by adding vectors the database has and removing ids it lost,
which is what lets a killed ingestion resume cleanly and what `longlens doctor` reports.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from longlens.retrieval.vector_index import FaissIndex
from longlens.store import Store


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
    """Lazily opened, reconciled FAISS indexes for the collections of one data directory."""

    def __init__(self, store: Store, index_dir: Path) -> None:
        self.store = store
        self.index_dir = Path(index_dir)
        self._indexes: dict[int, FaissIndex] = {}
        self._revisions: dict[int, int] = {}
        self._lock = threading.RLock()

    def path(self, collection_id: int) -> Path:
        return self.index_dir / f"collection-{collection_id}.faiss"

    def get(self, collection_id: int, dim: int, revision: int | None = None) -> FaissIndex:
        """The collection's index; with the database's `revision`, re-checked if another process changed it."""
        with self._lock:
            index = self._indexes.get(collection_id)
            if index is None:
                index, _ = self._open(collection_id, dim)
                self._indexes[collection_id] = index
            elif revision is not None and self._revisions.get(collection_id) != revision:
                report = self._reconcile(collection_id, index)
                if report.changed:
                    index.save()
            if revision is not None:
                self._revisions[collection_id] = revision
            return index

    def _open(self, collection_id: int, dim: int) -> tuple[FaissIndex, ReconcileReport]:
        path = self.path(collection_id)
        rebuilt = False
        try:
            index = FaissIndex(dim, path)
        except Exception:  # unreadable or wrong-sized file: the database can rebuild it
            path.unlink(missing_ok=True)
            index = FaissIndex(dim, path)
            rebuilt = True
        report = self._reconcile(collection_id, index)
        report.rebuilt = rebuilt
        if report.changed:
            index.save()
        return index, report

    def _reconcile(self, collection_id: int, index: FaissIndex) -> ReconcileReport:
        in_db = self.store.chunk_ids(collection_id)
        in_index = index.ids()
        missing = np.setdiff1d(in_db, in_index, assume_unique=True)
        orphans = np.setdiff1d(in_index, in_db, assume_unique=True)
        index.remove(orphans)
        if len(missing):
            index.add(missing, self.store.embeddings(missing.tolist(), index.dim))
        return ReconcileReport(collection_id, added=len(missing), removed=len(orphans))

    def reconcile(self, collection_id: int, dim: int) -> ReconcileReport:
        """Re-check one collection against the database (used by `doctor`), opening it if needed."""
        with self._lock:
            if collection_id not in self._indexes:
                index, report = self._open(collection_id, dim)
                self._indexes[collection_id] = index
                return report
            index = self._indexes[collection_id]
            report = self._reconcile(collection_id, index)
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
