"""One LongLens over a few real documents (PDF pages, Markdown sections, text), ingested once per session."""

from __future__ import annotations

import pytest

PAGES = [
    "The Atlas of Rivers. Chapter one introduces the survey of South American rivers.",
    "The Orinoco delta holds 43 distinct channels, counted by boat in 1998.",
    "Glaciers of the Andes retreated 12 metres per year on average during the decade.",
]


def _write_pdf(path, pages: list[str]) -> None:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pagesize=A4)
    for text in pages:
        c.drawString(40, 800, text)
        c.showPage()
    c.save()


@pytest.fixture(scope="session")
def corpus_lens(tmp_path_factory, embedder):
    """A LongLens with atlas.pdf (3 pages), notes.md and letter.txt ingested into the collection 'default'.

    Shared by every test in this folder, so tests only read from it.
    """
    from longlens import LongLens

    folder = tmp_path_factory.mktemp("lc_docs")
    _write_pdf(folder / "atlas.pdf", PAGES)
    (folder / "notes.md").write_text(
        "# Kitchen notes\n\nGeneral remarks about the kitchen.\n\n## Bread\n\nSourdough needs a starter fed twice "
        "daily.\n\n## Soup\n\nMinestrone takes forty minutes to simmer.\n",
        encoding="utf-8",
    )
    (folder / "letter.txt").write_text(
        "Dear Ada,\n\nThe violin recital moved to the Thursday after Easter.\n\nYours, Clara\n", encoding="utf-8"
    )
    ll = LongLens(tmp_path_factory.mktemp("lc_data"), workers=1)
    ll.embedder = embedder
    report = ll.ingest(folder)
    assert not report.failed, report
    yield ll
    ll.close()
