"""PDF text per page with pypdfium2 (hundreds of pages/s); pages without a text layer go to Tesseract.

One segment per page: PDFs carry no reliable paragraph structure, and the page is what a citation opens.
A page is OCRed when it has no text but has content, or when it has only a few characters of text over
a page-sized image (a scan stamped with a page number or Bates label). Scanned pages are rendered in
this thread (PDFium is not thread-safe) and OCRed by Tesseract processes in a small thread pool, so a
scanned book uses both cores. PDFium calls from different threads are serialised by a lock. Line-end
hyphens that PDFium marks as word breaks are joined.
"""

from __future__ import annotations

import io
import os
import re
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from longlens.models import ocr
from longlens.retrieval.parsers._common import ParseOptions, finalize
from longlens.schema import ParsedDocument, ParseError, Segment

_LIGATURES = str.maketrans({"\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi", "\ufb04": "ffl"})
# PDFium turns a hyphen that splits a word across lines (and the line break) into U+FFFE: join the word.
_SOFT_HYPHEN_BREAK = re.compile(r"[\x02\ufffe](?:\r?\n)?")
_GENERIC_TITLES = {"untitled", "untitled document", "document", "title", "no title", "none", "anonymous"}
_FILENAME_TITLE = re.compile(r"\.(pdf|docx?|odt|rtf|tex|dvi|indd|pptx?|xlsx?)$", re.IGNORECASE)
_PDFIUM_LOCK = threading.Lock()  # PDFium is not thread-safe, not even across documents
MAX_OCR_PIXELS = 40_000_000  # ~A2 at 300 dpi; larger pages are rendered at a lower resolution
EOF_TAIL_BYTES = 2048
SCAN_TEXT_MAX_CHARS = 64  # a page with less text than this and a page-sized image is OCRed
SCAN_AREA_SHARE = 0.5
DIAGNOSE_BYTES = 1 << 20
_EMPTY_PAGE_TREE = re.compile(rb"/Type\s*/Pages\b[^>]*?/Count\s+0\b|/Count\s+0\b[^>]*?/Type\s*/Pages\b")
_PAGE_OBJECT = re.compile(rb"/Type\s*/Page(?![a-zA-Z])")


def parse_pdf(path: Path, options: ParseOptions | None = None) -> ParsedDocument:
    """Text of every page; title from metadata, else the first line."""
    options = options or ParseOptions()
    warnings: list[str] = []
    if not _has_eof_marker(path):
        warnings.append("the PDF looks truncated (no %%EOF marker); some pages may be missing")
    with _PDFIUM_LOCK:
        pdf = _open(path)
        try:
            page_count = len(pdf)
            if page_count == 0:
                raise ParseError("the PDF has no pages")
            title = _metadata_title(pdf)
            segments = _extract_pages(pdf, options, warnings)
        finally:
            pdf.close()
    return finalize(
        "pdf",
        title,
        segments,
        path,
        page_count=page_count,
        warnings=warnings,
        no_text_message=_no_text_message(options),
    )


def _open(path: Path) -> pdfium.PdfDocument:
    try:
        return pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        code = getattr(exc, "err_code", None)
        if code == pdfium_c.FPDF_ERR_PASSWORD:
            raise ParseError("encrypted PDF (password required)") from exc
        if code == pdfium_c.FPDF_ERR_SECURITY:
            raise ParseError("encrypted PDF (unsupported security handler)") from exc
        if code == pdfium_c.FPDF_ERR_FILE:
            raise ParseError("cannot read file") from exc
        if code == pdfium_c.FPDF_ERR_SUCCESS or _has_empty_page_tree(path):
            raise ParseError("the PDF has no pages") from exc  # PDFium refuses these, with varying codes
        reason = re.search(r"\(PDFium: (.*?)\)", str(exc))
        detail = f"PDFium reports a {reason.group(1).lower()}" if reason else str(exc)
        raise ParseError(f"corrupt or truncated PDF: {detail}") from exc


def _has_empty_page_tree(path: Path) -> bool:
    """A page tree with /Count 0 and no page objects (only checked after PDFium refused the file)."""
    try:
        with path.open("rb") as fh:
            data = fh.read(DIAGNOSE_BYTES)
    except OSError:
        return False
    return bool(_EMPTY_PAGE_TREE.search(data)) and not _PAGE_OBJECT.search(data)


def _has_eof_marker(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            fh.seek(max(0, path.stat().st_size - EOF_TAIL_BYTES))
            return b"%%EOF" in fh.read()
    except OSError as exc:
        raise ParseError(f"cannot read file: {exc.strerror or exc}") from exc


def _metadata_title(pdf: pdfium.PdfDocument) -> str:
    """The Info dictionary's title unless it is a placeholder or a file name some tool put there."""
    try:
        title = (pdf.get_metadata_value("Title") or "").strip()
    except (pdfium.PdfiumError, UnicodeDecodeError):
        return ""
    title = title.removeprefix("Microsoft Word - ").strip()
    if title.lower() in _GENERIC_TITLES or _FILENAME_TITLE.search(title):
        return ""
    return title


def _page_text(page: pdfium.PdfPage) -> str:
    textpage = page.get_textpage()
    try:
        text = textpage.get_text_range()
    finally:
        textpage.close()
    return _SOFT_HYPHEN_BREAK.sub("", text).translate(_LIGATURES)


def _extract_pages(pdf: pdfium.PdfDocument, options: ParseOptions, warnings: list[str]) -> list[Segment]:
    """Segments in page order; OCR results are filled in as their futures finish."""
    segments: list[Segment] = []
    ocr_state = _OcrState(options, warnings)
    try:
        for index in range(len(pdf)):
            number = index + 1
            try:
                page = pdf[index]
            except pdfium.PdfiumError as exc:
                warnings.append(f"page {number} could not be read: {exc}")
                continue
            try:
                text = _page_text(page)
                visible = len(text.strip())
                if visible >= SCAN_TEXT_MAX_CHARS or (visible and not _is_scan(page)):
                    segments.append(Segment(text=text, page=number))
                elif visible or _has_content(page):
                    segments.append(ocr_state.submit(page, number, fallback=text))
            except pdfium.PdfiumError as exc:
                warnings.append(f"page {number} could not be read: {exc}")
            finally:
                page.close()
        ocr_state.finish()
    finally:
        ocr_state.shutdown()
    return segments


def _has_content(page: pdfium.PdfPage) -> bool:
    """A page with no objects at all is blank on purpose: not worth an OCR pass."""
    return pdfium_c.FPDFPage_CountObjects(page.raw) > 0


def _is_scan(page: pdfium.PdfPage) -> bool:
    """An image covers most of the page: a scan, perhaps stamped with a page number or Bates label."""
    width, height = page.get_size()
    for obj in page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,), max_depth=3):
        left, bottom, right, top = obj.get_bounds()
        if (right - left) * (top - bottom) >= SCAN_AREA_SHARE * width * height:
            return True
    return False


class _OcrState:
    """Renders scanned pages here and OCRs them in worker threads, keeping only a few images in memory."""

    def __init__(self, options: ParseOptions, warnings: list[str]) -> None:
        self.options = options
        self.warnings = warnings
        self.workers = max(1, min(2, os.cpu_count() or 1))
        self.pool: ThreadPoolExecutor | None = None
        self.pending: deque[tuple[int, Segment, str, Future[str]]] = deque()
        self.unavailable = self._unavailable_reason()

    def _unavailable_reason(self) -> str | None:
        if not self.options.ocr:
            return "OCR is turned off"
        if not ocr.tesseract_available():
            return "OCR is not available"
        missing = ocr.missing_languages(self.options.ocr_language)
        if missing:
            return f"the OCR language '{'+'.join(missing)}' is not installed"
        return None

    def submit(self, page: pdfium.PdfPage, number: int, fallback: str) -> Segment:
        """A segment for the page, filled in by `finish`; `fallback` is the little text layer there is."""
        if self.unavailable:
            what = "looks scanned (almost no text layer)" if fallback.strip() else "has no text layer"
            self.warnings.append(f"page {number} {what} and {self.unavailable}")
            return Segment(text=fallback, page=number)
        if self.pool is None:
            self.pool = ThreadPoolExecutor(self.workers, thread_name_prefix="longlens-ocr")
        while len(self.pending) >= 2 * self.workers:
            self._collect_oldest()
        png, dpi = _render_png(page, self.options.ocr_dpi)
        seg = Segment(text="", page=number, source="ocr")
        future = self.pool.submit(ocr.ocr_png, png, self.options.ocr_language, dpi)
        self.pending.append((number, seg, fallback, future))
        return seg

    def _collect_oldest(self) -> None:
        number, seg, fallback, future = self.pending.popleft()
        try:
            seg.text = future.result()
        except ocr.OcrError as exc:
            self.warnings.append(f"page {number}: {exc}")
        if len(seg.text.strip()) < len(fallback.strip()):
            seg.text, seg.source = fallback, None
        if not seg.text.strip():
            self.warnings.append(f"page {number} has no text layer and OCR found no text")

    def finish(self) -> None:
        while self.pending:
            self._collect_oldest()

    def shutdown(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)


def _render_png(page: pdfium.PdfPage, dpi: int) -> tuple[bytes, int]:
    """The page as a grayscale PNG and the resolution it was rendered at (lower for huge pages)."""
    width, height = page.get_size()
    scale = dpi / 72
    pixels = width * height * scale * scale
    if pixels > MAX_OCR_PIXELS:
        scale *= (MAX_OCR_PIXELS / pixels) ** 0.5
    image = page.render(scale=scale, grayscale=True).to_pil()
    buf = io.BytesIO()
    image.save(buf, "PNG", compress_level=1)
    return buf.getvalue(), round(scale * 72)


def _no_text_message(options: ParseOptions) -> str:
    if not options.ocr:
        return "no text found (the PDF has no text layer and OCR is turned off)"
    if not ocr.tesseract_available():
        return "no text found (the PDF has no text layer and OCR is not available)"
    return "no text found"
