"""The command line as a user types it: JSON shapes, exit codes, and the listing commands."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from longlens.cli.commands import app


@pytest.fixture
def run(tmp_path):
    runner = CliRunner()
    data = tmp_path / "data"

    def invoke(*args):
        return runner.invoke(app, [*args, "--data-dir", str(data)], catch_exceptions=False)

    return invoke


def test_ingest_search_ls_rm_collections(run, tmp_path, pdf_writer):
    pdf_writer(tmp_path / "manual.pdf", ["Setup guide.", "Press the red lever twice to reset the boiler."])
    (tmp_path / "faq.md").write_text("# FAQ\n\n## Warranty\n\nThe warranty lasts 5 years from purchase.\n")

    res = run("ingest", str(tmp_path / "manual.pdf"), str(tmp_path / "faq.md"), "--json", "-c", "home")
    assert res.exit_code == 0
    summary = json.loads(res.stdout)
    assert {"failed", "ok", "skipped"} <= set(summary)
    assert len(summary["ok"]) == 2 and summary["failed"] == [] and summary["skipped"] == []

    hits = json.loads(run("search", "how do I reset the boiler", "--json", "--k", "2").stdout)
    assert len(hits) == 2
    for key in ("document", "chunk_id", "score", "text", "page_start", "page_end", "t_start", "t_end"):
        assert key in hits[0]
    assert hits[0]["document"].endswith("manual.pdf") and hits[0]["page_start"] == 2
    assert hits[0]["t_start"] is None and hits[0]["t_end"] is None

    plain = run("search", "warranty length")
    assert plain.exit_code == 0 and "faq.md" in plain.stdout and "5 years" in plain.stdout

    listing = json.loads(run("ls", "--json", "--collection", "home").stdout)
    assert {d["doc_type"] for d in listing} == {"pdf", "markdown"}
    assert {d["page_count"] for d in listing if d["doc_type"] == "pdf"} == {2}

    cols = json.loads(run("collections", "--json").stdout)
    assert [(c["name"], c["documents"]) for c in cols] == [("home", 2)]

    assert run("rm", "faq.md").exit_code == 0
    assert run("rm", "faq.md").exit_code == 1  # no longer there: says so
    assert [d["doc_type"] for d in json.loads(run("ls", "--json").stdout)] == ["pdf"]


def test_exit_codes(run, tmp_path):
    (tmp_path / "ok.txt").write_text("Fine text about herons.")
    (tmp_path / "empty.txt").write_text("")
    assert run("ingest", str(tmp_path / "ok.txt")).exit_code == 0
    assert run("ingest", str(tmp_path / "ok.txt")).exit_code == 0  # skipped as unchanged is success
    bad = run("ingest", str(tmp_path / "ok.txt"), str(tmp_path / "empty.txt"))
    assert bad.exit_code == 1 and "empty file" in bad.stdout
    assert run("ingest").exit_code == 2  # no paths: usage error
    assert run("ingest", str(tmp_path / "ok.txt"), "--workers", "0").exit_code == 2
    assert run("search", "  ").exit_code == 2
    assert run("search", "herons", "--collection", "nope").exit_code == 2


def test_an_edited_file_says_how_many_vectors_it_reused(run, tmp_path):
    notes = tmp_path / "log.md"
    notes.write_text("# Log\n\n## Day 1\n\nThe ferry left at nine.\n\n## Day 2\n\nThe ferry left at ten.\n")
    assert "vectors reused" not in run("ingest", str(notes)).stdout
    notes.write_text(notes.read_text().replace("at ten", "at noon"))
    edited = run("ingest", str(notes))
    assert edited.exit_code == 0 and "2 chunks, 1 vectors reused" in edited.stdout


def test_search_and_ask_take_document_and_type_filters(run, tmp_path):
    (tmp_path / "owls.txt").write_text("Barn owls hunt voles at dusk over rough grassland.")
    (tmp_path / "bats.md").write_text("# Bats\n\nPipistrelles hunt midges at dusk along hedgerows.\n")
    (tmp_path / "owls-copy.txt").write_text("Barn owls hunt voles at dusk over rough grassland.")
    files = [str(tmp_path / name) for name in ("owls.txt", "bats.md", "owls-copy.txt")]
    assert run("ingest", *files).exit_code == 0

    hits = json.loads(run("search", "what hunts at dusk", "--json", "--document", "bats.md").stdout)
    assert hits and {h["document"].rsplit("/", 1)[-1] for h in hits} == {"bats.md"}
    hits = json.loads(run("search", "what hunts at dusk", "--json", "-d", "owls-copy.txt", "-d", "2").stdout)
    assert {h["document"].rsplit("/", 1)[-1] for h in hits} == {"owls-copy.txt", "bats.md"}
    hits = json.loads(run("search", "what hunts at dusk", "--json", "--type", "markdown").stdout)
    assert {h["doc_type"] for h in hits} == {"markdown"}

    missing = run("search", "owls", "--document", "nope.txt")
    assert missing.exit_code == 2 and "nope.txt" in missing.output
    assert run("search", "owls", "--type", "pdf").exit_code == 2
    assert run("ask", "what do owls hunt?", "--document", "nope.txt").exit_code == 2


def test_runs_from_the_checkout_root():
    """`python -c`/`-m` from a checkout's root put it on sys.path, where kernels/ hid the `kernels` package that
    transformers 5.25 imports: every model load failed (CI, 2026-12-03)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONSAFEPATH"}
    proc = subprocess.run([sys.executable, "-c", "import longlens, transformers; transformers.LlamaConfig"],
                          cwd=root, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
