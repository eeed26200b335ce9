"""The metadata store: SQLAlchemy over SQLite (WAL) by default, or any URL such as PostgreSQL.

Every write that changes what a document contains happens in one transaction, so the database is always
either the old version or the new one; the vector index is reconciled against it afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy import Engine, create_engine, delete, event, func, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from longlens.retrieval.terms import keyword_text
from longlens.schema import Chunk, Hit, LongLensError, location_of
from longlens.store import fulltext
from longlens.store.migrations import migrate
from longlens.store.tables import (
    ChunkRow,
    CollectionRow,
    DocumentRow,
    IngestionRunRow,
    utcnow,
)
from longlens.store.vector_column import write_vectors

INSERT_BATCH = 1000
"""Chunk rows written per statement when a document is stored."""


@dataclass
class DocumentInfo:
    """A document as `ls` and the UI show it."""

    id: int
    collection: str
    source_path: str
    title: str
    doc_type: str
    status: str
    error: str | None
    page_count: int | None
    duration: float | None
    chunk_count: int
    sha256: str
    size_bytes: int


@dataclass
class CollectionInfo:
    id: int
    name: str
    embedder: str
    dim: int
    documents: int
    chunks: int
    revision: int = 0
    owner_id: int | None = None  # the web user it belongs to; None for CLI/API collections


def make_engine(url: str) -> Engine:
    """Create the SQLAlchemy engine; for SQLite, turn on WAL, foreign keys and a busy timeout."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:  # noqa: ANN001 - DB-API connection
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


class Store:
    """Reads and writes collections, documents, chunks and ingestion runs."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        migrate(self.engine)
        fulltext.install(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.vectors_in_database = False  # set when vectors live in PostgreSQL (store/pgvector.py)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions.begin() as s:
            yield s

    def close(self) -> None:
        self.engine.dispose()

    # collections -------------------------------------------------------------------------------

    def ensure_collection(self, name: str, embedder: str, dim: int, owner_id: int | None = None) -> int:
        """The id of collection `name`, made on first use; `owner_id` owns a new one and must own an old one."""
        name = name.strip()
        if not name:
            raise LongLensError("collection name must not be empty")
        with self.session() as s:
            row = s.scalar(select(CollectionRow).where(CollectionRow.name == name))
            if row is None:
                row = CollectionRow(name=name, embedder=embedder, dim=dim, owner_id=owner_id)
                s.add(row)
                s.flush()
            elif owner_id is not None and row.owner_id != owner_id:
                raise LongLensError(f"collection '{name}' belongs to another user")
            elif row.embedder != embedder or row.dim != dim:
                raise LongLensError(
                    f"collection '{name}' was built with embedder {row.embedder} ({row.dim} dims); "
                    f"it cannot take vectors from {embedder} ({dim} dims): use another collection"
                )
            return row.id

    def collection_id(self, name: str) -> int:
        with self.session() as s:
            cid = s.scalar(select(CollectionRow.id).where(CollectionRow.name == name))
        if cid is None:
            raise LongLensError(f"no collection named '{name}'")
        return cid

    def collections(self, counts: bool = True) -> list[CollectionInfo]:
        """All collections; `counts=False` skips counting documents and chunks (the search hot path)."""
        with self.session() as s:
            if not counts:
                rows = s.scalars(select(CollectionRow).order_by(CollectionRow.name)).all()
                return [CollectionInfo(c.id, c.name, c.embedder, c.dim, -1, -1, c.revision, c.owner_id) for c in rows]
            docs = (
                select(DocumentRow.collection_id, func.count().label("n"))
                .where(DocumentRow.status == "ready")
                .group_by(DocumentRow.collection_id)
                .subquery()
            )
            chunks = (
                select(ChunkRow.collection_id, func.count().label("n")).group_by(ChunkRow.collection_id).subquery()
            )
            counted = s.execute(
                select(CollectionRow, func.coalesce(docs.c.n, 0), func.coalesce(chunks.c.n, 0))
                .outerjoin(docs, docs.c.collection_id == CollectionRow.id)
                .outerjoin(chunks, chunks.c.collection_id == CollectionRow.id)
                .order_by(CollectionRow.name)
            ).all()
        return [CollectionInfo(c.id, c.name, c.embedder, c.dim, nd, nc, c.revision, c.owner_id)
                for c, nd, nc in counted]

    def rename_collection(self, old: str, new: str) -> None:
        cid = self.collection_id(old)
        with self.session() as s:
            if s.scalar(select(CollectionRow.id).where(CollectionRow.name == new)) is not None:
                raise LongLensError(f"a collection named '{new}' already exists")
            s.execute(update(CollectionRow).where(CollectionRow.id == cid).values(name=new))

    def delete_collection(self, name: str) -> int:
        cid = self.collection_id(name)
        with self.session() as s:
            s.execute(delete(ChunkRow).where(ChunkRow.collection_id == cid))
            s.execute(delete(DocumentRow).where(DocumentRow.collection_id == cid))
            s.execute(delete(CollectionRow).where(CollectionRow.id == cid))
        return cid

    # documents ---------------------------------------------------------------------------------

    def find_document(self, collection_id: int, source_path: str) -> DocumentRow | None:
        with self.session() as s:
            return s.scalar(
                select(DocumentRow).where(
                    DocumentRow.collection_id == collection_id, DocumentRow.source_path == source_path
                )
            )

    def find_ready_by_sha(self, collection_id: int, sha256: str) -> DocumentRow | None:
        with self.session() as s:
            return s.scalar(
                select(DocumentRow)
                .where(
                    DocumentRow.collection_id == collection_id,
                    DocumentRow.sha256 == sha256,
                    DocumentRow.status == "ready",
                )
                .limit(1)
            )

    def record_failure(self, collection_id: int, source_path: str, sha256: str, doc_type: str, error: str) -> None:
        """Remember why a file failed, without touching a version of it that was stored earlier."""
        with self.session() as s:
            row = s.scalar(
                select(DocumentRow).where(
                    DocumentRow.collection_id == collection_id, DocumentRow.source_path == source_path
                )
            )
            if row is None:
                s.add(
                    DocumentRow(
                        collection_id=collection_id,
                        source_path=source_path,
                        sha256=sha256,
                        doc_type=doc_type,
                        status="failed",
                        error=error,
                    )
                )
            elif row.status != "ready":
                row.status, row.error, row.sha256 = "failed", error, sha256

    def replace_document(
        self,
        collection_id: int,
        source_path: str,
        *,
        sha256: str,
        doc_type: str,
        title: str,
        size_bytes: int,
        page_count: int | None,
        duration: float | None,
        warnings: list[str],
        chunks: Sequence[Chunk],
        embeddings: np.ndarray,
    ) -> tuple[int, list[int], list[int]]:
        """Store a document's new chunks and drop its old ones in one transaction.

        Returns (document id, new chunk ids, removed chunk ids) for the vector index to follow.
        """
        if len(chunks) != len(embeddings):
            raise ValueError("one embedding per chunk")
        vectors = np.ascontiguousarray(embeddings, dtype=np.float32)
        with self.session() as s:
            row = s.scalar(
                select(DocumentRow).where(
                    DocumentRow.collection_id == collection_id, DocumentRow.source_path == source_path
                )
            )
            removed: list[int] = []
            if row is None:
                row = DocumentRow(collection_id=collection_id, source_path=source_path)
                s.add(row)
            else:
                removed = list(s.scalars(select(ChunkRow.id).where(ChunkRow.document_id == row.id)))
                s.execute(delete(ChunkRow).where(ChunkRow.document_id == row.id))
            row.sha256, row.doc_type, row.title, row.size_bytes = sha256, doc_type, title, size_bytes
            row.page_count, row.duration, row.warnings = page_count, duration, list(warnings)
            row.status, row.error, row.chunk_count = "ready", None, len(chunks)
            s.flush()
            new_ids: list[int] = []
            for start in range(0, len(chunks), INSERT_BATCH):  # rows built a batch at a time: bounded memory
                rows = [
                    {
                        "document_id": row.id, "collection_id": collection_id, "ordinal": c.ordinal, "text": c.text,
                        "token_count": c.token_count, "char_start": c.char_start, "char_end": c.char_end,
                        "page_start": c.page_start, "page_end": c.page_end, "heading_path": c.heading_path,
                        "t_start": c.t_start, "t_end": c.t_end, "sources": c.sources,
                        "embedding": vectors[start + i].tobytes(),
                    }
                    for i, c in enumerate(chunks[start : start + INSERT_BATCH])
                ]
                ids = s.scalars(insert(ChunkRow).returning(ChunkRow.id, sort_by_parameter_order=True), rows).all()
                if self.vectors_in_database:
                    write_vectors(s, ids, vectors[start : start + INSERT_BATCH])
                new_ids += ids
            s.execute(
                update(CollectionRow)
                .where(CollectionRow.id == collection_id)
                .values(revision=CollectionRow.revision + 1)
            )
            s.flush()
            return row.id, new_ids, removed

    def stored_chunks(self, document_id: int) -> tuple[list[Chunk], np.ndarray]:
        """A stored document's chunks, in order, and their vectors: what a file with the same content reuses."""
        pairs = list(self.chunk_vectors(document_id))
        dim = len(pairs[0][1]) if pairs else 0
        vectors = np.stack([v for _, v in pairs]) if pairs else np.zeros((0, dim), dtype=np.float32)
        return [c for c, _ in pairs], vectors

    def chunk_vectors(self, document_id: int, batch: int = 1000) -> Iterator[tuple[Chunk, np.ndarray]]:
        """A stored document's chunks with their vectors, in order, read `batch` rows at a time."""
        with self.session() as s:
            rows = s.scalars(
                select(ChunkRow).where(ChunkRow.document_id == document_id).order_by(ChunkRow.ordinal)
                .execution_options(yield_per=batch)
            )
            for r in rows:
                chunk = Chunk(
                    ordinal=r.ordinal, text=r.text, token_count=r.token_count, char_start=r.char_start,
                    char_end=r.char_end, sources=r.sources, **location_of(r),
                )
                yield chunk, np.frombuffer(r.embedding, dtype=np.float32)

    def documents(self, collection: str | None = None) -> list[DocumentInfo]:
        with self.session() as s:
            q = select(DocumentRow, CollectionRow.name).join(CollectionRow)
            if collection is not None:
                q = q.where(CollectionRow.name == collection)
            rows = s.execute(q.order_by(CollectionRow.name, DocumentRow.source_path)).all()
        return [_doc_info(d, name) for d, name in rows]

    def source_in_use(self, source_path: str) -> bool:
        """Whether any document, in any collection, is read from `source_path`."""
        with self.session() as s:
            return s.scalar(select(DocumentRow.id).where(DocumentRow.source_path == source_path).limit(1)) is not None

    def resolve_documents(self, refs: Sequence[str], collection: str | None = None) -> list[DocumentInfo]:
        """Find documents by id, exact source path, or file name; raise naming the first ref not found."""
        docs = self.documents(collection)
        found: list[DocumentInfo] = []
        for ref in refs:
            absolute = str(Path(ref).expanduser().resolve()) if not ref.isdigit() else ""
            match = [
                d
                for d in docs
                if (ref.isdigit() and d.id == int(ref))
                or d.source_path in (ref, absolute)
                or Path(d.source_path).name == ref
            ]
            if not match:
                raise LongLensError(f"no document matches '{ref}'")
            found.extend(m for m in match if m not in found)
        return found

    def delete_documents(self, ids: Sequence[int]) -> dict[int, list[int]]:
        """Delete documents; returns removed chunk ids per collection id."""
        removed: dict[int, list[int]] = {}
        with self.session() as s:
            for cid, chunk_id in s.execute(
                select(ChunkRow.collection_id, ChunkRow.id).where(ChunkRow.document_id.in_(ids))
            ):
                removed.setdefault(cid, []).append(chunk_id)
            s.execute(delete(ChunkRow).where(ChunkRow.document_id.in_(ids)))
            s.execute(delete(DocumentRow).where(DocumentRow.id.in_(ids)))
            if removed:
                s.execute(
                    update(CollectionRow)
                    .where(CollectionRow.id.in_(list(removed)))
                    .values(revision=CollectionRow.revision + 1)
                )
        return removed

    def fix_chunk_counts(self) -> int:
        """Make documents.chunk_count match the chunks actually stored; returns how many were wrong."""
        with self.session() as s:
            counts = dict(
                s.execute(select(ChunkRow.document_id, func.count()).group_by(ChunkRow.document_id)).all()
            )
            wrong = 0
            for doc in s.scalars(select(DocumentRow)):
                actual = counts.get(doc.id, 0)
                if doc.chunk_count != actual:
                    doc.chunk_count = actual
                    wrong += 1
            return wrong

    def document_ids(self, collection_ids: Sequence[int], ref: str | None, doc_type: str | None) -> list[int]:
        """Ready documents in these collections matching a ref (id, path as stored or as typed in a shell,
        or file name) and/or a type."""
        with self.session() as s:
            q = select(DocumentRow.id, DocumentRow.source_path).where(
                DocumentRow.collection_id.in_(list(collection_ids)), DocumentRow.status == "ready"
            )
            if doc_type is not None:
                q = q.where(DocumentRow.doc_type == doc_type)
            rows = s.execute(q).all()
        if ref is None:
            return [i for i, _ in rows]
        resolved = str(Path(ref).expanduser().resolve()) if ref else ref
        return [i for i, path in rows if ref in (str(i), path, Path(path).name) or resolved == path]

    def chunk_ids_of_documents(self, document_ids: Sequence[int]) -> np.ndarray:
        with self.session() as s:
            ids = s.scalars(select(ChunkRow.id).where(ChunkRow.document_id.in_(list(document_ids)))).all()
        return np.asarray(ids, dtype=np.int64)

    # chunks ------------------------------------------------------------------------------------

    def chunk_ids(self, collection_id: int) -> np.ndarray:
        with self.session() as s:
            ids = s.scalars(select(ChunkRow.id).where(ChunkRow.collection_id == collection_id)).all()
        return np.asarray(ids, dtype=np.int64)

    def embeddings(self, chunk_ids: Sequence[int], dim: int) -> np.ndarray:
        """Stored vectors for `chunk_ids`, in that order."""
        if len(chunk_ids) == 0:
            return np.zeros((0, dim), dtype=np.float32)
        by_id: dict[int, bytes] = {}
        with self.session() as s:
            for start in range(0, len(chunk_ids), 5000):
                part = [int(i) for i in chunk_ids[start : start + 5000]]
                by_id.update(s.execute(select(ChunkRow.id, ChunkRow.embedding).where(ChunkRow.id.in_(part))).all())
        return np.stack([np.frombuffer(by_id[int(i)], dtype=np.float32) for i in chunk_ids])

    def keyword_texts(self, chunk_ids: Sequence[int]) -> list[str]:
        """What keyword search indexes for `chunk_ids`, in that order."""
        by_id: dict[int, str] = {}
        with self.session() as s:
            for start in range(0, len(chunk_ids), 5000):
                part = [int(i) for i in chunk_ids[start : start + 5000]]
                rows = s.execute(select(ChunkRow.id, ChunkRow.text, ChunkRow.heading_path).where(ChunkRow.id.in_(part)))
                by_id.update((i, keyword_text(text, heading)) for i, text, heading in rows)
        return [by_id[int(i)] for i in chunk_ids]

    def hits(self, scored: Sequence[tuple[int, float]]) -> list[Hit]:
        """Turn (chunk id, score) pairs into Hits, in the given order; ids no longer stored are dropped."""
        if not scored:
            return []
        ids = [int(i) for i, _ in scored]
        with self.session() as s:  # columns, not ORM rows: skips loading each chunk's vector
            rows = s.execute(
                select(
                    ChunkRow.id, ChunkRow.text, ChunkRow.ordinal, ChunkRow.page_start, ChunkRow.page_end,
                    ChunkRow.t_start, ChunkRow.t_end, ChunkRow.heading_path, DocumentRow.source_path,
                    DocumentRow.id, DocumentRow.title, DocumentRow.doc_type, CollectionRow.name,
                )
                .join(DocumentRow, ChunkRow.document_id == DocumentRow.id)
                .join(CollectionRow, DocumentRow.collection_id == CollectionRow.id)
                .where(ChunkRow.id.in_(ids))
            ).all()
        by_id = {row[0]: row for row in rows}
        hits = []
        for cid, score in scored:
            row = by_id.get(int(cid))
            if row is None:
                continue
            (chunk_id, text, ordinal, p0, p1, t0, t1, heading, path, doc_id, title, doc_type, name) = row
            hits.append(
                Hit(
                    chunk_id=chunk_id, document=path, document_id=doc_id, title=title, collection=name,
                    text=text, score=float(score), ordinal=ordinal, page_start=p0, page_end=p1,
                    t_start=t0, t_end=t1, heading_path=heading, doc_type=doc_type,
                )
            )
        return hits

    # ingestion runs ----------------------------------------------------------------------------

    def start_run(self, collection_id: int | None, args: dict) -> int:
        with self.session() as s:
            run = IngestionRunRow(collection_id=collection_id, report={"args": args})
            s.add(run)
            s.flush()
            return run.id

    def finish_run(self, run_id: int, report: dict, status: str = "done") -> None:
        with self.session() as s:
            run = s.get(IngestionRunRow, run_id)
            if run is None:
                return
            run.finished_at, run.status = utcnow(), status
            run.n_ok = len(report.get("ok", []))
            run.n_skipped = len(report.get("skipped", []))
            run.n_failed = len(report.get("failed", []))
            run.report = {**(run.report or {}), **report}

    def unfinished_runs(self) -> int:
        with self.session() as s:
            n = s.scalar(select(func.count()).select_from(IngestionRunRow).where(IngestionRunRow.status == "running"))
            s.execute(
                update(IngestionRunRow)
                .where(IngestionRunRow.status == "running")
                .values(status="interrupted", finished_at=utcnow())
            )
        return int(n or 0)

    def integrity_problems(self) -> list[str]:
        """SQLite's own integrity check (other databases check themselves)."""
        if not self.url.startswith("sqlite"):
            return []
        with self.engine.connect() as conn:
            rows = [r[0] for r in conn.exec_driver_sql("PRAGMA integrity_check").all()]
        return [] if rows == ["ok"] else rows


def _doc_info(d: DocumentRow, collection: str) -> DocumentInfo:
    return DocumentInfo(
        id=d.id,
        collection=collection,
        source_path=d.source_path,
        title=d.title,
        doc_type=d.doc_type,
        status=d.status,
        error=d.error,
        page_count=d.page_count,
        duration=d.duration,
        chunk_count=d.chunk_count,
        sha256=d.sha256,
        size_bytes=d.size_bytes,
    )

