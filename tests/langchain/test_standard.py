"""LangChain's own standard test suites (langchain-tests) run against the longlens adapters."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("langchain_tests")

from langchain_tests.integration_tests import EmbeddingsIntegrationTests, RetrieversIntegrationTests  # noqa: E402
from langchain_tests.unit_tests import EmbeddingsUnitTests  # noqa: E402

from longlens.langchain import LongLensEmbeddings, LongLensRetriever  # noqa: E402


class TestLongLensEmbeddingsUnit(EmbeddingsUnitTests):
    """Construction only: the model loads lazily, so these never touch the weights."""

    @property
    def embeddings_class(self) -> type[LongLensEmbeddings]:
        return LongLensEmbeddings

    @property
    def init_from_env_params(self) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
        return {"LONGLENS_EMBEDDER": "/models/my-embedder"}, {}, {"model": "/models/my-embedder"}


class TestLongLensEmbeddingsIntegration(EmbeddingsIntegrationTests):
    @pytest.fixture(autouse=True)
    def _shared_embedder(self, embedder) -> None:
        self._embedder = embedder  # the session's loaded model, instead of one load per test

    @property
    def embeddings_class(self) -> type[LongLensEmbeddings]:
        return LongLensEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {"embedder": self._embedder}


class TestLongLensRetrieverStandard(RetrieversIntegrationTests):
    @pytest.fixture(autouse=True)
    def _shared_lens(self, corpus_lens) -> None:
        self._lens = corpus_lens

    @property
    def retriever_constructor(self) -> type[LongLensRetriever]:
        return LongLensRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return {"lens": self._lens, "k": 2}

    @property
    def retriever_query_example(self) -> str:
        return "How many channels does the Orinoco delta have?"
