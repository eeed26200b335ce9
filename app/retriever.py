"""First-stage retrieval: dense (FAISS) and keyword (BM25, or the database's full text), fused by reciprocal rank."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

import numpy as np

from longlens import keyword_search
from longlens.indexes import IndexSet
from longlens.models.embedder import Embedder
from longlens.retrieval.fusion import reciprocal_rank_fusion
from longlens.schema import Hit, LongLensError
from longlens.store import CollectionInfo, Store

SearchMode = Literal["hybrid", "dense", "keyword"]


@dataclass
class Filters:
    """Metadata filters: which collections, and optionally one document and/or one document type."""

    collections: list[CollectionInfo]
    document: str | None = None
    doc_type: str | None = None


_KEYWORD_THREADS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="longlens-keyword")


class HybridRetriever:
    """Finds candidate chunks for a question; cheap enough to over-fetch for a reranker."""

    def __init__(
        self, store: Store, indexes: IndexSet, embedder: Embedder, keyword_indexes: IndexSet | None = None
    ) -> None:
        """`keyword_indexes`: in-memory BM25 per collection; None ranks keywords inside the database."""
        self.store = store
        self.indexes = indexes
        self.embedder = embedder
        self.keyword_indexes = keyword_indexes

    def retrieve(self, query: str, k: int, filters: Filters, mode: SearchMode = "hybrid") -> list[Hit]:
        if not query.strip():
            raise LongLensError("the query is empty")
        if mode not in ("hybrid", "dense", "keyword"):
            raise LongLensError(f"unknown search mode '{mode}' (hybrid, dense or keyword)")
        if not filters.collections or k <= 0:
            return []
        doc_ids = None
        if filters.document is not None or filters.doc_type is not None:
            doc_ids = self.store.document_ids([c.id for c in filters.collections], filters.document, filters.doc_type)
            if not doc_ids:
                return []
        fetch = k if mode != "hybrid" else max(2 * k, 20)
        keyword_job = None
        allowed = self.store.chunk_ids_of_documents(doc_ids) if doc_ids is not None else None
        if mode != "dense" and self.keyword_indexes is None:  # the database works while the query is embedded
            keyword_job = _KEYWORD_THREADS.submit(self._keyword, query, fetch, filters.collections, doc_ids, allowed)
        dense = self._dense(query, fetch, filters.collections, allowed) if mode != "keyword" else []
        if keyword_job is not None:
            keyword = keyword_job.result()
        else:  # in-memory BM25 takes a few ms: a thread beside torch's would only compete for the cores
            keyword = self._keyword(query, fetch, filters.collections, doc_ids, allowed) if mode != "dense" else []
        if mode == "dense":
            scored = dense
        elif mode == "keyword":
            scored = keyword
        else:
            scored = reciprocal_rank_fusion([[i for i, _ in dense], [i for i, _ in keyword]])
        return self.store.hits(scored[:k])

    def _dense(
        self, query: str, k: int, collections: Sequence[CollectionInfo], allowed: np.ndarray | None
    ) -> list[tuple[int, float]]:
        qvec = self.embedder.encode_query(query)[None, :]
        scored: list[tuple[int, float]] = []
        for info in collections:
            index = self.indexes.get(info.id, info.dim, info.revision)
            scores, ids = index.search(qvec, k, allowed_ids=allowed)
            scored.extend((int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0)
        scored.sort(key=lambda pair: -pair[1])
        return scored[:k]

    def _keyword(
        self, query: str, k: int, collections: Sequence[CollectionInfo], doc_ids: list[int] | None,
        allowed: np.ndarray | None,
    ) -> list[tuple[int, float]]:
        if self.keyword_indexes is None:
            return keyword_search.search(
                self.store.engine, query, [c.id for c in collections], k, document_ids=doc_ids
            )
        scored: list[tuple[int, float]] = []
        for info in collections:
            index = self.keyword_indexes.get(info.id, info.dim, info.revision)
            scored.extend(index.search(query, k, allowed_ids=allowed))
        scored.sort(key=lambda pair: (-pair[1], pair[0]))
        return scored[:k]
