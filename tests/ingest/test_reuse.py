"""An edited file re-embeds only the chunks that changed; a text repeated inside a file is embedded once."""

from __future__ import annotations

import numpy as np

from longlens.ingest.reuse import plan_embedding, text_key


def test_plan_takes_stored_vectors_and_embeds_each_new_text_once():
    keys = [text_key(t) for t in ("a", "b", "a", "c", "b", "d")]
    stored = {text_key("c"): np.ones(3, dtype=np.float32)}
    plan = plan_embedding(keys, stored)
    assert plan.embed == [0, 1, 5]
    assert list(plan.stored) == [3] and plan.repeats == {2: 0, 4: 1}
    assert plan.reused == 3


def _chapters(n: int, edited: int | None = None) -> str:
    parts = []
    for i in range(n):
        body = f"Chapter {i} tells how the ferry crew {i} loaded {100 + i} crates of apples at dawn."
        if i == edited:
            body = f"Chapter {i} was rewritten: the lighthouse keeper counted {900 + i} gulls on the rocks."
        parts.append(f"## Chapter {i}\n\n{body}")
    return "# Harbour log\n\n" + "\n\n".join(parts)


def test_an_edited_file_embeds_only_its_changed_chunks(tmp_path, embedder, monkeypatch):
    from longlens import LongLens

    embedded: list[str] = []
    real = type(embedder).encode

    def encode(self, texts, **kw):  # noqa: ANN001, ANN202
        if kw.get("batch_size") is not None:  # the ingest's calls (a search embeds its query without one)
            embedded.extend(texts)
        return real(self, texts, **kw)

    monkeypatch.setattr(type(embedder), "encode", encode)
    doc = tmp_path / "log.md"
    doc.write_text(_chapters(12))
    with LongLens(tmp_path / "data", workers=1) as ll:
        ll.embedder = embedder
        first = ll.ingest([doc])
        assert first.documents[0]["vectors_reused"] == 0
        chunks = first.documents[0]["chunks"]
        assert len(embedded) == chunks >= 12

        embedded.clear()
        doc.write_text(_chapters(12, edited=7))
        again = ll.ingest([doc])
        assert not again.failed and again.documents[0]["replaced"]
        assert 1 <= len(embedded) <= 2 and all("lighthouse" in t for t in embedded)
        assert again.documents[0]["vectors_reused"] == again.documents[0]["chunks"] - len(embedded)
        hits = ll.search("How many gulls did the lighthouse keeper count?", k=1)
        assert "907 gulls" in hits[0].text

        # the same vectors as a fresh ingest of the edited file
        doc_id = again.documents[0]["document_id"]
        _, kept = ll.store.stored_chunks(doc_id)
    with LongLens(tmp_path / "fresh", workers=1) as fresh:
        fresh.embedder = embedder
        report = fresh.ingest([doc])
        _, made = fresh.store.stored_chunks(report.documents[0]["document_id"])
    assert kept.shape == made.shape and np.allclose(kept, made, atol=1e-5)


def test_a_text_repeated_inside_a_file_is_embedded_once(tmp_path, embedder, monkeypatch, pdf_writer):
    from longlens import LongLens

    embedded: list[str] = []
    real = type(embedder).encode

    def encode(self, texts, **kw):  # noqa: ANN001, ANN202
        if kw.get("batch_size") is not None:
            embedded.extend(texts)
        return real(self, texts, **kw)

    monkeypatch.setattr(type(embedder), "encode", encode)
    blank = "This page is intentionally left blank."
    pages = [f"Day {i}: {i * 3} boats moored in the harbour." if i % 2 == 0 else blank for i in range(8)]
    pdf_writer(tmp_path / "log.pdf", pages)
    with LongLens(tmp_path / "data", workers=1) as ll:
        ll.embedder = embedder
        report = ll.ingest([tmp_path / "log.pdf"])
        chunks, vectors = ll.store.stored_chunks(report.documents[0]["document_id"])
    repeated = [i for i, c in enumerate(chunks) if c.text.strip() == blank]
    assert len(repeated) == 4 and report.documents[0]["vectors_reused"] == 3
    assert len(embedded) == len(set(embedded)) == len(chunks) - 3
    assert all(np.array_equal(vectors[i], vectors[repeated[0]]) for i in repeated)
    assert [c.page_start for c in chunks if c.text.strip() == blank] == [2, 4, 6, 8]  # each keeps its own page
