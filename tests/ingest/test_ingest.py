"""Ingestion end to end: real parsers, real embedder, SQLite and FAISS in a temporary data directory."""

from __future__ import annotations

import numpy as np
import pytest


def _corpus(folder, pdf_writer):
    folder.mkdir()
    pdf_writer(
        folder / "atlas.pdf",
        [
            "The Atlas of Rivers. Chapter one introduces the survey.",
            "The Orinoco delta holds 43 distinct channels counted in 1998.",
            "Glaciers of the Andes retreated 12 metres per year on average.",
        ],
    )
    (folder / "notes.md").write_text(
        "# Kitchen notes\n\nGeneral remarks.\n\n## Bread\n\nSourdough needs a starter fed twice daily.\n\n"
        "## Soup\n\nMinestrone takes forty minutes to simmer.\n",
        encoding="utf-8",
    )
    (folder / "letter.txt").write_text(
        "Dear Ada,\n\nThe violin recital moved to the Thursday after Easter.\n\nYours, Clara",
        encoding="cp1252",
    )
    return folder


def _state(lens):
    """Everything stored, to compare before and after: (path, sha, chunk texts) and the index's id set."""
    docs = sorted((d.source_path, d.sha256, d.chunk_count) for d in lens.documents() if d.status == "ready")
    cid = lens.store.collection_id("default")
    db_ids = np.sort(lens.store.chunk_ids(cid))
    index_ids = np.sort(lens.indexes.get(cid, lens.embedder.dim).ids())
    return docs, db_ids, index_ids


def test_ingest_search_skip_and_replace(lens, tmp_path, pdf_writer):
    folder = _corpus(tmp_path / "docs", pdf_writer)
    report = lens.ingest([folder])
    assert sorted(report.ok) == sorted(str(p.resolve()) for p in folder.iterdir()), report.failed
    assert report.failed == [] and report.exit_code == 0

    hits = lens.search("How many channels does the Orinoco delta have?", k=3)
    assert hits[0].document.endswith("atlas.pdf") and hits[0].page_start == 2
    hit = lens.search("how long does minestrone simmer", k=1)[0]
    assert hit.document.endswith("notes.md") and hit.heading_path == "Kitchen notes > Soup"
    assert "Thursday after Easter" in lens.search("when is the violin recital", k=1)[0].text

    docs, db_ids, index_ids = _state(lens)
    np.testing.assert_array_equal(db_ids, index_ids)

    again = lens.ingest([folder])
    assert again.ok == [] and len(again.skipped) == 3
    assert set(again.skipped_reasons.values()) == {"unchanged"}
    assert _state(lens)[0] == docs

    (folder / "notes.md").write_text("# Kitchen notes\n\n## Tea\n\nGreen tea steeps for two minutes.\n")
    changed = lens.ingest([folder])
    assert changed.ok == [str((folder / "notes.md").resolve())]
    assert changed.documents[0]["replaced"] is True
    docs2, db_ids2, index_ids2 = _state(lens)
    np.testing.assert_array_equal(db_ids2, index_ids2)
    assert len(docs2) == 3
    assert "minestrone" not in " ".join(h.text for h in lens.search("minestrone simmer", k=10)).lower()
    assert lens.search("how long does green tea steep", k=1)[0].heading_path == "Kitchen notes > Tea"


def test_same_content_under_another_name_is_a_document_of_its_own(lens, tmp_path):
    """L-Eval repeats documents under new names: each copy must answer under its own name."""
    a, b, c = tmp_path / "a.txt", tmp_path / "b.txt", tmp_path / "c.txt"
    text = "The lighthouse keeper logged 1,204 ships in 1911.\n\nThe lamp burned whale oil until 1870."
    for path in (a, b, c):
        path.write_text(text)
    report = lens.ingest([a, b])
    assert report.ok == [str(a.resolve()), str(b.resolve())], report.skipped_reasons
    copy = next(d for d in report.documents if d["path"] == str(b.resolve()))
    assert copy["same_content_as"] == str(a.resolve()) and copy["chunks"] >= 1
    later = lens.ingest([c])  # a copy of what an earlier batch stored
    assert later.documents[0]["same_content_as"] == str(a.resolve())
    assert lens.ingest([a, b, c]).skipped_reasons == {str(p.resolve()): "unchanged" for p in (a, b, c)}
    assert sorted(d.source_path.rsplit("/", 1)[-1] for d in lens.documents()) == ["a.txt", "b.txt", "c.txt"]

    for name in ("a.txt", "b.txt", "c.txt"):
        hits = lens.search("how many ships did the keeper log", k=3, document=name)
        assert hits and hits[0].document.endswith(name) and "1,204" in hits[0].text
    both = lens.search("how many ships did the keeper log", k=5, document=["b.txt", "c.txt"])
    assert {h.document.rsplit("/", 1)[-1] for h in both} <= {"b.txt", "c.txt"}
    texts = [h.text for h in lens.search("lighthouse lamp whale oil ships", k=5)]
    assert len(texts) == len(set(texts)) == 1  # one passage in three copies, listed once

    lens.remove(["a.txt"])
    assert lens.search("whale oil", k=1, document="b.txt")[0].document.endswith("b.txt")
    _, db_ids, index_ids = _state(lens)
    np.testing.assert_array_equal(db_ids, index_ids)


def test_a_filter_that_matches_nothing_is_an_error(lens, tmp_path):
    from longlens.schema import NoMatchError

    (tmp_path / "kept.txt").write_text("Kestrels hover over motorway verges.")
    lens.ingest([tmp_path / "kept.txt"])
    with pytest.raises(NoMatchError, match="'gone.txt'"):
        lens.search("kestrels", document="gone.txt")
    with pytest.raises(NoMatchError, match="'gone.txt'"):  # one of several
        lens.search("kestrels", document=["kept.txt", "gone.txt"])
    with pytest.raises(NoMatchError, match="type 'pdf'"):
        lens.search("kestrels", doc_type="pdf")
    with pytest.raises(NoMatchError):
        lens.ask("what hovers over verges?", document="gone.txt")
    by_path = lens.search("kestrels", document=str(tmp_path / "kept.txt"), doc_type="text")
    assert by_path[0].document.endswith("kept.txt")


def test_remove_documents_and_collections(lens, tmp_path):
    (tmp_path / "one.txt").write_text("Apples grow in orchards.")
    (tmp_path / "two.txt").write_text("Pears ripen after picking.")
    lens.ingest([tmp_path / "one.txt"], collection="fruit")
    lens.ingest([tmp_path / "two.txt"], collection="fruit")
    removed = lens.remove(["one.txt"])
    assert [d.source_path for d in removed] == [str((tmp_path / "one.txt").resolve())]
    hits = lens.search("apples orchards", k=5)
    assert all(not h.document.endswith("one.txt") for h in hits)
    info = {c.name: c for c in lens.collections()}["fruit"]
    assert (info.documents, info.chunks) == (1, 1)
    lens.rename_collection("fruit", "produce")
    assert [c.name for c in lens.collections()] == ["produce"]
    assert lens.search("pears", k=1, collection="produce")[0].collection == "produce"
    lens.delete_collection("produce")
    assert lens.collections() == [] and lens.documents() == []


def test_a_second_process_sees_what_another_one_ingested(lens, tmp_path, embedder):
    """Two LongLens on one data directory (the web app serving while the CLI ingests)."""
    from longlens import LongLens

    (tmp_path / "first.txt").write_text("Puffins nest in burrows on sea cliffs.")
    lens.ingest([tmp_path / "first.txt"])
    assert lens.search("where do puffins nest", k=1)[0].document.endswith("first.txt")
    with LongLens(lens.settings.data_dir, workers=1) as other:
        other.embedder = embedder
        (tmp_path / "second.txt").write_text("Gannets dive into the sea at sixty miles an hour.")
        other.ingest([tmp_path / "second.txt"])
        other.remove(["first.txt"])
    hits = lens.search("how fast do gannets dive", k=2, mode="dense")
    assert [h.document.rsplit("/", 1)[-1] for h in hits] == ["second.txt"]
    keyword = lens.search("gannets dive", k=2, mode="keyword")
    assert [h.document.rsplit("/", 1)[-1] for h in keyword] == ["second.txt"]
    assert lens.search("puffins burrows", k=2, mode="keyword") == []


def test_chunk_ids_are_never_reused(lens, tmp_path, embedder):
    """Another process's index reconciles by chunk id: a replaced chunk must not come back under its old id."""
    from longlens import LongLens

    note = tmp_path / "note.txt"
    note.write_text("Otters eat crabs at dawn.")
    lens.ingest([note])
    assert lens.search("otters crabs", k=1, mode="keyword")  # this process's indexes now hold the old chunk
    cid = lens.store.collection_id("default")
    old_ids = set(lens.store.chunk_ids(cid).tolist())
    with LongLens(lens.settings.data_dir, workers=1) as other:
        other.embedder = embedder
        other.remove(["note.txt"])
        note.write_text("Beavers build dams from willow.")
        other.ingest([note])
    assert not old_ids & set(lens.store.chunk_ids(cid).tolist())
    assert lens.search("otters crabs", k=1, mode="keyword") == []
    assert lens.search("beavers willow dams", k=1, mode="keyword")[0].text.startswith("Beavers")


def test_parsing_runs_at_most_a_bounded_window_ahead_of_the_embedder():
    """A batch of many files is not parsed all at once into memory: while the caller (the embedder) holds
    one result, at most `ahead` more are submitted, and every item comes back exactly once."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from longlens.ingest.pipeline import bounded_map

    lock = threading.Lock()
    started: list[str] = []

    def work(item: str, suffix: str) -> str:
        with lock:
            started.append(item)
        return item + suffix

    items = [f"f{i}" for i in range(20)]
    seen = []
    with ThreadPoolExecutor(max_workers=2) as pool:
        for handed, (item, fut) in enumerate(bounded_map(pool, work, items, "!", ahead=3), start=1):
            assert fut.result() == item + "!"
            with lock:
                assert len(started) <= handed + 3  # never more than the window beyond what was handed over
            seen.append(item)
    assert sorted(seen) == sorted(items)
