"""`LongLens`: the Python entry point that the CLI, the web app and the LangChain adapters all use."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import cached_property
from pathlib import Path

import numpy as np

from longlens.answer.generators import make_generator
from longlens.answer.grounding import AnswerCheck
from longlens.answer.pipeline import AnswerPipeline, AskOptions
from longlens.answer.retriever import Filters, HybridRetriever, SearchMode
from longlens.config import Settings
from longlens.ingest.pipeline import Ingestor, IngestProgress, IngestReport
from longlens.models.embedder import Embedder
from longlens.models.generation import Generator
from longlens.models.reranker import Reranker, make_reranker
from longlens.schema import Answer, Citation, Hit, LongLensError
from longlens.store.indexes import KEYWORD, IndexSet, ReconcileReport
from longlens.store.pgvector import vector_indexes
from longlens.store.store import CollectionInfo, DocumentInfo, Store


class LongLens:
    """One data directory: its store, its indexes and its models.

    >>> ll = LongLens(data_dir="~/lens")            # doctest: +SKIP
    >>> ll.ingest(["report.pdf"])                   # doctest: +SKIP
    >>> ll.search("what did the audit find?")       # doctest: +SKIP
    """

    def __init__(self, data_dir: str | Path | None = None, *, settings: Settings | None = None, **overrides: object):
        self.settings = settings or Settings.load(data_dir, **overrides)
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.store = Store(self.settings.database_url)
        self.indexes = vector_indexes(
            self.store, self.settings.index_dir, self.settings.vector_index, self.settings.pgvector_ef_search
        )
        self.keyword_indexes = IndexSet(self.store, self.settings.index_dir, KEYWORD)

    @cached_property
    def embedder(self) -> Embedder:
        s = self.settings
        return Embedder(
            s.embedder,
            batch_size=s.embed_batch_size or 32,
            context_extension=s.embedder_extension or None,
            target_length=s.embedder_max_tokens or None,
            precision=s.embedder_precision,
        )

    def close(self) -> None:
        self.indexes.save_dirty()
        self.keyword_indexes.save_dirty()
        self.store.close()

    def __enter__(self) -> LongLens:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ingestion ---------------------------------------------------------------------------------

    def ingest(
        self,
        paths: Sequence[str | Path] | str | Path,
        *,
        collection: str | None = None,
        recursive: bool = False,
        workers: int | None = None,
        progress: IngestProgress | None = None,
        ray: str | None = None,
    ) -> IngestReport:
        """Ingest files and folders; bad files are reported in the result, never raised. `ray`: parse and
        embed on a Ray cluster: "local" starts one here, "auto" or "ray://head:10001" joins one."""
        if isinstance(paths, (str, Path)):
            paths = [paths]
        ingestor = Ingestor(self.settings, self.store, self.indexes, self.embedder, self._keyword_indexes_used())
        return ingestor.run(list(paths), collection=collection, recursive=recursive, workers=workers,
                            progress=progress, ray=ray)

    def create_collection(self, name: str, owner_id: int | None = None) -> int:
        """An empty collection for the embedder in use, owned by web user `owner_id` (None: CLI/API); its id."""
        return self.store.ensure_collection(name, self.embedder.name, self.embedder.dim, owner_id=owner_id)

    # browsing ----------------------------------------------------------------------------------

    def collections(self) -> list[CollectionInfo]:
        return self.store.collections()

    def documents(self, collection: str | None = None) -> list[DocumentInfo]:
        return self.store.documents(collection)

    def remove(self, refs: Sequence[str], collection: str | None = None) -> list[DocumentInfo]:
        """Delete documents (by id, path or file name) and their vectors."""
        docs = self.store.resolve_documents(refs, collection)
        removed = self.store.delete_documents([d.id for d in docs])
        for cid, chunk_ids in removed.items():
            dim = self._dim(cid)
            self.indexes.get(cid, dim).remove(np.asarray(chunk_ids, dtype=np.int64))
            self.keyword_indexes.get(cid, dim).remove(np.asarray(chunk_ids, dtype=np.int64))
        self.indexes.save_dirty()
        self.keyword_indexes.save_dirty()
        return docs

    def rename_collection(self, old: str, new: str) -> None:
        self.store.rename_collection(old, new)

    def delete_collection(self, name: str) -> None:
        cid = self.store.delete_collection(name)
        self.indexes.drop(cid)
        self.keyword_indexes.drop(cid)

    # search ------------------------------------------------------------------------------------

    @cached_property
    def retriever(self) -> HybridRetriever:
        return HybridRetriever(self.store, self.indexes, self.embedder, self._keyword_indexes_used())

    def _keyword_indexes_used(self) -> IndexSet | None:
        """The BM25 indexes, unless keyword search is set to run inside the database."""
        return self.keyword_indexes if self.settings.keyword_index == "memory" else None

    def search(
        self,
        query: str,
        *,
        k: int = 5,
        collection: str | Sequence[str] | None = None,
        document: str | Sequence[str] | None = None,
        doc_type: str | None = None,
        mode: SearchMode = "hybrid",
    ) -> list[Hit]:
        """The `k` chunks most relevant to `query`, best first (hybrid: dense + keyword, fused by rank).

        `document`: one or more ids, paths or file names; `doc_type`: pdf, docx, video... A document or type
        that matches nothing raises `NoMatchError`.
        """
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise LongLensError(f"k must be a whole number of at least 1, not {k!r}")
        filters = Filters(self._target_collections(collection), document, doc_type)
        return self.retriever.retrieve(query, k, filters, mode)

    @cached_property
    def generator(self) -> Generator:
        return make_generator(self.settings)

    @cached_property
    def reranker(self) -> Reranker | None:
        return make_reranker(self.settings.reranker)

    def answer_pipeline(self) -> AnswerPipeline:
        return AnswerPipeline(
            self.store, self.retriever, self.generator, self.reranker, self.settings.answer_mode  # type: ignore[arg-type]
        )

    def stream(
        self,
        question: str,
        *,
        collection: str | Sequence[str] | None = None,
        document: str | Sequence[str] | None = None,
        doc_type: str | None = None,
        options: AskOptions | None = None,
    ) -> Iterator[str | Citation | AnswerCheck]:
        """Yield the answer's text as it is generated, one supported sentence at a time, then its
        Citations, then an `AnswerCheck` saying how many generated sentences no passage supported (never
        shown) and whether the answer is a quotation."""
        filters = Filters(self._target_collections(collection), document, doc_type)
        yield from self.answer_pipeline().stream(question, filters, options or AskOptions())

    def ask(
        self,
        question: str,
        *,
        collection: str | Sequence[str] | None = None,
        document: str | Sequence[str] | None = None,
        doc_type: str | None = None,
        options: AskOptions | None = None,
    ) -> Answer:
        """Answer `question` from the stored documents, citing passages as [n]."""
        filters = Filters(self._target_collections(collection), document, doc_type)
        return self.answer_pipeline().ask(question, filters, options or AskOptions())

    def _target_collections(self, collection: str | Sequence[str] | None) -> list[CollectionInfo]:
        infos = self.store.collections(counts=False)
        if collection is None:
            return [c for c in infos if c.embedder == self.embedder.name]
        names = [collection] if isinstance(collection, str) else list(collection)
        by_name = {c.name: c for c in infos}
        missing = [n for n in names if n not in by_name]
        if missing:
            raise LongLensError(f"no collection named '{missing[0]}'")
        return [by_name[n] for n in names]

    def _dim(self, collection_id: int) -> int:
        for c in self.store.collections():
            if c.id == collection_id:
                return c.dim
        raise LongLensError(f"no collection with id {collection_id}")

    # maintenance -------------------------------------------------------------------------------

    def doctor(self) -> dict:
        """Check that the database and every vector and keyword index agree, and repair what can be repaired."""
        problems = self.store.integrity_problems()
        interrupted = self.store.unfinished_runs()
        fixed_counts = self.store.fix_chunk_counts()
        collections = self.store.collections()
        reports_by_collection: list[tuple[ReconcileReport, ReconcileReport]] = [
            (self.indexes.reconcile(c.id, c.dim), self.keyword_indexes.reconcile(c.id, c.dim)) for c in collections
        ]
        known = {c.id for c in collections}
        stray = [p for s in (self.indexes, self.keyword_indexes) for p in s.stray_files(known)]
        for p in stray:
            p.unlink()
        for tmp in self.settings.index_dir.glob("*.tmp"):
            tmp.unlink()
        return {
            "database": "ok" if not problems else problems,
            "interrupted_runs": interrupted,
            "chunk_counts_fixed": fixed_counts,
            "stray_index_files_removed": [p.name for p in stray],
            "collections": [
                {
                    "collection_id": dense.collection_id,
                    "vectors_added": dense.added,
                    "vectors_removed": dense.removed,
                    "index_rebuilt": dense.rebuilt,
                    "index_damage": dense.damage,
                    "keyword_index_damage": keyword.damage,
                    "keywords_added": keyword.added,
                    "keywords_removed": keyword.removed,
                    "keyword_index_rebuilt": keyword.rebuilt,
                    "in_agreement_before": not dense.changed and not keyword.changed,
                }
                for dense, keyword in reports_by_collection
            ],
            "healthy": not problems and not fixed_counts and not stray
            and all(not r.changed for pair in reports_by_collection for r in pair),
        }
