"""Query latency: embed + dense + keyword + fuse (no LLM) over a large collection, p50 / p99.

Keyword search is measured both ways longlens can run it: the in-memory BM25 index (the default) and
ranking inside the database (SQLite FTS5, `keyword_index="database"`), on the same stored chunks.

    python bench/query_latency.py                    # 100k chunks, 1,000 queries
    python bench/query_latency.py --chunks 20000 --queries 200

Chunk texts are generated sentences stored through the real store (so FTS5 indexes them); their vectors
are random unit vectors, since dense search cost does not depend on what the vectors mean and embedding
100k chunks on a CPU would take an hour. Queries are embedded for real with the packaged MiniLM. The
side-by-side baselines are what a user would otherwise write: sentence-transformers `encode` + a raw
faiss-cpu `IndexFlatIP.search` (dense only, no database), and, when `rank_bm25` is installed, the keyword
search of LangChain's `BM25Retriever` (rank_bm25 `BM25Okapi` over whitespace tokens), alone and beside the
dense baseline as LangChain's `EnsembleRetriever` would run them (on the first `--baseline-queries`).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

VOCAB = (
    "river delta survey station channel glacier basin ridge valley meadow forest wetland estuary tide heron "
    "ferry library telescope mirror detector bread soup recipe pump valve engine boiler lever warranty ranger "
    "permit closure season colony nest owl frog newt osprey algae oxygen nitrate rainfall drought council"
).split()


SYLLABLES = "ka ro mi tu le sa no vi de pa lo ri ne ta mo su".split()
WORDS = VOCAB + sorted({"".join(random.Random(i).choices(SYLLABLES, k=3)) for i in range(20000)})
ZIPF = [1.0 / (rank + 1) for rank in range(len(WORDS))]  # word frequencies fall off as in real text


def _sentence(rng: random.Random) -> str:
    return " ".join(rng.choices(WORDS, weights=ZIPF, k=40)) + f" code {rng.randint(0, 99999)}."


def build(data_dir: Path, n_chunks: int, dim: int, seed: int = 0):  # noqa: ANN201 - LongLens
    from longlens import LongLens
    from longlens.schema import Chunk

    rng = random.Random(seed)
    texts: list[str] = []
    vecs = np.random.default_rng(seed).standard_normal((n_chunks, dim)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    ll = LongLens(data_dir)
    cid = ll.store.ensure_collection("bench", ll.embedder.name, dim)
    per_doc = 1000
    for d in range(0, n_chunks, per_doc):
        chunks = [
            Chunk(ordinal=i, text=_sentence(rng), token_count=45, char_start=0, char_end=0, page_start=i // 3 + 1)
            for i in range(min(per_doc, n_chunks - d))
        ]
        texts.extend(c.text for c in chunks)
        _, ids, _ = ll.store.replace_document(
            cid, f"/bench/doc-{d // per_doc}.pdf", sha256=f"{d:064d}", doc_type="pdf", title=f"doc {d}",
            size_bytes=1, page_count=per_doc // 3, duration=None, warnings=[], chunks=chunks,
            embeddings=vecs[d : d + len(chunks)],
        )
        ll.indexes.apply(cid, dim, ids, vecs[d : d + len(chunks)], [])
    ll.indexes.save_dirty()
    return ll, vecs, texts


def percentiles(samples: list[float]) -> dict[str, float]:
    arr = np.asarray(samples) * 1000
    p50, p99 = np.percentile(arr, [50, 99])
    return {"p50_ms": float(p50), "p99_ms": float(p99), "mean_ms": float(arr.mean())}


def _rank_bm25_baselines(texts: list[str], queries: list[str], model, flat, k: int  # noqa: ANN001
                         ) -> tuple[list[float], list[float]]:
    """Per-query seconds of rank_bm25 top-k alone, and of dense + rank_bm25 + RRF; empty without rank_bm25."""
    try:
        from rank_bm25 import BM25Okapi
    except ImportError:
        return [], []
    from longlens.retrieval.fusion import reciprocal_rank_fusion

    bm25 = BM25Okapi([t.split() for t in texts])  # LangChain's default preprocessing: str.split
    alone, hybrid = [], []
    for q in queries:
        t = time.perf_counter()
        np.argsort(-bm25.get_scores(q.split()))[:k]
        alone.append(time.perf_counter() - t)
    for q in queries:
        t = time.perf_counter()
        qv = model.encode([q], normalize_embeddings=True, convert_to_numpy=True)
        _, dense_ids = flat.search(qv, 2 * k)
        keyword_ids = np.argsort(-bm25.get_scores(q.split()))[: 2 * k]
        reciprocal_rank_fusion([dense_ids[0].tolist(), keyword_ids.tolist()])[:k]
        hybrid.append(time.perf_counter() - t)
    return alone, hybrid


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--chunks", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--baseline-queries", type=int, default=200, help="queries for the rank_bm25 baselines")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "out" / "query_latency.json")
    args = ap.parse_args(argv)

    import faiss

    from longlens import LongLens

    rng = random.Random(1)
    queries = [" ".join(rng.choices(WORDS, weights=ZIPF, k=rng.randint(3, 9))) + "?" for _ in range(args.queries)]
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        ll, vecs, texts = build(Path(tmp) / "data", args.chunks, 384)
        print(f"built {args.chunks} chunks in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        ll.embedder.encode(["warm-up"])
        t0 = time.perf_counter()
        ll.search("warm-up", k=args.k, mode="keyword")  # builds the BM25 index from the stored chunks
        keyword_build_s = time.perf_counter() - t0
        in_db = LongLens(ll.settings.data_dir, keyword_index="database")
        in_db.embedder = ll.embedder
        runs = [("hybrid", ll, "hybrid"), ("dense", ll, "dense"), ("keyword", ll, "keyword"),
                ("hybrid_database_keywords", in_db, "hybrid"), ("keyword_database", in_db, "keyword")]
        ours: dict[str, list[float]] = {name: [] for name, _, _ in runs}
        for name, lens, mode in runs:
            for q in queries[:20]:  # warm caches
                lens.search(q, k=args.k, mode=mode)
            for q in queries:
                t = time.perf_counter()
                lens.search(q, k=args.k, mode=mode)
                ours[name].append(time.perf_counter() - t)
        in_db.close()
        model = ll.embedder.model
        flat = faiss.IndexFlatIP(384)
        flat.add(vecs)
        base = []
        for q in queries:
            t = time.perf_counter()
            qv = model.encode([q], normalize_embeddings=True, convert_to_numpy=True)
            flat.search(qv, args.k)
            base.append(time.perf_counter() - t)
        bm25_only, bm25_hybrid = _rank_bm25_baselines(texts, queries[: args.baseline_queries], model, flat, args.k)
        embed_only = []
        for q in queries[:200]:
            t = time.perf_counter()
            ll.embedder.encode_query(q)
            embed_only.append(time.perf_counter() - t)
        ll.close()

    result = {
        "chunks": args.chunks,
        "queries": args.queries,
        "k": args.k,
        "cpu_count": os.cpu_count(),
        "longlens": {mode: percentiles(v) for mode, v in ours.items()},
        "keyword_index_build_s": keyword_build_s,
        "query_embedding_only": percentiles(embed_only),
        "baseline_st_encode_plus_faiss_flat": percentiles(base),
        "baseline_rank_bm25": percentiles(bm25_only) if bm25_only else None,
        "baseline_st_faiss_plus_rank_bm25": percentiles(bm25_hybrid) if bm25_hybrid else None,
    }
    print(f"\n{'path':<50} {'p50 ms':>8} {'p99 ms':>8}")
    for name, stats in [
        ("longlens hybrid (embed+FAISS+BM25+fusion+rows)", result["longlens"]["hybrid"]),
        ("longlens dense (embed+FAISS+rows)", result["longlens"]["dense"]),
        ("longlens keyword (BM25+rows)", result["longlens"]["keyword"]),
        ("longlens hybrid, keywords ranked in SQLite FTS5", result["longlens"]["hybrid_database_keywords"]),
        ("longlens keyword, ranked in SQLite FTS5", result["longlens"]["keyword_database"]),
        ("query embedding alone", result["query_embedding_only"]),
        ("baseline: ST encode + faiss IndexFlatIP", result["baseline_st_encode_plus_faiss_flat"]),
        ("baseline: rank_bm25 (LangChain BM25Retriever)", result["baseline_rank_bm25"]),
        ("baseline: ST + faiss + rank_bm25 (EnsembleRetriever)", result["baseline_st_faiss_plus_rank_bm25"]),
    ]:
        if stats is None:
            print(f"{name:<50} {'(pip install rank_bm25)':>17}")
            continue
        print(f"{name:<50} {stats['p50_ms']:>8.1f} {stats['p99_ms']:>8.1f}")
    print(f"BM25 index built from {args.chunks} stored chunks in {keyword_build_s:.1f} s (once; then saved)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"\nwrote {args.out}", file=sys.stderr)
    return result


if __name__ == "__main__":
    main()
