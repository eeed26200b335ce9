"""LangChain adapters: longlens's embedder as `Embeddings` and its hybrid search as a `BaseRetriever`.

LangChain is an edge, not a dependency: `import longlens` never imports it, and this module asks for
`pip install langchain-core` when it is missing. Documents carry the Hit's location (pages, seconds) in their
metadata so a chain can cite the page or the second just like `LongLens.ask` does.

>>> from longlens import LongLens                                       # doctest: +SKIP
>>> from longlens.langchain import LongLensRetriever, format_docs       # doctest: +SKIP
>>> retriever = LongLensRetriever(lens=LongLens("~/lens"), k=4)         # doctest: +SKIP
>>> (retriever | format_docs).invoke("what did the audit find?")        # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

try:
    from langchain_core.callbacks import AsyncCallbackManagerForRetrieverRun, CallbackManagerForRetrieverRun
    from langchain_core.documents import Document
    from langchain_core.embeddings import Embeddings
    from langchain_core.retrievers import BaseRetriever
    from langchain_core.runnables.config import run_in_executor
    from pydantic import ConfigDict, Field
except ImportError as exc:  # pragma: no cover - tested in a subprocess that hides langchain_core
    raise ImportError("longlens.langchain needs LangChain's core package: pip install langchain-core") from exc

from longlens.answer.locations import location
from longlens.answer.retriever import SearchMode
from longlens.api import LongLens
from longlens.models.embedder import DEFAULT_EMBEDDER, Embedder
from longlens.schema import LOCATION_FIELDS, Hit, location_of

__all__ = ["LongLensEmbeddings", "LongLensRetriever", "format_docs", "hit_to_document"]

_FILTERS = ("collection", "document", "doc_type", "mode")


class LongLensEmbeddings(Embeddings):
    """longlens's `Embedder` (unit vectors, packaged all-MiniLM-L6-v2 by default) for LangChain vector stores.

    `model` defaults to `LONGLENS_EMBEDDER`, then the packaged model, so vectors match what `LongLens` stores.
    Pass `embedder=` to share a model that is already loaded (e.g. `lens.embedder`) instead of loading it twice.
    The model itself loads on first use.
    """

    def __init__(self, model: str | None = None, *, embedder: Embedder | None = None, **options: Any) -> None:
        if embedder is None:
            embedder = Embedder(model or os.environ.get("LONGLENS_EMBEDDER") or DEFAULT_EMBEDDER, **options)
        self.embedder = embedder

    @property
    def model(self) -> str:
        return self.embedder.name

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embedder.encode(list(texts)).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embedder.encode_query(text).tolist()


def hit_to_document(hit: Hit) -> Document:
    """A LangChain `Document` with everything a citation needs (page/second, title, collection) in metadata."""
    metadata = {
        "source": hit.document,
        "document_id": hit.document_id,
        "chunk_id": hit.chunk_id,
        "score": hit.score,
        **location_of(hit),
        "title": hit.title,
        "collection": hit.collection,
        "doc_type": hit.doc_type,
    }
    return Document(id=str(hit.chunk_id), page_content=hit.text, metadata=metadata)


class LongLensRetriever(BaseRetriever):
    """`LongLens.search` (dense + keyword, fused) as a LangChain retriever.

    Constructor fields are the defaults; `invoke(query, k=3, collection=..., document=..., doc_type=...,
    mode=...)` overrides them for one call.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    lens: LongLens = Field(exclude=True)
    k: int = 5
    collection: str | list[str] | None = None
    document: str | None = None
    doc_type: str | None = None
    mode: SearchMode = "hybrid"

    def _search(self, query: str, k: int | None, filters: dict[str, Any]) -> list[Document]:
        filters.pop("verbose", None)  # BaseRetriever.invoke forwards its own `verbose` flag
        unknown = set(filters) - set(_FILTERS)
        if unknown:
            raise TypeError(f"unknown retriever argument(s) {sorted(unknown)}; expected k or one of {_FILTERS}")
        opts = {name: filters.get(name, getattr(self, name)) for name in _FILTERS}
        hits = self.lens.search(query, k=self.k if k is None else k, **opts)
        return [hit_to_document(h) for h in hits]

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, k: int | None = None, **filters: Any
    ) -> list[Document]:
        return self._search(query, k, filters)

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun, k: int | None = None, **filters: Any
    ) -> list[Document]:
        # BaseRetriever's default would drop `k` and the filters; search is blocking (FAISS, SQL), so use a thread.
        return await run_in_executor(None, self._search, query, k, filters)


def format_docs(docs: Sequence[Document]) -> str:
    """Number the passages `[1] title, p. 3` so a prompt can ask the model to cite them as [n]."""
    blocks = []
    for n, doc in enumerate(docs, 1):
        meta = doc.metadata
        where = location(SimpleNamespace(**{key: meta.get(key) for key in LOCATION_FIELDS}))
        head = ", ".join(part for part in (meta.get("title") or meta.get("source") or "", where) if part)
        blocks.append(f"[{n}] {head}\n{doc.page_content}".rstrip())
    return "\n\n".join(blocks)
