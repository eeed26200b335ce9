"""Per-collection indexes (FAISS vectors, BM25 keywords), kept in agreement with the database.

The database is the truth (chunks store their text and vectors); an index file is a cache that may lag
behind it after a crash or another process's writes. `reconcile` brings an index back in line by adding the
chunks the database has and removing ids it lost, which is what lets a killed ingestion resume cleanly and
what `longlens doctor` reports.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from longlens.retrieval.bm25 import BM25Index
from longlens.retrieval.vector_index import FaissIndex
from longlens.store.store import Store


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
    damage: str | None = None  # why the file was set aside and rebuilt: checksum, not a file, unreadable

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

    def _save(self, index: Any) -> None:
        """Write the index, then the checksum of what was written beside it (`<file>.sha256`)."""
        index.save()
        path = getattr(index, "path", None)
        if path is not None and Path(path).is_file():
            _atomic_write(_checksum_path(Path(path)), _sha256(Path(path)))

    def _damage(self, path: Path) -> str | None:
        """Why the file at `path` cannot be trusted, or None (absent, or matching its recorded checksum)."""
        if not path.exists() and not path.is_symlink():
            return None
        if not path.is_file():
            return "not a regular file"
        recorded = _checksum_path(path)
        if recorded.is_file() and recorded.read_text().strip() != _sha256(path):
            return "contents differ from the checksum recorded when it was written"
        return None

    def _set_aside(self, path: Path) -> None:
        """Move a damaged index out of the way (a directory is renamed, never deleted)."""
        _checksum_path(path).unlink(missing_ok=True)
        if path.is_file() or path.is_symlink():
            path.unlink()
        elif path.exists():
            os.replace(path, path.with_name(f"{path.name}.damaged-{time.time_ns()}"))

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
                    self._save(index)
            if revision is not None:
                self._revisions[collection_id] = revision
            return index

    def _open(self, collection_id: int, dim: int) -> tuple[Any, ReconcileReport]:
        path = self.path(collection_id)
        damage = self._damage(path)
        index = None
        if damage is None:
            try:
                index = self.kind.open(path, dim)
            except Exception as exc:  # unreadable or wrong-sized file: the database can rebuild it
                damage = f"unreadable ({type(exc).__name__})"
        if damage is not None:
            self._set_aside(path)
            index = self.kind.open(path, dim)
        report = self._reconcile(collection_id, index, dim)
        report.rebuilt, report.damage = damage is not None, damage
        if report.changed:
            self._save(index)
        return index, report

    def rebuild(self, collection_id: int, dim: int, damage: str) -> ReconcileReport:
        """Throw the collection's index away and make it again from the database (damage found in use)."""
        with self._lock:
            self._indexes.pop(collection_id, None)
            self._set_aside(self.path(collection_id))
            index, report = self._open(collection_id, dim)
            self._indexes[collection_id] = index
            report.rebuilt, report.damage = True, damage
            return report

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
            damage = self._damage(self.path(collection_id)) if not index.dirty else None
            if damage is not None:  # the file under an open index was damaged since it was read
                return self.rebuild(collection_id, dim, damage)
            report = self._reconcile(collection_id, index, dim)
            if report.changed:
                self._save(index)
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
                    self._save(index)


def _checksum_path(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
