"""Kill ingestion mid-batch, run it again: the result equals one clean run, and DB and index agree."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np

TOPICS = ["glaciers", "volcanoes", "coral reefs", "deserts", "rainforests", "tundra", "estuaries", "caves"]


def _corpus(folder, n=8, paragraphs=6):
    folder.mkdir()
    for i in range(n):
        topic = TOPICS[i % len(TOPICS)]
        body = "\n\n".join(
            f"Paragraph {p} about {topic}: measurement {i * 100 + p} was taken at station {p * 3 + i}. " * 4
            for p in range(paragraphs)
        )
        (folder / f"{i:02d}-{topic.replace(' ', '-')}.md").write_text(f"# {topic.title()}\n\n{body}\n")
    return folder


CRASH_AFTER_THREE_COMMITS = """
import os, sys
from longlens.cli.commands import main
from longlens.ingest.pipeline import Ingestor
store, commits = Ingestor._store, []
def store_then_die(self, *args, **kwargs):
    store(self, *args, **kwargs)
    commits.append(1)
    if len(commits) == 3:
        os._exit(137)  # as if killed right after the third file's commit
Ingestor._store = store_then_die
sys.argv[0] = "longlens"
main()
"""


def _cli(data_dir, *args, crash=False, check=True):
    env = {**os.environ, "LONGLENS_HOME": str(data_dir)}
    command = ["-c", CRASH_AFTER_THREE_COMMITS] if crash else ["-m", "longlens.cli"]
    proc = subprocess.run([sys.executable, *command, *args], capture_output=True, text=True, env=env, timeout=600)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def _snapshot(data_dir):
    """(path, sha, ordinal, text) of every stored chunk, and whether both indexes hold exactly those chunks."""
    from longlens import LongLens

    with LongLens(data_dir) as ll:
        cid = ll.store.collection_id("default")
        rows = []
        with ll.store.session() as s:
            from sqlalchemy import select

            from longlens.store.tables import ChunkRow, DocumentRow

            for path, sha, ordinal, text in s.execute(
                select(DocumentRow.source_path, DocumentRow.sha256, ChunkRow.ordinal, ChunkRow.text).join(ChunkRow)
            ):
                rows.append((path, sha, ordinal, text))
        dim = ll.store.collections()[0].dim
        in_db = np.sort(ll.store.chunk_ids(cid))
        agree = all(
            np.array_equal(in_db, np.sort(index_set.get(cid, dim).ids()))
            for index_set in (ll.indexes, ll.keyword_indexes)
        )
    return sorted(rows), agree


def test_crash_after_a_commit_then_resume_equals_a_clean_run(tmp_path):
    corpus = _corpus(tmp_path / "corpus")
    _cli(tmp_path / "clean", "ingest", str(corpus), "--workers", "1", "--json")
    clean, _ = _snapshot(tmp_path / "clean")

    crashed = _cli(
        tmp_path / "crash",
        "ingest",
        str(corpus),
        "--workers",
        "1",
        crash=True,
        check=False,
    )
    assert crashed.returncode == 137
    # the index files were never saved: the database is ahead of them
    assert not list((tmp_path / "crash" / "indexes").glob("*.faiss"))
    assert not list((tmp_path / "crash" / "indexes").glob("*.bm25.npz"))

    resumed = json.loads(_cli(tmp_path / "crash", "ingest", str(corpus), "--workers", "1", "--json").stdout)
    assert len(resumed["skipped"]) == 3 and len(resumed["ok"]) == len(TOPICS) - 3
    after, agree = _snapshot(tmp_path / "crash")
    assert agree
    assert after == clean

    doctor = json.loads(_cli(tmp_path / "crash", "doctor", "--json").stdout)
    assert doctor["healthy"] is True


def test_sigkill_at_a_random_moment_then_resume(tmp_path):
    corpus = _corpus(tmp_path / "corpus", n=24, paragraphs=12)
    data = tmp_path / "data"
    env = {**os.environ, "LONGLENS_HOME": str(data)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "longlens.cli", "ingest", str(corpus), "--workers", "2"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        start_new_session=True,  # its own process group: the kill takes the parser workers down too
    )
    db = data / "longlens.db"
    deadline = time.time() + 240
    stored = 0
    while time.time() < deadline and proc.poll() is None:
        if db.exists():
            try:
                with sqlite3.connect(db, timeout=1) as conn:
                    stored = conn.execute("SELECT count(*) FROM documents WHERE status='ready'").fetchone()[0]
            except sqlite3.OperationalError:
                stored = 0
        if stored >= 2:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert 2 <= stored < 24, "the kill should land mid-batch"

    _cli(data, "ingest", str(corpus), "--workers", "1")
    after, agree = _snapshot(data)
    assert agree
    paths = {row[0] for row in after}
    assert len(paths) == 24
    # no duplicate chunks: each (document, ordinal) once, ordinals contiguous from 0
    per_doc: dict[str, list[int]] = {}
    for path, _sha, ordinal, _text in after:
        per_doc.setdefault(path, []).append(ordinal)
    assert all(sorted(v) == list(range(len(v))) for v in per_doc.values())


def test_doctor_repairs_a_damaged_index(tmp_path):
    corpus = _corpus(tmp_path / "corpus", n=3, paragraphs=2)
    data = tmp_path / "data"
    _cli(data, "ingest", str(corpus), "--workers", "1")
    healthy = json.loads(_cli(data, "doctor", "--json").stdout)
    assert healthy["healthy"] is True

    next((data / "indexes").glob("*.faiss")).write_bytes(b"garbage")
    next((data / "indexes").glob("*.bm25.npz")).write_bytes(b"garbage")
    (data / "indexes" / "collection-99.faiss").write_bytes(b"stray")
    (data / "indexes" / "collection-99.bm25.npz").write_bytes(b"stray")
    report = json.loads(_cli(data, "doctor", "--json").stdout)
    assert report["healthy"] is False
    assert report["collections"][0]["index_rebuilt"] is True
    assert report["collections"][0]["keyword_index_rebuilt"] is True
    assert report["collections"][0]["keywords_added"] > 0
    assert sorted(report["stray_index_files_removed"]) == ["collection-99.bm25.npz", "collection-99.faiss"]
    assert json.loads(_cli(data, "doctor", "--json").stdout)["healthy"] is True
    hits = json.loads(_cli(data, "search", "coral reefs measurement", "--json", "--k", "1").stdout)
    assert "coral" in hits[0]["text"].lower()
    keyword = json.loads(_cli(data, "search", "coral reefs", "--json", "--k", "1", "--mode", "keyword").stdout)
    assert "coral" in keyword[0]["text"].lower()


def _children(pid: int) -> list[int]:
    """The pids whose parent is `pid` (from /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry))
    return found


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has ended, only unreaped
    except OSError:
        return False


def test_workers_die_with_a_killed_ingest(tmp_path):
    """kill -9 of `ingest --workers 2` left the resource tracker and both pool workers alive for minutes."""
    corpus = _corpus(tmp_path / "corpus", n=40, paragraphs=12)
    env = {**os.environ, "LONGLENS_HOME": str(tmp_path / "data")}
    proc = subprocess.Popen([sys.executable, "-m", "longlens.cli", "ingest", str(corpus), "--workers", "2"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.time() + 240
    children: list[int] = []
    while time.time() < deadline and proc.poll() is None and len(children) < 3:  # the tracker and 2 workers
        children = _children(proc.pid)
        time.sleep(0.05)
    assert len(children) >= 3, "the ingest should have started its workers"
    proc.kill()  # the parent only, as the OOM killer or a kill -9 would
    proc.wait()
    time.sleep(5)
    assert [pid for pid in children if _alive(pid)] == []


def _damage_vectors(index_file, fill: bytes | None = None) -> None:
    """Overwrite bytes in the middle of a FAISS file, where its vectors are (random bytes, or `fill` repeated)."""
    raw = bytearray(index_file.read_bytes())
    start, size = len(raw) // 3, 512
    raw[start:start + size] = (fill * size)[:size] if fill else np.random.default_rng(0).bytes(size)
    index_file.write_bytes(bytes(raw))


def test_doctor_notices_damaged_vectors_and_a_directory(tmp_path):
    """Random bytes in the vectors went unnoticed (a wrong document at score 6.97e37, doctor 'healthy');
    a directory in place of the index file crashed search and doctor."""
    corpus = _corpus(tmp_path / "corpus", n=3, paragraphs=2)
    data = tmp_path / "data"
    _cli(data, "ingest", str(corpus), "--workers", "1")
    faiss_file = next((data / "indexes").glob("*.faiss"))
    _damage_vectors(faiss_file)
    report = json.loads(_cli(data, "doctor", "--json").stdout)
    assert report["healthy"] is False and report["collections"][0]["index_rebuilt"] is True
    assert "checksum" in report["collections"][0]["index_damage"]
    assert json.loads(_cli(data, "doctor", "--json").stdout)["healthy"] is True

    faiss_file.unlink()
    faiss_file.mkdir()
    (faiss_file / "keep.txt").write_text("somebody's file")
    hits = json.loads(_cli(data, "search", "coral reefs measurement", "--json", "--k", "1").stdout)
    assert "coral" in hits[0]["text"].lower() and -1 <= hits[0]["score"] <= 1
    assert faiss_file.is_file()
    assert [p.name for p in (data / "indexes").glob("*.damaged-*")]  # set aside, not deleted
    assert json.loads(_cli(data, "doctor", "--json").stdout)["healthy"] is True


def test_search_never_returns_a_score_no_cosine_can_have(tmp_path):
    """An index file from before checksums, its vectors overwritten: search rebuilds it instead of answering."""
    corpus = _corpus(tmp_path / "corpus", n=3, paragraphs=2)
    data = tmp_path / "data"
    _cli(data, "ingest", str(corpus), "--workers", "1")
    faiss_file = next((data / "indexes").glob("*.faiss"))
    faiss_file.with_name(faiss_file.name + ".sha256").unlink()  # as a file written by an older version
    _damage_vectors(faiss_file, fill=b"\x7e")  # floats near 8.4e37
    hits = json.loads(_cli(data, "search", "coral reefs measurement", "--json", "--k", "3", "--mode", "dense").stdout)
    assert hits and all(-1 <= h["score"] <= 1 for h in hits) and "coral" in hits[0]["text"].lower()
