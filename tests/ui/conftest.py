"""A served app on a free loopback port, with a deterministic stand-in generator for speed."""

from __future__ import annotations

import socket

import pytest

from tests.standins import CitingGenerator

PAGES = [
    "Introduction. This guide covers the ferry schedule and the harbour rules in general terms.",
    "Harbour rules. Visitors must register at the blue kiosk. The lighthouse keeper is Marguerite Vasquez.",
    "Appendix. Fares are listed by season. Children ride free on weekdays.",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served(lens):
    """(url, lens, generator) for an app launched in-process on 127.0.0.1."""
    from longlens.ui.app import launch_app

    gen = CitingGenerator()
    lens.generator = gen
    port = free_port()
    demo = launch_app(lens, port=port, prevent_thread_lock=True, max_upload_bytes=200_000)
    yield f"http://127.0.0.1:{port}/", lens, gen
    demo.close()


@pytest.fixture
def guide_pdf(tmp_path, pdf_writer):
    path = tmp_path / "guide.pdf"
    pdf_writer(path, PAGES)
    return path
