"""Two `longlens serve` processes on one PostgreSQL + pgvector, each with its own data directory (as on two
machines): what one ingests the other answers from at once, and what one deletes is gone from both."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request

import pytest
from gradio_client import Client, handle_file

from longlens.ui.app import message_text

from .conftest import free_port

pytestmark = pytest.mark.postgres

START_SECONDS = 180


def _serve(data_dir, port: int, database_url: str) -> subprocess.Popen:
    env = dict(os.environ, LONGLENS_DATABASE_URL=database_url, LONGLENS_ANSWER_MODE="extract", LONGLENS_WORKERS="1")
    return subprocess.Popen(
        [sys.executable, "-m", "longlens.ui.serve", "serve", "--port", str(port), "--data-dir", str(data_dir)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )


def _wait(url: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"serve exited with {proc.returncode}: {proc.stderr.read()[-2000:]}")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"{url} did not answer within {START_SECONDS} s")


def _ask(client: Client, question: str) -> str:
    """Asked of every collection the user sees: a client that never loaded the page has no choices to pick
    from (a browser on the other replica would list "harbour" once the page loads)."""
    history, _sources = client.predict(question, [], [], 4, False, True, 0.0, api_name="/ask")
    return message_text(history[-1]["content"])


def test_two_replicas_share_documents_through_the_database(tmp_path, pgvector_url, guide_pdf):
    ports = free_port(), free_port()
    procs = [_serve(tmp_path / f"replica-{i}", port, pgvector_url) for i, port in enumerate(ports)]
    try:
        urls = [f"http://127.0.0.1:{p}/" for p in ports]
        for url, proc in zip(urls, procs, strict=True):
            _wait(url, proc)
        first, second = (Client(u, verbose=False) for u in urls)
        status, _choices, _docs = first.predict([handle_file(str(guide_pdf))], "harbour", api_name="/upload")
        assert "guide.pdf" in status and "ok" in status

        answer = _ask(second, "Who is the lighthouse keeper?")  # the other replica, with no index file of its own
        assert "Vasquez" in answer and "guide.pdf p. 2" in answer
        assert not list((tmp_path / "replica-1").rglob("*.faiss"))

        first.predict("harbour", "guide.pdf", api_name="/delete_document")
        assert "Vasquez" not in _ask(second, "Who is the lighthouse keeper?")
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
