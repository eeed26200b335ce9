"""First-stage retrieval: dense (FAISS) and keyword (BM25, or the database's full text), fused on their
standardised scores."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

import numpy as np

from longlens.models.embedder import Embedder
from longlens.retrieval.fusion import standardised_score_fusion
from longlens.retrieval.query import focus_query
from longlens.retrieval.terms import query_terms
from longlens.schema import Hit, LongLensError, NoMatchError
from longlens.store import fulltext
from longlens.store.indexes import IndexSet
from longlens.store.store import CollectionInfo, Store

SearchMode = Literal["hybrid", "dense", "keyword"]


@dataclass
class Filters:
    """Metadata filters: which collections, and optionally documents (each an id, path or file name) and/or
    one document type. A document or type that matches nothing raises `NoMatchError`."""

    collections: list[CollectionInfo]
    document: str | Sequence[str] | None = None
    doc_type: str | None = None

    @property
    def documents(self) -> list[str]:
        return [self.document] if isinstance(self.document, str) else list(self.document or [])


@dataclass
class Ranked:
    """A search's hits, best first, and the leaders fusion left out: the first hit of the dense or the
    keyword list when it is not among `hits` (a passage one retriever is sure of, the other never saw)."""

    hits: list[Hit]
    leaders_left_out: list[Hit]


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
        return self.ranked(query, k, filters, mode).hits

    def ranked(self, query: str, k: int, filters: Filters, mode: SearchMode = "hybrid") -> Ranked:
        """The top `k` hits, and the first hit of each retriever's own list wherever fusion placed it.

        Both retrievers search the question without an instruction pasted around it (`focus_query`): the
        instruction's words are in every such query and in no answer."""
        if not query.strip():
            raise LongLensError("the query is empty")
        query = focus_query(query)
        if mode not in ("hybrid", "dense", "keyword"):
            raise LongLensError(f"unknown search mode '{mode}' (hybrid, dense or keyword)")
        if not filters.collections or k <= 0:
            return Ranked([], [])
        doc_ids = self._document_ids(filters)
        fetch = max(2 * k, 20)  # room to drop repeated passages (copies of a document) and still return k
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
            scored = standardised_score_fusion([dense, keyword])
        hits = distinct(self.store.hits(scored[:k]))
        if len(hits) < k < len(scored):  # repeats (or rows deleted meanwhile) dropped: read further down
            hits = distinct(self.store.hits(scored))[:k]
        shown = {h.chunk_id for h in hits}
        firsts = [ranking[0] for ranking in (dense, keyword) if ranking and ranking[0][0] not in shown]
        return Ranked(hits, self.store.hits(list(dict(firsts).items())) if firsts else [])

    def term_weights(self, query: str, filters: Filters) -> dict[str, float]:
        """How much each query term says, as its idf in the keyword index (mean over the collections searched);
        every term weighs 1.0 when keywords are ranked inside the database."""
        terms = query_terms(query)
        if self.keyword_indexes is None or not filters.collections:
            return dict.fromkeys(terms, 1.0)
        per_collection = [
            self.keyword_indexes.get(c.id, c.dim, c.revision).rarity(query) for c in filters.collections
        ]
        return {t: sum(r[t] for r in per_collection) / len(per_collection) for t in terms}

    def unmentioned(self, words: Sequence[str], filters: Filters) -> list[str]:
        """Those of `words` that no passage of the documents searched holds (each one searched for alone)."""
        if not words or not filters.collections:
            return []
        doc_ids = self._document_ids(filters)
        allowed = self.store.chunk_ids_of_documents(doc_ids) if doc_ids is not None else None
        return [w for w in words if not self._keyword(w, 1, filters.collections, doc_ids, allowed)]

    def _document_ids(self, filters: Filters) -> list[int] | None:
        """The documents the filters allow (None: all); each named document must match at least one."""
        if not filters.documents and filters.doc_type is None:
            return None
        collections = [c.id for c in filters.collections]
        where = ", ".join(f"'{c.name}'" for c in filters.collections)
        kind = f" of type '{filters.doc_type}'" if filters.doc_type else ""
        if not filters.documents:
            ids = self.store.document_ids(collections, None, filters.doc_type)
            if not ids:
                raise NoMatchError(f"no ready document{kind} in {where}")
            return ids
        ids = []
        for ref in filters.documents:
            found = self.store.document_ids(collections, ref, filters.doc_type)
            if not found:
                raise NoMatchError(f"no ready document{kind} matches '{ref}' in {where} (see `longlens ls`)")
            ids.extend(i for i in found if i not in ids)
        return ids

    def _dense(
        self, query: str, k: int, collections: Sequence[CollectionInfo], allowed: np.ndarray | None
    ) -> list[tuple[int, float]]:
        qvec = self.embedder.encode_query(query)[None, :]
        scored: list[tuple[int, float]] = []
        for info in collections:
            index = self.indexes.get(info.id, info.dim, info.revision)
            scores, ids = index.search(qvec, k, allowed_ids=allowed)
            if not _cosines(scores):  # unit vectors can only score in [-1, 1]: the index is damaged
                self.indexes.rebuild(info.id, info.dim, "a search scored outside [-1, 1]")
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
            return fulltext.search(
                self.store.engine, query, [c.id for c in collections], k, document_ids=doc_ids
            )
        scored: list[tuple[int, float]] = []
        for info in collections:
            index = self.keyword_indexes.get(info.id, info.dim, info.revision)
            scored.extend(index.search(query, k, allowed_ids=allowed))
        scored.sort(key=lambda pair: (-pair[1], pair[0]))
        return scored[:k]


def distinct(hits: list[Hit]) -> list[Hit]:
    """`hits` without the repeats of a passage already listed (the same text from a copy of a document)."""
    seen: set[str] = set()
    out = []
    for hit in hits:
        if hit.text not in seen:
            seen.add(hit.text)
            out.append(hit)
    return out


COSINE_SLACK = 1e-3
"""float32 rounding lets a unit-vector inner product stray this far past 1."""


def _cosines(scores: np.ndarray) -> bool:
    """Whether every score could be a cosine of two unit vectors."""
    return bool(np.all(np.isfinite(scores)) and np.all(np.abs(scores) <= 1 + COSINE_SLACK))
