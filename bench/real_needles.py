"""Needles in the Paul Graham essays: one long document (~150k words), as `.txt` and as a generated PDF.

Used by `bench/eval_real.py --needles`. One haystack, the 49 essays joined in a fixed order (~112k words),
ingested as `.txt` and as a PDF of about 450 words a page, holding two kinds of needle:
- `single`: ten unrelated facts, one at each depth from 0 % to 100 % (each its own template, so no needle
  is another's decoy);
- `multi-key` (RULER's MK-NIAH): "The special magic number for <city> is <7 digits>." at ten depths between
  them (5 % to 95 %), each with three decoys of the same template and other cities at random depths.
Per needle: `top5`, the value is in `search`'s top 5 within the document; `answer`, `ask`'s answer states
it; `decoy`, the answer states a decoy's value (multi-key only). Single needles are asked of both files,
multi-key ones of the `.txt` (searched in both), which keeps the run near 5 minutes on two cores. Values are
7-digit numbers drawn per run, so no answer can be known in advance.
"""

from __future__ import annotations

import random
import sys
import tarfile
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

DEPTHS = [i / 9 for i in range(10)]
TOP_K = 5
WORDS_PER_PAGE = 450
DECOYS = 3
SINGLE = [  # (fact with {v}, question)
    (
        "The locker combination at the Halifax rowing club is {v}.",
        "What is the locker combination at the Halifax rowing club?",
    ),
    (
        "The serial number engraved on Captain Moreau's brass compass is {v}.",
        "What serial number is engraved on Captain Moreau's brass compass?",
    ),
    (
        "The Tbilisi bakery sold exactly {v} loaves in its first year.",
        "How many loaves did the Tbilisi bakery sell in its first year?",
    ),
    (
        "Raffle ticket {v} won the Windhoek charity draw.",
        "Which raffle ticket won the Windhoek charity draw?",
    ),
    (
        "The Quito observatory catalogued comet number {v} last winter.",
        "Which comet number did the Quito observatory catalogue last winter?",
    ),
    (
        "The hull registration of the Hobart ferry is {v}.",
        "What is the hull registration of the Hobart ferry?",
    ),
    (
        "The patent for the Osaka folding umbrella is numbered {v}.",
        "What number is the patent for the Osaka folding umbrella?",
    ),
    (
        "The Nairobi marathon recorded {v} registered runners.",
        "How many registered runners did the Nairobi marathon record?",
    ),
    (
        "The Lisbon archive keeps manuscript {v} in its cold vault.",
        "Which manuscript does the Lisbon archive keep in its cold vault?",
    ),
    (
        "The Cusco weaving guild gave its founder membership card {v}.",
        "Which membership card did the Cusco weaving guild give its founder?",
    ),
]
CITIES = (
    "Lisbon Nairobi Osaka Quito Tromso Hobart Tbilisi Windhoek Cusco Halifax Valparaiso Bergen Dakar Perth Hanoi "
    "Tallinn Accra Cordoba Gdansk Oaxaca Mombasa Ushuaia Bilbao Kyoto Zanzibar Reykjavik Tucson Lyon Galway Malaga "
    "Krakow Porto Aarhus Cairns Salta Izmir Leipzig Sapporo Bruges Ghent"
).split()


@dataclass
class Needle:
    depth: float
    sentence: str
    question: str
    value: str
    decoys: list[str] = field(default_factory=list)  # (sentence) planted elsewhere
    decoy_values: list[str] = field(default_factory=list)


def haystack(data: Path) -> str:
    """The essays joined in a fixed (sorted) order."""
    with tarfile.open(data / "paul_graham_essays.tar.gz") as tar:
        members = sorted((m for m in tar.getmembers() if m.isfile() and m.name.endswith(".txt")), key=lambda m: m.name)
        return "\n\n".join(tar.extractfile(m).read().decode("utf-8", "replace").strip() for m in members)


def needles(variant: str, rng: random.Random) -> list[Needle]:
    values = rng.sample(range(10**6, 10**7), 10 * (1 + DECOYS))
    if variant == "single":
        facts = zip(DEPTHS, SINGLE, values, strict=False)
        return [Needle(depth, fact.format(v=v), question, str(v)) for depth, (fact, question), v in facts]
    cities = rng.sample(CITIES, 10 * (1 + DECOYS))
    out = []
    for i in range(10):
        depth, key = (i + 0.5) / 10, cities[i]
        needle = Needle(depth, f"The special magic number for {key} is {values[i]}.",
                        f"What is the special magic number for {key}?", str(values[i]))
        for j in range(DECOYS):
            n = 10 + i * DECOYS + j
            needle.decoys.append(f"The special magic number for {cities[n]} is {values[n]}.")
            needle.decoy_values.append(str(values[n]))
        out.append(needle)
    return out


def plant(text: str, planted: list[Needle], rng: random.Random) -> str:
    """Each needle at the paragraph boundary nearest its depth; decoys at random boundaries."""
    paragraphs = text.split("\n\n")
    inserts = [(round(n.depth * len(paragraphs)), n.sentence) for n in planted]
    inserts += [(rng.randrange(len(paragraphs) + 1), d) for n in planted for d in n.decoys]
    for at, sentence in sorted(inserts, key=lambda p: -p[0]):
        paragraphs.insert(at, sentence)
    return "\n\n".join(paragraphs)


def write_pdf(path: Path, text: str) -> None:
    """The text as a real PDF, about WORDS_PER_PAGE words a page (reportlab), paragraphs kept."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pagesize=A4)
    y, count = 800, 0
    for para in text.split("\n\n"):
        for line in textwrap.wrap(" ".join(para.split()), 95):
            if y < 50 or count >= WORDS_PER_PAGE:
                c.showPage()
                y, count = 800, 0
            c.setFont("Helvetica", 9)
            c.drawString(36, y, line)
            y -= 12
            count += len(line.split())
        y -= 6
    c.showPage()
    c.save()


def run_needles(data: Path, work: Path, lens, seed: int = 0, max_tokens: int = 32) -> tuple[list[dict], list[dict]]:
    """Plant, ingest, search and ask; returns (per-needle rows, a summary row per variant and format)."""
    from longlens.answer.pipeline import AskOptions
    from longlens.models.generation import GenerationParams

    rng = random.Random(seed)
    planted = {"single": needles("single", rng), "multi-key": needles("multi-key", rng)}
    doc = plant(haystack(data), planted["single"] + planted["multi-key"], rng)
    folder = work / "needles"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "essays.txt").write_text(doc, encoding="utf-8")
    write_pdf(folder / "essays.pdf", doc)
    opts = AskOptions(generation=GenerationParams(max_tokens=max_tokens))
    rows: list[dict] = []
    summary: list[dict] = []
    for fmt in ("txt", "pdf"):
        path = folder / f"essays.{fmt}"
        t0 = time.perf_counter()
        report = lens.ll.ingest([path], collection="needles")
        ingest_s = time.perf_counter() - t0
        if report.failed:
            raise RuntimeError(f"needle ingestion failed: {report.failed}")
        for variant, these_needles in planted.items():
            ask = variant == "single" or fmt == "txt"
            t0 = time.perf_counter()
            these = []
            for n in these_needles:
                hits = lens.ll.search(n.question, k=TOP_K, collection="needles", document=path.name)
                row = {
                    "variant": variant, "format": fmt, "depth": round(n.depth * 100), "value": n.value,
                    "top5": float(any(n.value in h.text for h in hits)),
                }
                if ask:
                    answer = lens.ll.ask(n.question, collection="needles", document=path.name, options=opts)
                    row.update(
                        answer=float(n.value in answer.text),
                        decoy=float(any(v in answer.text for v in n.decoy_values)),
                        pages=",".join(str(c.page_start) for c in answer.citations if c.page_start),
                        text=answer.text[:300],
                    )
                these.append(row)
            rows.extend(these)
            line = {"variant": variant, "format": fmt, "words": len(doc.split()), "ingest_s": ingest_s,
                    "top5": sum(r["top5"] for r in these), "of": len(these)}
            if ask:
                line.update(answer=sum(r["answer"] for r in these), decoy=sum(r["decoy"] for r in these))
            line["s_per_needle"] = (time.perf_counter() - t0) / len(these)
            summary.append(line)
            print(f"  needles {variant} .{fmt}: {line}", file=sys.stderr, flush=True)
    return rows, summary
