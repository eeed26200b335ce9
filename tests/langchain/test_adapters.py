"""The LangChain adapters' own behaviour: citation metadata, `k` and filters, async, LCEL chains, optionality."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

pytest.importorskip("langchain_core")

from langchain_core.prompts import ChatPromptTemplate  # noqa: E402
from langchain_core.runnables import RunnableLambda, RunnablePassthrough  # noqa: E402
from langchain_core.vectorstores import InMemoryVectorStore  # noqa: E402

from longlens.langchain import LongLensEmbeddings, LongLensRetriever, format_docs  # noqa: E402
from longlens.schema import LongLensError  # noqa: E402

ORINOCO = "How many channels does the Orinoco delta have?"
META_KEYS = {
    "source", "document_id", "chunk_id", "score", "page_start", "page_end", "t_start", "t_end",
    "heading_path", "title", "collection", "doc_type",
}  # fmt: skip


@pytest.fixture
def retriever(corpus_lens) -> LongLensRetriever:
    return LongLensRetriever(lens=corpus_lens, k=2)


def test_documents_carry_page_and_source(retriever):
    top = retriever.invoke(ORINOCO)[0]
    assert "43 distinct channels" in top.page_content
    assert set(top.metadata) == META_KEYS
    meta = top.metadata
    assert meta["source"].endswith("atlas.pdf") and meta["doc_type"] == "pdf"
    assert (meta["page_start"], meta["page_end"]) == (2, 2)
    assert meta["collection"] == "default" and meta["t_start"] is None
    assert top.id == str(meta["chunk_id"]) and isinstance(meta["score"], float)


def test_markdown_hits_carry_heading_path(retriever):
    top = retriever.invoke("how often is the sourdough starter fed?")[0]
    assert top.metadata["source"].endswith("notes.md")
    assert "Bread" in top.metadata["heading_path"] and top.metadata["page_start"] is None


def test_k_from_constructor_and_per_call(retriever, corpus_lens):
    assert len(retriever.invoke(ORINOCO)) == 2
    assert len(retriever.invoke(ORINOCO, k=1)) == 1
    assert len(retriever.invoke(ORINOCO, k=4)) == 4
    assert len(LongLensRetriever(lens=corpus_lens, k=3).invoke(ORINOCO)) == 3


def test_filters_per_call_and_in_constructor(retriever, corpus_lens):
    docs = retriever.invoke("violin recital", k=5, document="letter.txt")
    assert docs and {d.metadata["source"].rsplit("/", 1)[-1] for d in docs} == {"letter.txt"}
    pdf_only = LongLensRetriever(lens=corpus_lens, k=5, doc_type="pdf").invoke("kitchen soup")
    assert pdf_only and {d.metadata["doc_type"] for d in pdf_only} == {"pdf"}
    keyword = retriever.invoke("Minestrone", mode="keyword", k=1)
    assert "Minestrone" in keyword[0].page_content


def test_bad_arguments_are_clear(retriever):
    with pytest.raises(TypeError, match="unknown retriever argument"):
        retriever.invoke(ORINOCO, top_k=3)
    with pytest.raises(LongLensError, match="no collection named 'nope'"):
        retriever.invoke(ORINOCO, collection="nope")


async def test_ainvoke_honours_k_and_filters(retriever):
    docs = await retriever.ainvoke(ORINOCO, k=3, doc_type="pdf")
    assert len(docs) == 3 and {d.metadata["doc_type"] for d in docs} == {"pdf"}
    batch = await retriever.abatch([ORINOCO, "violin recital"])
    assert [len(b) for b in batch] == [2, 2]


def test_lcel_chain_cites_passages(retriever):
    context = (retriever | format_docs).invoke(ORINOCO)
    assert context.startswith("[1] ") and "p. 2" in context and "43 distinct channels" in context

    prompt = ChatPromptTemplate.from_messages(
        [("system", "Answer from the passages, citing them as [n].\n\n{context}"), ("human", "{question}")]
    )
    fake_llm = RunnableLambda(lambda value: value.to_messages()[0].content)  # echoes the system prompt
    chain = {"context": retriever | format_docs, "question": RunnablePassthrough()} | prompt | fake_llm
    assert "43 distinct channels" in chain.invoke(ORINOCO)


def test_embeddings_match_the_lens_and_feed_a_vector_store(corpus_lens):
    emb = LongLensEmbeddings(embedder=corpus_lens.embedder)
    vecs = np.asarray(emb.embed_documents(["river delta", "sourdough bread"]))
    assert vecs.shape == (2, corpus_lens.embedder.dim)
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(emb.embed_query("river delta"), vecs[0], atol=1e-5)

    store = InMemoryVectorStore.from_texts(["The Orinoco has many channels.", "Bake bread at dawn."], emb)
    assert "Orinoco" in store.similarity_search("river delta", k=1)[0].page_content


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60)


def test_longlens_does_not_import_langchain():
    out = _run("""
        import sys
        import longlens, longlens.api
        print(sorted(m for m in sys.modules if m.startswith("langchain")))
    """)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_missing_langchain_core_names_the_package():
    out = _run("""
        import sys

        class Hide:  # behave as if langchain-core were not installed
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] == "langchain_core":
                    raise ImportError(f"No module named {name!r}")

        sys.meta_path.insert(0, Hide())
        try:
            import longlens.langchain
        except ImportError as exc:
            print(exc)
    """)
    assert out.returncode == 0, out.stderr
    assert "pip install langchain-core" in out.stdout
