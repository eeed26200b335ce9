"""Ingestion speed: longlens vs the plain LangChain way, on one generated corpus, in one run.

    python bench/ingest.py                  # ~2,000 pages; prints a table, writes bench/out/ingest.json
    python bench/ingest.py --pages 100      # quicker
    python bench/ingest.py --pages 200 --ray --skip-baseline   # + the same ingest on a local Ray cluster

The corpus is mostly PDF (the only format LangChain's PyPDFLoader reads), plus DOCX, HTML, Markdown and
text documents counted in page equivalents of 3,000 characters. Stages are timed separately for
longlens (parse, chunk in one process; embedding; end to end with the worker pool and the store), and
the baseline does PyPDFLoader → RecursiveCharacterTextSplitter → SentenceTransformer.encode on the PDFs.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

WORDS = (
    "river delta survey station sample channel glacier basin ridge valley meadow forest wetland estuary tide "
    "current sediment erosion rainfall drought season migration colony habitat species census record report "
    "measure average annual decline growth pressure temperature salinity oxygen nitrate phosphate algae bloom "
    "volunteer ranger boardwalk trail access permit closure restoration project funding council committee"
).split()
PAGE_CHARS = 3000


def _paragraph(rng: random.Random, n_words: int) -> str:
    words = [rng.choice(WORDS) for _ in range(n_words)]
    sentences, i = [], 0
    while i < len(words):
        k = rng.randint(8, 20)
        sentences.append(" ".join(words[i : i + k]).capitalize() + f" {rng.randint(1, 9999)}.")
        i += k
    return " ".join(sentences)


def make_corpus(folder: Path, pages: int, seed: int = 0) -> dict:
    """Write PDFs (~85% of the pages) and DOCX/HTML/Markdown/text documents; return page counts."""
    import textwrap

    from docx import Document as Docx
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    pdf_pages = int(pages * 0.85)
    per_pdf = 100
    made_pdf = 0
    n = 0
    while made_pdf < pdf_pages:
        count = min(per_pdf, pdf_pages - made_pdf)
        c = canvas.Canvas(str(folder / f"report-{n:03d}.pdf"), pagesize=A4)
        for p in range(count):
            y = 800
            c.drawString(40, y, f"Section {p // 5 + 1}. Page {p + 1}")
            for line in textwrap.wrap(_paragraph(rng, 420), 95):
                y -= 14
                c.drawString(40, y, line)
            c.showPage()
        c.save()
        made_pdf += count
        n += 1
    other_chars = (pages - pdf_pages) * PAGE_CHARS
    per_format = max(other_chars // 4, PAGE_CHARS)
    d = Docx()
    while sum(len(p.text) for p in d.paragraphs) < per_format:
        d.add_heading(f"Chapter {len(d.paragraphs)}", level=1)
        for _ in range(5):
            d.add_paragraph(_paragraph(rng, 80))
    d.save(str(folder / "handbook.docx"))
    md, html, txt = [], ["<html><head><title>Notes</title></head><body>"], []
    while sum(map(len, md)) < per_format:
        md.append(f"## Part {len(md)}\n\n" + "\n\n".join(_paragraph(rng, 80) for _ in range(4)))
    while sum(map(len, html)) < per_format:
        html.append(f"<h2>Topic {len(html)}</h2>" + "".join(f"<p>{_paragraph(rng, 80)}</p>" for _ in range(4)))
    while sum(map(len, txt)) < per_format:
        txt.append(_paragraph(rng, 80))
    (folder / "notes.md").write_text("# Field notes\n\n" + "\n\n".join(md))
    (folder / "minutes.html").write_text("".join(html) + "</body></html>")
    (folder / "log.txt").write_text("\n\n".join(txt))
    return {"pdf_pages": pdf_pages, "other_page_equivalents": round(4 * per_format / PAGE_CHARS), "pdf_files": n}


def bench_longlens(corpus: Path, pages: float, pdf_pages: int, workers: int) -> dict:
    from longlens import LongLens
    from longlens.ingest.prepare import PrepareOptions, prepare_file
    from longlens.models.embedder import Embedder

    embedder = Embedder()
    embedder.encode(["warm-up"])
    opts = PrepareOptions(embedder.path, 200, 32)
    files = sorted(str(p) for p in corpus.iterdir())
    parse_s = chunk_s = 0.0
    pdf_parse_s = pdf_chunk_s = 0.0
    n_chunks = 0
    for f in files:  # one process, to time parsing and chunking per core
        prepared = prepare_file(f, opts)
        assert prepared.error is None, (f, prepared.error)
        parse_s += prepared.parse_seconds
        chunk_s += prepared.chunk_seconds
        n_chunks += len(prepared.chunks)
        if f.endswith(".pdf"):
            pdf_parse_s += prepared.parse_seconds
            pdf_chunk_s += prepared.chunk_seconds
    with tempfile.TemporaryDirectory() as tmp:
        with LongLens(Path(tmp) / "data", workers=workers) as ll:
            ll.embedder = embedder
            t0 = time.perf_counter()
            report = ll.ingest([corpus])
            wall = time.perf_counter() - t0
        assert not report.failed, report.failed
    return {
        "chunks": n_chunks,
        "parse_pages_per_s": pages / parse_s,
        "chunk_pages_per_s": pages / chunk_s,
        "parse_chunk_pages_per_s": pages / (parse_s + chunk_s),
        "pdf_parse_chunk_pages_per_s": pdf_pages / (pdf_parse_s + pdf_chunk_s),
        "embed_pages_per_s": pages / report.timings["embed"],
        "end_to_end_pages_per_s": pages / wall,
        "end_to_end_seconds": wall,
        "workers": workers,
    }


def bench_baseline(corpus: Path, pdf_pages: int) -> dict:
    """LangChain's PyPDFLoader + RecursiveCharacterTextSplitter + sentence-transformers encode, on the PDFs."""
    from langchain_community.document_loaders import PyPDFLoader
    from langchain_text_splitters import RecursiveCharacterTextSplitter
    from sentence_transformers import SentenceTransformer

    from longlens.models.embedder import resolve_embedder_path

    model = SentenceTransformer(resolve_embedder_path("all-MiniLM-L6-v2"), device="cpu")
    model.encode(["warm-up"])
    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=150)
    pdfs = sorted(corpus.glob("*.pdf"))
    t0 = time.perf_counter()
    docs = [d for p in pdfs for d in PyPDFLoader(str(p)).load()]
    t1 = time.perf_counter()
    chunks = splitter.split_documents(docs)
    t2 = time.perf_counter()
    model.encode([c.page_content for c in chunks], batch_size=32)
    t3 = time.perf_counter()
    return {
        "chunks": len(chunks),
        "parse_pages_per_s": pdf_pages / (t1 - t0),
        "chunk_pages_per_s": pdf_pages / (t2 - t1),
        "parse_chunk_pages_per_s": pdf_pages / (t2 - t0),
        "embed_pages_per_s": pdf_pages / (t3 - t2),
        "end_to_end_pages_per_s": pdf_pages / (t3 - t0),
        "end_to_end_seconds": t3 - t0,
    }


def bench_longlens_pdf_only(corpus: Path, pdf_pages: int, workers: int) -> dict:
    """longlens end to end on exactly the baseline's input (the PDFs), for a like-for-like figure."""
    from longlens import LongLens

    with tempfile.TemporaryDirectory() as tmp:
        pdf_dir = Path(tmp) / "pdfs"
        pdf_dir.mkdir()
        for p in corpus.glob("*.pdf"):
            shutil.copy(p, pdf_dir / p.name)
        with LongLens(Path(tmp) / "data", workers=workers) as ll:
            ll.embedder.encode(["warm-up"])
            t0 = time.perf_counter()
            report = ll.ingest([pdf_dir])
            wall = time.perf_counter() - t0
    return {"end_to_end_pages_per_s": pdf_pages / wall, "end_to_end_seconds": wall, "chunks": report.to_dict()}


def bench_longlens_ray(corpus: Path, pages: int, workers: int) -> dict:
    """The same end-to-end ingest with `ray="local"`: parse tasks and one embedding actor on a Ray cluster of
    `workers` CPUs started here (its start and the actor's model load are counted: a user waits for them)."""
    from longlens import LongLens

    with tempfile.TemporaryDirectory() as tmp:
        with LongLens(Path(tmp) / "data", workers=workers) as ll:
            ll.embedder.encode(["warm-up"])
            t0 = time.perf_counter()
            report = ll.ingest([corpus], workers=workers, ray="local")
            wall = time.perf_counter() - t0
        assert not report.failed, report.failed
    return {"end_to_end_pages_per_s": pages / wall, "end_to_end_seconds": wall,
            "embed_seconds": report.timings["embed"], "workers": workers}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", type=int, default=2000)
    ap.add_argument("--workers", type=int, default=max(1, min(4, os.cpu_count() or 2)))
    ap.add_argument("--skip-baseline", action="store_true")
    ap.add_argument("--ray", action="store_true", help="also ingest on a local Ray cluster of --workers CPUs")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "out" / "ingest.json")
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        t0 = time.perf_counter()
        counts = make_corpus(corpus, args.pages)
        print(f"corpus: {counts} in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        pages = counts["pdf_pages"] + counts["other_page_equivalents"]
        ours = bench_longlens(corpus, pages, counts["pdf_pages"], args.workers)
        ours_pdf = bench_longlens_pdf_only(corpus, counts["pdf_pages"], args.workers)
        base = None if args.skip_baseline else bench_baseline(corpus, counts["pdf_pages"])
        on_ray = bench_longlens_ray(corpus, pages, args.workers) if args.ray else None

    rows = [
        ("parse (pages/s, 1 core)", ours["parse_pages_per_s"], base and base["parse_pages_per_s"]),
        ("chunk (pages/s, 1 core)", ours["chunk_pages_per_s"], base and base["chunk_pages_per_s"]),
        ("parse+chunk (pages/s, 1 core)", ours["parse_chunk_pages_per_s"], base and base["parse_chunk_pages_per_s"]),
        ("embed (pages/s)", ours["embed_pages_per_s"], base and base["embed_pages_per_s"]),
        ("end to end, PDFs (pages/s)", ours_pdf["end_to_end_pages_per_s"], base and base["end_to_end_pages_per_s"]),
        ("end to end, all formats (pages/s)", ours["end_to_end_pages_per_s"], None),
    ]
    if on_ray:
        rows.append(("end to end, all formats, Ray (pages/s)", on_ray["end_to_end_pages_per_s"], None))
    print(f"\n{'stage':<36} {'longlens':>10} {'LangChain+ST':>14}")
    for name, a, b in rows:
        print(f"{name:<36} {a:>10.1f} {(f'{b:.1f}' if b else '-'):>14}")
    result = {
        "pages": pages,
        "corpus": counts,
        "cpu_count": os.cpu_count(),
        "longlens": ours,
        "longlens_pdf_only": {k: v for k, v in ours_pdf.items() if k != "chunks"},
        "baseline_langchain": base,
        "longlens_ray": on_ray,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"\nwrote {args.out}", file=sys.stderr)
    return result


if __name__ == "__main__":
    main()
