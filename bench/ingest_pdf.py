"""One big PDF, longlens `ingest` against the recipe a user writes, side by side in one run (issue 25).

    python bench/ingest_pdf.py                    # a 1,000-page PDF of real prose (the Paul Graham essays)
    python bench/ingest_pdf.py --pages 100        # quicker
    python bench/ingest_pdf.py --pdf some.pdf     # any PDF
    python bench/ingest_pdf.py --pages 100 --edit # then three lines of one page changed, ingested again

The PDF is typeset with reportlab from ../shared/realdata's essays, repeated until it has `--pages` pages
(about 3,000 characters a page, as a book page). Each pipeline runs in a fresh process so that its peak
resident memory is its own:
- longlens: `LongLens.ingest([pdf])` (parse, chunk, embed, store, index), with its time split;
- the recipe: pypdf `extract_text` per page + LangChain `RecursiveCharacterTextSplitter(1000, 200)` +
  sentence-transformers `encode` (the same packaged MiniLM) + `faiss.IndexFlatIP`.
Prints seconds, pages/s, chunks, peak MB and the split, and writes bench/out/ingest_pdf.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import print_table, write_result  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("PYTHONSAFEPATH", "1")

ESSAYS = Path(__file__).resolve().parents[1].parent / "shared" / "realdata" / "paul_graham_essays.tar.gz"
LINES_PER_PAGE = 52
LINE_CHARS = 95

CHILD = r"""
import json, resource, sys, time
who, pdf, data = sys.argv[1], sys.argv[2], sys.argv[3]
import sentence_transformers, torch  # noqa: F401 - both sides start with the libraries imported
if who == "longlens":
    from longlens import LongLens
else:
    import faiss
    from langchain_text_splitters import RecursiveCharacterTextSplitter
    from pypdf import PdfReader
    from sentence_transformers import SentenceTransformer
    from longlens.models.embedder import DEFAULT_EMBEDDER, resolve_embedder_path
t = time.perf_counter()  # imports done: both sides count from here, model loading included
out = {}
if who == "longlens":
    with LongLens(data) as ll:
        r = ll.ingest([pdf])
        if r.failed:
            raise SystemExit(f"ingest failed: {r.failed}")
        out["chunks"] = sum(d.chunk_count for d in ll.documents())
        out["vectors_reused"] = sum(d["vectors_reused"] for d in r.documents)
        out.update({f"{k}_s": v for k, v in r.timings.items()})
else:
    text = "\n".join(page.extract_text() or "" for page in PdfReader(pdf).pages)
    t1 = time.perf_counter()
    chunks = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200).split_text(text)
    t2 = time.perf_counter()
    model = SentenceTransformer(resolve_embedder_path(DEFAULT_EMBEDDER), device="cpu")
    vecs = model.encode(chunks, normalize_embeddings=True, batch_size=32)
    t3 = time.perf_counter()
    index = faiss.IndexFlatIP(vecs.shape[1])
    index.add(vecs)
    out.update(chunks=len(chunks), parse_s=t1 - t, chunk_s=t2 - t1, embed_s=t3 - t2,
               store_s=time.perf_counter() - t3)
out["seconds"] = time.perf_counter() - t
out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out))
"""


def essay_text(source: Path = ESSAYS) -> str:
    """The essays, one after another, as plain paragraphs."""
    parts = []
    with tarfile.open(source) as tar:
        for member in sorted(tar.getmembers(), key=lambda m: m.name):
            if member.isfile() and member.name.endswith(".txt"):
                parts.append(tar.extractfile(member).read().decode("utf-8", "replace"))
    return "\n\n".join(parts)


EDIT = "Edited: the harbour master moved the meeting to Thursday, and the ferry now leaves at nine."


def make_pdf(path: Path, pages: int, source: Path = ESSAYS, edit_page: int | None = None) -> Path:
    """A `pages`-page PDF of real prose, the essays repeated as often as needed; `edit_page` (1-based) has
    three of its lines rewritten (the same file after a small edit)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    lines = [line for para in essay_text(source).split("\n") for line in (textwrap.wrap(para, LINE_CHARS) or [""])]
    c = canvas.Canvas(str(path), pagesize=A4)
    at = 0
    for page in range(pages):
        y = 800
        c.drawString(40, y, f"Page {page + 1}")
        for _ in range(LINES_PER_PAGE):
            y -= 14
            line = lines[at % len(lines)]
            if page + 1 == edit_page and 10 <= at % LINES_PER_PAGE < 13:
                line = EDIT
            c.drawString(40, y, line)
            at += 1
        c.showPage()
    c.save()
    return path


def run(who: str, pdf: Path, data: Path, timeout: int) -> dict:
    proc = subprocess.run([sys.executable, "-c", CHILD, who, str(pdf), str(data)], capture_output=True, text=True,
                          timeout=timeout)
    if proc.returncode:
        raise RuntimeError(f"{who} failed: {proc.stderr.strip()[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def row(label: str, pages: int, got: dict) -> dict:
    return {"pipeline": label, "pages": pages, "seconds": got["seconds"], "pages_per_s": pages / got["seconds"],
            "chunks": got["chunks"], "reused": got.get("vectors_reused", 0), "peak_MB": got["peak_mb"],
            **{k: got.get(k, float("nan")) for k in ("parse_s", "chunk_s", "embed_s", "store_s")}}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", type=int, default=1000)
    ap.add_argument("--pdf", type=Path, default=None, help="ingest this PDF instead of the generated one")
    ap.add_argument("--timeout", type=int, default=3600, help="seconds per pipeline")
    ap.add_argument(
        "--edit", action="store_true",
        help="then rewrite three lines of the middle page and ingest the file again (both pipelines)",
    )
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "out" / "ingest_pdf.json")
    args = ap.parse_args(argv)
    from pypdf import PdfReader

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        pdf = args.pdf or make_pdf(Path(tmp) / f"essays-{args.pages}.pdf", args.pages)
        pages = len(PdfReader(pdf).pages)
        for who, label in (("recipe", "recipe: pypdf + LangChain 1000/200 + ST encode + faiss flat"),
                           ("longlens", "longlens ingest")):
            got = run(who, pdf, Path(tmp) / f"data-{who}", args.timeout)
            rows.append(row(label, pages, got))
        rows[1]["x_recipe"] = rows[1]["pages_per_s"] / rows[0]["pages_per_s"]
        if args.edit and args.pdf is None:  # the same path again, one page changed: a re-ingest for longlens
            make_pdf(pdf, args.pages, edit_page=args.pages // 2 + 1)
            for who, label in (("recipe", "recipe, the edited file (all again)"),
                               ("longlens", "longlens ingest, the edited file")):
                rows.append(row(label, pages, run(who, pdf, Path(tmp) / f"data-{who}", args.timeout)))
            rows[3]["x_recipe"] = rows[3]["pages_per_s"] / rows[2]["pages_per_s"]
    print_table(f"Ingesting one {pages}-page PDF (each pipeline in a fresh process)", rows)
    result = {"rows": rows, "date": time.strftime("%Y-%m-%d"), "pdf": str(args.pdf or "generated essays")}
    write_result(result, args.out)
    return result


if __name__ == "__main__":
    main()
