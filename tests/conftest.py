"""Shared fixtures: offline mode, one embedder for the whole session, throw-away data directories."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def embedder():
    """The packaged all-MiniLM-L6-v2, loaded once for every test that embeds."""
    from longlens.models.embedder import Embedder

    return Embedder()


@pytest.fixture
def lens(tmp_path, embedder):
    """A LongLens over an empty data directory, parsing in-process (workers=1) for speed."""
    from longlens import LongLens

    ll = LongLens(tmp_path / "data", workers=1)
    ll.embedder = embedder  # share the loaded model instead of loading it per test
    yield ll
    ll.close()


def write_pdf(path, pages: list[str]) -> None:
    """A real PDF with one text block per page (reportlab), wrapped to fit the page."""
    import textwrap

    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pagesize=A4)
    for text in pages:
        y = 800
        for para in text.split("\n"):
            for line in textwrap.wrap(para, 90) or [""]:
                c.drawString(40, y, line)
                y -= 14
        c.showPage()
    c.save()


@pytest.fixture
def pdf_writer():
    return write_pdf
