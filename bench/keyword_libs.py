"""Keyword index libraries side by side (issue 24 step 4): longlens's own BM25 postings, `bm25s`, `rank_bm25`.

    .venv/bin/python bench/keyword_libs.py                  # real-set recall + latency at 100k chunks
    .venv/bin/python bench/keyword_libs.py --chunks 20000   # a smaller latency corpus

Recall: the real sets' chunks as longlens stores them (bench/retrieval_lab.py's cache), each question
searched in its own document with the instruction lead-in dropped (`focus_query`, as search does), each
library tokenising its own way (longlens: folded words without stopwords; bm25s: its English stopwords;
rank_bm25: lower-cased words, as in `eval_real.py`). Evidence recall at 300/600/1,200 words, even and odd
documents. Latency: one index over `--chunks` generated chunks, build seconds and query p50/p99 (ms).
Prints the tables and writes bench/out/keyword_libs.json.
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import print_table  # noqa: E402
from eval_real import BUDGETS, bm25_tokens  # noqa: E402
from query_latency import VOCAB  # noqa: E402
from retrieval_lab import collect  # noqa: E402

from longlens.evalmetrics import evidence_recall, take_words  # noqa: E402
from longlens.retrieval.bm25 import BM25Index  # noqa: E402
from longlens.retrieval.query import focus_query  # noqa: E402

Search = Callable[[str, int], list[int]]  # (query, k) -> positions, best first


def longlens_index(texts: list[str]) -> tuple[Search, float]:
    t0 = time.perf_counter()
    index = BM25Index()
    index.add(np.arange(len(texts)), texts)
    index.search("warm up", 1)  # the merge happens at the first search: count it as building
    return (lambda q, k: [i for i, _ in index.search(q, k)]), time.perf_counter() - t0


def bm25s_index(texts: list[str]) -> tuple[Search, float]:
    import bm25s

    t0 = time.perf_counter()
    index = bm25s.BM25()
    index.index(bm25s.tokenize(texts, return_ids=False, show_progress=False), show_progress=False)
    took = time.perf_counter() - t0

    def search(q: str, k: int) -> list[int]:
        tokens = bm25s.tokenize([q], return_ids=False, show_progress=False)
        if not tokens[0]:
            return []
        scores = index.get_scores(tokens[0])
        top = np.argsort(-scores, kind="stable")[:k]
        return [int(i) for i in top if scores[i] > 0]

    return search, took


def rank_bm25_index(texts: list[str]) -> tuple[Search, float]:
    from rank_bm25 import BM25Okapi

    t0 = time.perf_counter()
    index = BM25Okapi([bm25_tokens(t) for t in texts])
    took = time.perf_counter() - t0

    def search(q: str, k: int) -> list[int]:
        scores = index.get_scores(bm25_tokens(q))
        top = np.argsort(-scores, kind="stable")[:k]
        return [int(i) for i in top if scores[i] > 0]

    return search, took


LIBRARIES = {"longlens BM25 (own postings)": longlens_index, "bm25s": bm25s_index, "rank_bm25": rank_bm25_index}
try:
    import bm25s  # noqa: F401 - not a project dependency
except ImportError:
    print("bm25s is not installed (`pip install bm25s`): its rows are left out", file=sys.stderr)
    del LIBRARIES["bm25s"]


def recall_rows() -> list[dict]:
    rows = collect()
    per: dict[tuple, list[float]] = {}
    by_doc: dict[str, list[dict]] = {}
    for row in rows:
        by_doc.setdefault(row["doc"], []).append(row)
    for questions in by_doc.values():
        texts = questions[0]["texts"]
        for name, build in LIBRARIES.items():
            search, _ = build(texts)
            for row in questions:
                passages = [texts[i] for i in search(focus_query(row["q"]), 30)]
                for b in BUDGETS:
                    per.setdefault((row["set"], row["group"], name, b), []).append(
                        evidence_recall(row["evidence"], take_words(passages, b)))
    out = []
    for set_name in ("financial_qa", "multidoc_qa"):
        for name in LIBRARIES:
            row = {"set": set_name, "library": name}
            for group in ("even", "odd"):
                row[group] = " / ".join(f"{statistics.fmean(per[(set_name, group, name, b)]):.3f}" for b in BUDGETS)
            out.append(row)
    return out


def latency_rows(chunks: int, queries: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    texts = [" ".join(rng.choice(VOCAB) for _ in range(120)) + f" item{n}" for n in range(chunks)]
    asks = [" ".join(rng.sample(VOCAB, 4)) + f" item{rng.randrange(chunks)}" for _ in range(queries)]
    out = []
    for name, build in LIBRARIES.items():
        search, took = build(texts)
        n = queries if name != "rank_bm25" else max(5, queries // 20)  # rank_bm25 scores every chunk in Python
        ms = []
        for q in asks[:n]:
            t0 = time.perf_counter()
            search(q, 30)
            ms.append((time.perf_counter() - t0) * 1e3)
        out.append({"library": name, "chunks": chunks, "build_s": took, "queries": n,
                    "p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99))})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--chunks", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "out" / "keyword_libs.json")
    args = ap.parse_args()
    recall = recall_rows()
    print_table("Keyword search alone: evidence recall at 300 / 600 / 1,200 words", recall)
    latency = latency_rows(args.chunks, args.queries)
    print_table(f"Keyword index over {args.chunks:,} generated chunks", latency)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"recall": recall, "latency": latency, "date": time.strftime("%Y-%m-%d")},
                                   indent=2))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
