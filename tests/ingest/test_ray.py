"""`ingest --ray` on a local Ray cluster: the same documents as without Ray, one error per bad file, and a
Ray worker killed mid-batch costs nothing."""

from __future__ import annotations

import os
import signal

import psutil
import pytest

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def local_cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def _docs(folder, n: int, words: int = 200):
    folder.mkdir()
    for i in range(n):
        body = " ".join(f"Station {i} logged heron count {i * 7} at dawn in sector {i}." for _ in range(words // 10))
        (folder / f"log-{i}.txt").write_text(f"# Log {i}\n\n{body}\n")
    return folder


def test_ray_ingest_stores_what_a_local_ingest_stores(local_cluster, lens, tmp_path, embedder):
    from longlens import LongLens

    docs = _docs(tmp_path / "docs", 4)
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4 not really")
    report = lens.ingest([docs], ray="local")
    assert sorted(os.path.basename(p) for p in report.ok) == [f"log-{i}.txt" for i in range(4)]
    assert [os.path.basename(f["path"]) for f in report.failed] == ["broken.pdf"]
    again = lens.ingest([docs], ray="local")
    assert len(again.skipped) == 4 and len(again.failed) == 1  # unchanged files are not parsed again

    with LongLens(tmp_path / "plain", workers=1) as plain:
        plain.embedder = embedder
        plain.ingest([docs])
        assert [d.chunk_count for d in plain.documents()] == [d.chunk_count for d in lens.documents()]
        question = "What heron count did station 2 log?"
        ours = lens.search(question, k=3, mode="dense")
        theirs = plain.search(question, k=3, mode="dense")
        assert [h.text for h in ours] == [h.text for h in theirs]
        assert [h.score for h in ours] == pytest.approx([h.score for h in theirs], abs=1e-5)


class _KillOnFirstBatch:
    """Ingest progress that kills the embedding actor's process (kill -9) once the first batch is embedded:
    the next batches are in flight on it."""

    def __init__(self) -> None:
        self.killed: list[int] = []

    def batch_started(self, total_files: int) -> None: ...
    def file_started(self, path: str, chunks: int, pages: int | None = None) -> None: ...
    def file_finished(self, path: str, status: str, detail: str) -> None: ...

    def file_advanced(self, path: str, chunks: int) -> None:
        if self.killed:
            return
        for proc in psutil.process_iter(["pid", "cmdline"]):
            if any("_EmbedActor" in part for part in proc.info["cmdline"] or []):
                os.kill(proc.info["pid"], signal.SIGKILL)
                self.killed.append(proc.info["pid"])


def test_an_embedding_worker_killed_mid_batch_is_restarted_and_nothing_is_lost(local_cluster, lens, tmp_path):
    docs = _docs(tmp_path / "docs", 6, words=600)
    progress = _KillOnFirstBatch()
    report = lens.ingest([docs], ray="local", progress=progress)
    assert progress.killed, "no embedding actor was found to kill"
    assert len(report.ok) == 6 and not report.failed
    assert len(lens.documents()) == 6
    assert lens.search("heron count 35 at station 5", k=1)[0].document.endswith("log-5.txt")
