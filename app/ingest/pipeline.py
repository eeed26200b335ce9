"""The ingestion pipeline: discover → check → parse + chunk (worker processes) → embed → store → index.

Idempotent: a file whose content hash is already stored under its path is skipped; a changed file replaces
its chunks in one transaction. A file with the same content as another document of the collection becomes a
document of its own (searchable, citable and removable under its own name) that reuses the stored chunks and
vectors instead of parsing and embedding again. Crash-safe: the database commit is the point of no return
for each file, and the FAISS index is reconciled against the database whenever it is opened, so a killed
run followed by a new run ends exactly where one clean run would.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np

from longlens.config import Settings
from longlens.ingest.discovery import discover, sha256_file
from longlens.ingest.embed_batches import item_cap, length_batches, token_cap
from longlens.ingest.on_ray import RayEmbedder, connect, prepared_on_ray
from longlens.ingest.orphans import die_with_parent
from longlens.ingest.prepare import Prepared, PrepareOptions, prepare_file
from longlens.ingest.reuse import plan_embedding, text_key
from longlens.models.embedder import Embedder
from longlens.retrieval.terms import keyword_text
from longlens.schema import Chunk
from longlens.store.indexes import IndexSet
from longlens.store.store import Store

T = TypeVar("T")
R = TypeVar("R")
INDEX_SAVE_SECONDS = 30.0
PREPARED_AHEAD = 2
"""Files each parser worker may have parsed, or be parsing, ahead of the embedder: parsing is ~100x faster than
embedding on a CPU, so submitting a whole batch at once would hold every parsed file of it in memory."""


class IngestProgress(Protocol):
    """What the CLI and the web app hear while a batch runs: files, and each file's chunks as they are
    embedded (with its page count, when it has pages)."""

    def batch_started(self, total_files: int) -> None: ...
    def file_started(self, path: str, chunks: int, pages: int | None = None) -> None: ...
    def file_advanced(self, path: str, chunks: int) -> None: ...
    def file_finished(self, path: str, status: str, detail: str) -> None: ...


class NullProgress:
    def batch_started(self, total_files: int) -> None: ...
    def file_started(self, path: str, chunks: int, pages: int | None = None) -> None: ...
    def file_advanced(self, path: str, chunks: int) -> None: ...
    def file_finished(self, path: str, status: str, detail: str) -> None: ...


@dataclass
class IngestReport:
    """The outcome of one batch: `ok`, `skipped` and `failed` files, with reasons and figures."""

    collection: str
    ok: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    skipped_reasons: dict[str, str] = field(default_factory=dict)
    failed: list[dict[str, str]] = field(default_factory=list)
    documents: list[dict] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=lambda: {"parse": 0.0, "chunk": 0.0, "embed": 0.0, "store": 0.0})
    seconds: float = 0.0

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0

    def to_dict(self) -> dict:
        return {
            "collection": self.collection,
            "ok": self.ok,
            "skipped": self.skipped,
            "skipped_reasons": self.skipped_reasons,
            "failed": self.failed,
            "documents": self.documents,
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
            "seconds": round(self.seconds, 3),
        }


class Ingestor:
    """Runs batches of files into one data directory's store and indexes."""

    def __init__(
        self, settings: Settings, store: Store, indexes: IndexSet, embedder: Embedder,
        keyword_indexes: IndexSet | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.indexes = indexes
        self.keyword_indexes = keyword_indexes
        self.embedder = embedder
        self._ray: Any = None  # the connected `ray` module while a run uses a Ray cluster
        self._ray_embedder: RayEmbedder | None = None
        self._all_indexes = [i for i in (indexes, keyword_indexes) if i is not None]

    def run(
        self,
        paths: list[str | Path],
        *,
        collection: str | None = None,
        recursive: bool = False,
        workers: int | None = None,
        progress: IngestProgress | None = None,
        ray: str | None = None,
    ) -> IngestReport:
        """`ray`: parse and embed on a Ray cluster ("local", "auto" or an address; see `ingest/on_ray.py`)."""
        if ray:
            self._ray = connect(ray, num_cpus=workers)
            self._ray_embedder = RayEmbedder(self._ray, self.embedder, self.settings.ray_embed_actors)
            try:
                return self._run(paths, collection, recursive, workers, progress)
            finally:
                self._ray_embedder.close()
                self._ray, self._ray_embedder = None, None
        return self._run(paths, collection, recursive, workers, progress)

    def _run(
        self, paths: list[str | Path], collection: str | None, recursive: bool, workers: int | None,
        progress: IngestProgress | None,
    ) -> IngestReport:
        started = time.perf_counter()
        progress = progress or NullProgress()
        name = collection or self.settings.default_collection
        report = IngestReport(collection=name)
        found = discover(paths, recursive)
        for path, error in found.errors:
            report.failed.append({"path": path, "error": error})
        for path, reason in found.ignored:
            report.skipped.append(path)
            report.skipped_reasons[path] = reason
        progress.batch_started(len(found.files))

        self.store.unfinished_runs()
        cid = self.store.ensure_collection(name, self.embedder.name, self.embedder.dim)
        for indexes in self._all_indexes:  # opening reconciles what a crashed run left behind
            indexes.get(cid, self.embedder.dim)
        run_id = self.store.start_run(cid, {"paths": [str(p) for p in paths], "recursive": recursive})
        todo, copies = self._check(found.files, cid, report, progress)
        self._process(todo, cid, workers or self.settings.workers, report, progress)
        self._process(self._store_copies(copies, cid, report, progress), cid, 1, report, progress)
        self._save_indexes()
        report.seconds = time.perf_counter() - started
        self.store.finish_run(run_id, report.to_dict())
        return report

    def _check(
        self, files: list[Path], cid: int, report: IngestReport, progress: IngestProgress
    ) -> tuple[list[tuple[Path, str, int]], list[tuple[Path, str, int]]]:
        """Size, permission and hash checks; returns the files to parse and those whose content is stored
        (or about to be, earlier in this batch) under another name."""
        todo, copies = [], []
        batch_shas: set[str] = set()
        for path in files:
            key = str(path)
            try:
                size = path.stat().st_size
                if size > self.settings.max_file_bytes:
                    raise _Reject(
                        f"file is {size / 2**20:.1f} MiB, over the {self.settings.max_file_mb:g} MiB limit "
                        "(LONGLENS_MAX_FILE_MB)"
                    )
                if size == 0:
                    raise _Reject("empty file")
                if not os.access(path, os.R_OK):
                    raise _Reject("permission denied")
                sha = sha256_file(path)
            except PermissionError:
                self._fail(report, progress, cid, key, "", "permission denied")
                continue
            except _Reject as exc:
                self._fail(report, progress, cid, key, "", str(exc))
                continue
            except OSError as exc:
                self._fail(report, progress, cid, key, "", f"cannot read: {exc.strerror or exc}")
                continue
            existing = self.store.find_document(cid, key)
            if existing is not None and existing.status == "ready" and existing.sha256 == sha:
                self._skip(report, progress, key, "unchanged")
                continue
            if sha in batch_shas or self.store.find_ready_by_sha(cid, sha) is not None:
                copies.append((path, sha, size))
                continue
            batch_shas.add(sha)
            todo.append((path, sha, size))
        return todo, copies

    def _store_copies(
        self, copies: list[tuple[Path, str, int]], cid: int, report: IngestReport, progress: IngestProgress
    ) -> list[tuple[Path, str, int]]:
        """Store each copy as its own document with its twin's chunks and vectors; returns the copies whose
        twin failed, to be parsed after all."""
        left = []
        for path, sha, size in copies:
            key = str(path)
            twin = self.store.find_ready_by_sha(cid, sha)
            if twin is None:
                left.append((path, sha, size))
                continue
            t0 = time.perf_counter()
            chunks, embeddings = self.store.stored_chunks(twin.id)
            prepared = Prepared(
                path=key, doc_type=twin.doc_type, title=twin.title, page_count=twin.page_count,
                duration=twin.duration, warnings=list(twin.warnings or []), chunks=chunks,
            )
            self._write(prepared, cid, sha, size, embeddings, report, progress, same_as=twin.source_path)
            report.timings["store"] += time.perf_counter() - t0
        return left

    def _process(
        self,
        todo: list[tuple[Path, str, int]],
        cid: int,
        workers: int,
        report: IngestReport,
        progress: IngestProgress,
    ) -> None:
        opts = PrepareOptions(
            tokenizer_path=self.embedder.path,
            chunk_tokens=self.settings.chunk_tokens,
            chunk_overlap=self.settings.chunk_overlap,
            parse=self.settings.parse_options(),
        )
        meta = {str(p): (sha, size) for p, sha, size in todo}
        last_save = time.monotonic()
        for prepared in self._prepared(list(meta), opts, workers):
            sha, size = meta[prepared.path]
            if prepared.error:
                self._fail(report, progress, cid, prepared.path, sha, prepared.error)
                continue
            self._store(prepared, cid, sha, size, report, progress)
            if time.monotonic() - last_save > INDEX_SAVE_SECONDS:
                self._save_indexes()
                last_save = time.monotonic()

    def _save_indexes(self) -> None:
        for indexes in self._all_indexes:
            indexes.save_dirty()

    def _prepared(self, paths: list[str], opts: PrepareOptions, workers: int) -> Iterator[Prepared]:
        if self._ray is not None:
            cpus = int(self._ray.cluster_resources().get("CPU", workers))
            yield from prepared_on_ray(self._ray, paths, opts, ahead=PREPARED_AHEAD * max(1, cpus))
            return
        if workers <= 1 or len(paths) <= 1:
            for path in paths:
                yield prepare_file(path, opts)
            return
        ctx = multiprocessing.get_context("spawn")  # fork after torch has started threads is unsafe
        with ProcessPoolExecutor(max_workers=min(workers, len(paths)), mp_context=ctx,
                                 initializer=die_with_parent, initargs=(os.getpid(),)) as pool:
            for path, fut in bounded_map(pool, prepare_file, paths, opts, ahead=PREPARED_AHEAD * workers):
                try:
                    yield fut.result()
                except Exception as exc:  # a worker died (segfault in a parser library, OOM kill)
                    yield Prepared(path, "", "", None, None, [], [], error=f"parser crashed: {exc}")

    def _store(
        self, prepared: Prepared, cid: int, sha: str, size: int, report: IngestReport, progress: IngestProgress
    ) -> None:
        chunks = prepared.chunks
        progress.file_started(prepared.path, len(chunks), prepared.page_count)
        t0 = time.perf_counter()
        keys = [text_key(embedding_text(c, prepared.title)) for c in chunks]
        plan = plan_embedding(keys, self._stored_vectors(cid, prepared.path, set(keys)))
        embeddings = np.empty((len(chunks), self.embedder.dim), dtype=np.float32)
        for i, vector in plan.stored.items():
            embeddings[i] = vector
        # Longest first, in batches of similar length: padding is wasted work on a CPU. Each batch's texts are
        # made when it is embedded (a 50 MB document's would otherwise all be in memory at once).
        s = self.settings
        cap = token_cap(s.embed_batch_tokens, self.embedder.device)
        items = item_cap(s.embed_batch_size, self.embedder.device)
        todo = plan.embed
        batches = ([todo[j] for j in b] for b in length_batches([chunks[i].token_count for i in todo], items, cap))
        for part, vectors in self._embedded(batches, chunks, prepared.title):
            embeddings[part] = vectors
            progress.file_advanced(prepared.path, len(part))
        for i, earlier in plan.repeats.items():
            embeddings[i] = embeddings[earlier]
        progress.file_advanced(prepared.path, plan.reused)
        t1 = time.perf_counter()
        self._write(prepared, cid, sha, size, embeddings, report, progress, reused=plan.reused)
        report.timings["parse"] += prepared.parse_seconds
        report.timings["chunk"] += prepared.chunk_seconds
        report.timings["embed"] += t1 - t0
        report.timings["store"] += time.perf_counter() - t1

    def _stored_vectors(self, cid: int, path: str, wanted: set[bytes]) -> dict[bytes, np.ndarray]:
        """The vectors the file's stored version has for the embedded texts `wanted` (by key), read a batch of
        rows at a time so that only the vectors kept are held (empty for a file new here)."""
        stored = self.store.find_document(cid, path)
        if stored is None or stored.status != "ready":
            return {}
        found = {}
        for chunk, vector in self.store.chunk_vectors(stored.id):
            key = text_key(embedding_text(chunk, stored.title or ""))
            if key in wanted and vector.shape == (self.embedder.dim,):
                found[key] = vector
        return found

    def _embedded(
        self, batches: Iterator[list[int]], chunks: list[Chunk], title: str
    ) -> Iterator[tuple[list[int], np.ndarray]]:
        """(chunk positions, their vectors) per batch: here, or spread over the Ray actors a window at a time."""
        if self._ray_embedder is None:
            for part in batches:
                texts = [embedding_text(chunks[i], title) for i in part]
                yield part, self.embedder.encode(texts, batch_size=len(texts))
            return
        window = 2 * self._ray_embedder.actors
        while parts := list(itertools.islice(batches, window)):
            texts = [[embedding_text(chunks[i], title) for i in part] for part in parts]
            yield from zip(parts, self._ray_embedder.encode_many(texts), strict=True)

    def _write(
        self, prepared: Prepared, cid: int, sha: str, size: int, embeddings: np.ndarray, report: IngestReport,
        progress: IngestProgress, same_as: str | None = None, reused: int = 0,
    ) -> None:
        """Commit one document and its chunks, then bring the indexes along; `same_as`: the stored document
        whose chunks these are; `reused`: how many vectors were not computed again."""
        chunks = prepared.chunks
        doc_id, new_ids, removed = self.store.replace_document(
            cid,
            prepared.path,
            sha256=sha,
            doc_type=prepared.doc_type,
            title=prepared.title,
            size_bytes=size,
            page_count=prepared.page_count,
            duration=prepared.duration,
            warnings=prepared.warnings,
            chunks=chunks,
            embeddings=embeddings,
        )
        self.indexes.apply(cid, self.embedder.dim, new_ids, embeddings, removed)
        if self.keyword_indexes is not None:
            keyword_texts = [keyword_text(c.text, c.heading_path) for c in chunks]
            self.keyword_indexes.apply(cid, self.embedder.dim, new_ids, keyword_texts, removed)
        report.ok.append(prepared.path)
        report.documents.append(
            {
                "path": prepared.path,
                "document_id": doc_id,
                "type": prepared.doc_type,
                "title": prepared.title,
                "pages": prepared.page_count,
                "duration": prepared.duration,
                "chunks": len(chunks),
                "replaced": bool(removed),
                "vectors_reused": len(chunks) if same_as else reused,
                "warnings": prepared.warnings,
                "same_content_as": same_as,
            }
        )
        detail = f"{len(chunks)} chunks" + (f", {len(prepared.warnings)} warnings" if prepared.warnings else "")
        if reused:
            detail += f", {reused} vectors reused"
        if same_as:
            detail = f"same content as {same_as}: {len(chunks)} chunks reused"
        progress.file_finished(prepared.path, "ok", detail)

    def _fail(
        self, report: IngestReport, progress: IngestProgress, cid: int, path: str, sha: str, error: str
    ) -> None:
        report.failed.append({"path": path, "error": error})
        self.store.record_failure(cid, path, sha, Path(path).suffix.lstrip(".").lower(), error)
        progress.file_finished(path, "failed", error)

    def _skip(self, report: IngestReport, progress: IngestProgress, path: str, reason: str) -> None:
        report.skipped.append(path)
        report.skipped_reasons[path] = reason
        progress.file_finished(path, "skipped", reason)


def bounded_map(
    pool: Executor, fn: Callable[[str, T], R], items: list[str], arg: T, ahead: int
) -> Iterator[tuple[str, Future[R]]]:
    """`fn(item, arg)` for each item on `pool`, yielded as each finishes, with at most `ahead` submitted and
    not yet handed to the caller: the caller's pace (here the embedder's) bounds how much finished work waits
    in memory, and the workers stay busy while the caller handles one."""
    pending: dict[Future[R], str] = {}
    queue = iter(items)
    for item in itertools.islice(queue, max(1, ahead)):
        pending[pool.submit(fn, item, arg)] = item
    while pending:
        done, _ = wait(pending, return_when=FIRST_COMPLETED)
        for fut in done:
            item = pending.pop(fut)
            for nxt in itertools.islice(queue, 1):  # the workers go on while the caller handles this one
                pending[pool.submit(fn, nxt, arg)] = nxt
            yield item, fut


def embedding_text(chunk: Chunk, title: str) -> str:
    """What the embedder sees: the chunk with its section path, so a passage knows what it is about."""
    context = chunk.heading_path or title
    if not context or chunk.text.startswith(context):
        return chunk.text
    return f"{context}\n{chunk.text}"


class _Reject(Exception):
    pass
