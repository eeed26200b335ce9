"""PDF parsing: pages, titles, offsets, OCR of scanned pages, and each kind of broken PDF."""

from __future__ import annotations

import pytest

from longlens.models import ocr
from longlens.retrieval.parsers import ParseOptions, parse
from longlens.retrieval.parsers.pdf import parse_pdf
from longlens.schema import ParseError

needs_tesseract = pytest.mark.skipif(
    not ocr.tesseract_available(), reason="tesseract is not installed (apt-get install tesseract-ocr)"
)


def test_text_per_page_with_title_from_metadata(tmp_path, text_pdf, offsets):
    pages = ["Lighthouses of the north\nThe Skerry light was lit in 1844.", "Keepers rowed out weekly.", "End"]
    doc = parse(text_pdf(tmp_path / "lights.pdf", pages, title="Northern Lights Survey"))
    assert doc.doc_type == "pdf" and doc.page_count == 3 and doc.warnings == []
    assert doc.title == "Northern Lights Survey"
    assert [s.page for s in doc.segments] == [1, 2, 3]
    assert [s.text for s in doc.segments] == pages
    assert all(s.heading_path == () and s.source is None for s in doc.segments)
    offsets(doc)


@pytest.mark.parametrize("meta_title", [None, "untitled", "Microsoft Word - draft.docx"])
def test_title_falls_back_to_the_first_line(tmp_path, text_pdf, meta_title):
    doc = parse(text_pdf(tmp_path / "a.pdf", ["  Annual Report 2024  \nbody"], title=meta_title))
    assert doc.title == "Annual Report 2024"


def test_blank_page_is_skipped_silently(tmp_path, text_pdf):
    doc = parse(text_pdf(tmp_path / "a.pdf", ["first", "", "third"]))
    assert doc.page_count == 3
    assert [(s.page, s.text) for s in doc.segments] == [(1, "first"), (3, "third")]
    assert doc.warnings == []


def test_encrypted_pdf_needs_a_password(tmp_path, text_pdf):
    from pypdf import PdfWriter

    writer = PdfWriter(clone_from=str(text_pdf(tmp_path / "plain.pdf", ["secret plans"])))
    writer.encrypt("sesame")
    writer.write(tmp_path / "locked.pdf")
    with pytest.raises(ParseError, match=r"^encrypted PDF \(password required\)$"):
        parse(tmp_path / "locked.pdf")


def test_owner_password_only_still_opens(tmp_path, text_pdf):
    from pypdf import PdfWriter

    writer = PdfWriter(clone_from=str(text_pdf(tmp_path / "plain.pdf", ["open to read"])))
    writer.encrypt(user_password="", owner_password="owner")
    writer.write(tmp_path / "owner.pdf")
    assert parse(tmp_path / "owner.pdf").segments[0].text == "open to read"


def test_truncated_pdf(tmp_path, text_pdf):
    data = text_pdf(tmp_path / "full.pdf", [f"page {i} text" for i in range(8)]).read_bytes()
    (tmp_path / "half.pdf").write_bytes(data[: len(data) // 2])
    with pytest.raises(ParseError, match="^corrupt or truncated PDF: "):
        parse(tmp_path / "half.pdf")


def test_garbage_after_pdf_header(tmp_path):
    (tmp_path / "junk.pdf").write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 20)
    with pytest.raises(ParseError, match="^corrupt or truncated PDF: "):
        parse(tmp_path / "junk.pdf")


def test_missing_eof_marker_is_a_warning_when_the_pages_still_read(tmp_path, text_pdf):
    data = text_pdf(tmp_path / "full.pdf", ["still readable"]).read_bytes()
    (tmp_path / "cut.pdf").write_bytes(data[: data.rindex(b"%%EOF")])
    doc = parse(tmp_path / "cut.pdf")
    assert doc.segments[0].text == "still readable"
    assert any("truncated" in w for w in doc.warnings)


@pytest.mark.parametrize("writer", ["pypdf", "pypdfium2"])
def test_zero_pages(tmp_path, writer):
    if writer == "pypdf":
        from pypdf import PdfWriter

        PdfWriter().write(tmp_path / "none.pdf")
    else:
        import pypdfium2

        pypdfium2.PdfDocument.new().save(tmp_path / "none.pdf")
    with pytest.raises(ParseError, match="^the PDF has no pages$"):
        parse(tmp_path / "none.pdf")


def test_scanned_page_without_ocr_is_skipped_with_a_warning(tmp_path, image_pdf, monkeypatch):
    path = image_pdf(tmp_path / "mixed.pdf", ["typed page", ("SCANNED PAGE",)])
    monkeypatch.setattr(ocr, "tesseract_available", lambda: False)
    doc = parse(path)
    assert [s.page for s in doc.segments] == [1]
    assert doc.warnings == ["page 2 has no text layer and OCR is not available"]


def test_scanned_only_pdf_without_ocr_has_no_text(tmp_path, image_pdf):
    path = image_pdf(tmp_path / "scan.pdf", [("SCANNED PAGE",)])
    with pytest.raises(ParseError, match=r"^no text found \(.*OCR is turned off\)$"):
        parse_pdf(path, ParseOptions(ocr=False))


@needs_tesseract
def test_scanned_page_is_ocred(tmp_path, image_pdf, offsets):
    lines = ("The lighthouse keeper counted", "347 gulls on the north rock.")
    doc = parse(image_pdf(tmp_path / "mixed.pdf", ["Typed first page", lines, "Typed third page"]))
    assert [s.page for s in doc.segments] == [1, 2, 3]
    scanned = doc.segments[1]
    assert scanned.source == "ocr"
    assert " ".join(scanned.text.split()) == " ".join(lines)
    assert doc.warnings == []
    offsets(doc)


@needs_tesseract
def test_scan_stamped_with_a_little_text_is_still_ocred(tmp_path, image_pdf):
    path = image_pdf(tmp_path / "stamped.pdf", [("Minutes of the harbour board",)], stamp="ACME-000123")
    doc = parse(path)
    assert doc.segments[0].source == "ocr"
    assert "harbour board" in doc.segments[0].text and "ACME-000123" in doc.segments[0].text


def test_stamped_scan_without_ocr_keeps_the_stamp(tmp_path, image_pdf):
    path = image_pdf(tmp_path / "stamped.pdf", [("Minutes of the harbour board",)], stamp="ACME-000123")
    doc = parse(path, ocr=False)
    assert [(s.text, s.source) for s in doc.segments] == [("ACME-000123", None)]
    assert doc.warnings == ["page 1 looks scanned (almost no text layer) and OCR is turned off"]


@needs_tesseract
def test_missing_ocr_language_is_reported(tmp_path, image_pdf):
    path = image_pdf(tmp_path / "mixed.pdf", ["typed", ("SCANNED",)])
    doc = parse(path, ocr_language="xxx")
    assert doc.warnings == ["page 2 has no text layer and the OCR language 'xxx' is not installed"]


def test_hyphenated_line_breaks_are_joined(tmp_path, text_pdf):
    doc = parse(text_pdf(tmp_path / "h.pdf", ["the quick exam-\nple of well-known text"]))
    assert doc.segments[0].text == "the quick example of well-known text"


def test_parsing_from_several_threads(tmp_path, text_pdf):
    from concurrent.futures import ThreadPoolExecutor

    paths = [text_pdf(tmp_path / f"{i}.pdf", [f"doc {i} page {p}" for p in range(1, 21)]) for i in range(4)]
    with ThreadPoolExecutor(4) as pool:
        docs = list(pool.map(parse, paths * 3))
    for i, doc in enumerate(docs):
        assert [s.text for s in doc.segments] == [f"doc {i % 4} page {p}" for p in range(1, 21)]
