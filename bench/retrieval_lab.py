"""Retrieval lab (issue 24): every chunk of each question's document scored once by both retrievers, then
ranking and passage variants compared offline by evidence recall at 300/600/1,200 words, even and odd docs.

    .venv/bin/python bench/retrieval_lab.py            # first run ingests financial_qa + multidoc_qa (~3 min)
    .venv/bin/python bench/retrieval_lab.py --fresh    # ingest and score again (after an ingestion change)

Cached in bench/out/retrieval_lab.pkl. The `rrf` row equals `eval_real.py`'s hybrid (to within ties).
"""
from __future__ import annotations

import pickle
import statistics
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from eval_real import BUDGETS, DEFAULT_DATA, LongLensSystem, load_set  # noqa: E402

from longlens.answer.retriever import Filters  # noqa: E402
from longlens.evalmetrics import evidence_recall, take_words  # noqa: E402
from longlens.retrieval.query import focus_query  # noqa: E402

OUT = Path(__file__).resolve().parent / "out"
CACHE = OUT / "retrieval_lab.pkl"


def collect() -> list[dict]:
    """Per question: the document's chunks in order (ids, texts, vectors), dense and keyword scores of all."""
    if CACHE.exists():
        return pickle.loads(CACHE.read_bytes())
    from sqlalchemy import select

    from longlens.store.tables import ChunkRow

    lens = LongLensSystem(OUT / "retrieval_lab_data")
    out = []
    for set_name in ("financial_qa", "multidoc_qa"):
        docs = load_set(DEFAULT_DATA, set_name)
        lens.ingest(docs, set_name)
        r = lens.ll.retriever
        for doc in docs:
            if doc.group not in ("even", "odd"):
                continue
            f = Filters(lens.ll._target_collections(set_name), doc.file_name)
            doc_ids = r._document_ids(f)
            with lens.ll.store.session() as s:
                rows = s.execute(
                    select(ChunkRow.id, ChunkRow.text, ChunkRow.embedding)
                    .where(ChunkRow.document_id == doc_ids[0]).order_by(ChunkRow.ordinal)
                ).all()
            ids = np.array([row[0] for row in rows])
            vecs = np.stack([np.frombuffer(row[2], dtype=np.float32) for row in rows])
            for q in doc.questions:
                text = focus_query(q.text)  # as search does
                qv = r.embedder.encode_query(text)
                kw = dict(r._keyword(text, len(ids), f.collections, doc_ids, ids))
                out.append({"set": set_name, "group": doc.group, "doc": doc.name, "q": q.text, "qv": qv,
                            "evidence": q.evidence, "ids": ids, "texts": [row[1] for row in rows], "vecs": vecs,
                            "dense": vecs @ qv, "kw": np.array([kw.get(int(i), 0.0) for i in ids])})
    lens.close()
    CACHE.write_bytes(pickle.dumps(out))
    return out


def rrf_positions(dense: np.ndarray, kw: np.ndarray, c: int = 60, depth: int = 60, wk: float = 1.0) -> np.ndarray:
    """Chunk positions best first, fused by reciprocal rank over each side's top `depth`."""
    score = np.zeros(len(dense))
    for w, s in ((1.0, dense), (wk, kw)):
        order = np.argsort(-s, kind="stable")[:depth]
        if w and s is kw:
            order = order[s[order] > 0]
        score[order] += w / (c + 1 + np.arange(len(order)))
    cand = np.flatnonzero(score)
    return cand[np.argsort(-score[cand], kind="stable")]


def smooth(s: np.ndarray, beta: float) -> np.ndarray:
    """Each chunk's score plus `beta` times its neighbours' (an answer often runs across a chunk border)."""
    out = s.copy()
    out[1:] += beta * s[:-1]
    out[:-1] += beta * s[1:]
    return out


def minmax(s: np.ndarray) -> np.ndarray:
    lo, hi = s.min(), s.max()
    return (s - lo) / (hi - lo) if hi > lo else np.zeros_like(s)


def merged_passages(row: dict, order: np.ndarray, limit: int = 30) -> list[str]:
    """Positions best first, adjacent positions already given merged away (an overlap is not repeated)."""
    return [row["texts"][i] for i in order[:limit]]


VEC = None


def sentence_scores(row: dict, positions: np.ndarray, width: int) -> np.ndarray:
    """Each candidate chunk's best window of `width` sentences: cosine with the query."""
    global VEC
    from passage_lab import Vectors, sentences

    if VEC is None:
        VEC = Vectors()
    out = []
    for i in positions:
        sents = sentences(row["texts"][i])
        wins = [" ".join(sents[j:j + width]) for j in range(max(1, len(sents) - width + 1))]
        out.append(float((VEC.get(wins) @ row["qv"]).max()))
    return np.array(out)


def rerank(row: dict, base: np.ndarray, top: int, width: int, w_sent: float, w_rank: float) -> list[str]:
    cand = base[:top]
    ss = sentence_scores(row, cand, width)
    score = w_sent * minmax(ss) + (1 - w_sent) * minmax(row["dense"][cand]) + w_rank / (1 + np.arange(len(cand)))
    order = list(cand[np.argsort(-score, kind="stable")]) + list(base[top:])
    return [row["texts"][i] for i in order[:30]]


def overlap_words(a: str, b: str, most: int = 80) -> int:
    """How many words at the end of `a` start `b` (the overlap two neighbouring chunks share)."""
    wa, wb = a.split(), b.split()
    for n in range(min(most, len(wa), len(wb)), 0, -1):
        if wa[-n:] == wb[:n]:
            return n
    return 0


def without_overlaps(row: dict, order: np.ndarray) -> list[str]:
    """Best first; a chunk whose neighbour was already given loses the words they share."""
    texts, given, out = row["texts"], set(), []
    for i in order[:30]:
        words = texts[i].split()
        if i - 1 in given:
            words = words[overlap_words(texts[i - 1], texts[i]):]
        if i + 1 in given:
            n = overlap_words(texts[i], texts[i + 1])
            words = words[: len(words) - n] if n else words
        given.add(int(i))
        out.append(" ".join(words))
    return out


def variants(row: dict) -> dict[str, list[str]]:
    from longlens.retrieval.selection import drop_near_duplicates

    d, k = row["dense"], row["kw"]
    texts = row["texts"]
    base = rrf_positions(d, k)
    out = {"rrf": [texts[i] for i in base[:30]], "rrf no overlap": without_overlaps(row, base)}
    for th in (0.3, 0.5, 0.8):
        out[f"rrf dedupe {th}"] = drop_near_duplicates([texts[i] for i in base[:30]], lambda t: t, th)
    for gamma in (0.15, 0.3, 0.5):
        v = row["vecs"]
        pooled = v.copy()
        pooled[1:] += gamma * v[:-1]
        pooled[:-1] += gamma * v[1:]
        pooled /= np.linalg.norm(pooled, axis=1, keepdims=True)
        d2 = pooled @ row["qv"]
        out[f"pooled {gamma} rrf"] = [texts[i] for i in rrf_positions(d2, k)[:30]]
        out[f"pooled {gamma} dense"] = [texts[i] for i in np.argsort(-d2)[:30]]
        out[f"max(d,pooled {gamma})"] = [texts[i] for i in rrf_positions(np.maximum(d, d2), k)[:30]]
    return out


def peak(s: np.ndarray, top: int = 10) -> float:
    """How far the best score stands above the next `top - 1`, in their standard deviations."""
    v = np.sort(s)[::-1][:top]
    sd = v[1:].std()
    return float((v[0] - v[1:].mean()) / sd) if len(v) > 2 and sd > 0 else 0.0


def variants_adaptive(row: dict) -> dict[str, list[str]]:
    d, k = row["dense"], row["kw"]
    texts = row["texts"]
    pd, pk = peak(d), peak(k)
    ad = pd / (pd + pk) if pd + pk > 0 else 0.5
    out = {"dense": np.argsort(-d), "keyword": np.argsort(-k), "rrf": rrf_positions(d, k)}
    for wk in (0.5, 0.75, 1.5):
        out[f"rrf wk{wk}"] = rrf_positions(d, k, wk=wk)
    out["rrf adaptive"] = rrf_positions(d, k, wk=(1 - ad) / max(ad, 1e-6))
    out["sum mm"] = np.argsort(-(minmax(d) + minmax(k)))
    out["sum mm adaptive"] = np.argsort(-(ad * minmax(d) + (1 - ad) * minmax(k)))
    z = lambda s: (s - s.mean()) / (s.std() or 1.0)  # noqa: E731
    out["sum z"] = np.argsort(-(z(d) + z(k)))
    for depth in (30, 60):  # as a search can: the union of each side's top `depth`, both scores known for all
        cand = np.union1d(np.argsort(-d)[:depth], np.argsort(-k)[:depth][k[np.argsort(-k)[:depth]] > 0])
        for name, norm in (("z", z), ("mm", minmax)):
            score = norm(d[cand]) + norm(k[cand])
            out[f"cand{depth} sum {name}"] = cand[np.argsort(-score, kind="stable")]
        td, tk = np.argsort(-d)[:depth], np.argsort(-k)[:depth]
        tk = tk[k[tk] > 0]
        for fill in ("min", "zero"):  # what a search knows: each side's own list; the other side's gap filled
            dd = np.full(len(d), d[td].min() if fill == "min" else 0.0)
            dd[td] = d[td]
            kk = np.full(len(k), (k[tk].min() if len(tk) else 0.0) if fill == "min" else 0.0)
            kk[tk] = k[tk]
            score = z(dd[cand]) + z(kk[cand])
            out[f"cand{depth} sum z fill {fill}"] = cand[np.argsort(-score, kind="stable")]
            if fill == "min" and depth == 60:
                for wk in (0.7, 1.4):
                    score = z(dd[cand]) + wk * z(kk[cand])
                    out[f"cand60 z fill min wk{wk}"] = cand[np.argsort(-score, kind="stable")]
        score = z(d[cand]) + 0.5 * z(k[cand])
        out[f"cand{depth} z k.5"] = cand[np.argsort(-score, kind="stable")]
        score = z(d[cand]) + 2 * z(k[cand])
        out[f"cand{depth} z k2"] = cand[np.argsort(-score, kind="stable")]
    return {name: [texts[i] for i in order[:30]] for name, order in out.items()}


def variants_rerank(row: dict) -> dict[str, list[str]]:
    d, k = row["dense"], row["kw"]
    texts = row["texts"]
    base = rrf_positions(d, k)
    out = {"rrf": [texts[i] for i in base[:30]]}
    for top in (10, 20):
        for width in (1, 2):
            for w_sent, w_rank in ((1.0, 0.0), (0.5, 0.0), (1.0, 0.5), (0.5, 0.5)):
                out[f"rr{top} w{width} s{w_sent} r{w_rank}"] = rerank(row, base, top, width, w_sent, w_rank)
    return out


def variants_fusion(row: dict) -> dict[str, list[str]]:
    d, k = row["dense"], row["kw"]
    texts = row["texts"]
    base = rrf_positions(d, k)
    out = {"dense": [texts[i] for i in np.argsort(-d)[:30]], "keyword": [texts[i] for i in np.argsort(-k)[:30]],
           "rrf": [texts[i] for i in base[:30]]}
    # Rocchio on the dense side: the query moved towards its top 3 chunks
    for alpha in (0.3, 0.6):
        top = row["vecs"][base[:3]].mean(0)
        qv = row["qv"] + alpha * top
        d2 = row["vecs"] @ (qv / np.linalg.norm(qv))
        out[f"rocchio {alpha}"] = [texts[i] for i in rrf_positions(d2, k)[:30]]
    for beta in (0.2, 0.4):
        out[f"smooth {beta}"] = [texts[i] for i in rrf_positions(smooth(d, beta), smooth(k, beta))[:30]]
    # dense + keyword min-max sum, neighbours smoothed
    comb = minmax(d) + minmax(k)
    out["sum mm"] = [texts[i] for i in np.argsort(-comb)[:30]]
    out["sum mm smooth .3"] = [texts[i] for i in np.argsort(-smooth(comb, 0.3))[:30]]
    # top hits followed by their next chunk
    seen: list[int] = []
    for i in base[:15]:
        for j in (i, i + 1):
            if j < len(texts) and j not in seen:
                seen.append(j)
    out["rrf +next"] = [texts[i] for i in seen[:30]]
    return out


def zfuse(d: np.ndarray, k: np.ndarray, depth: int = 60, wk: float = 1.0) -> np.ndarray:
    """Today's default (`standardised_score_fusion`): z-scores over each side's top `depth`, gaps = its lowest."""
    td, tk = np.argsort(-d)[:depth], np.argsort(-k)[:depth]
    tk = tk[k[tk] > 0]
    cand = np.union1d(td, tk)
    dd = np.full(len(d), d[td].min())
    dd[td] = d[td]
    kk = np.full(len(k), k[tk].min() if len(tk) else 0.0)
    kk[tk] = k[tk]
    z = lambda s: (s - s.mean()) / (s.std() or 1.0)  # noqa: E731
    score = z(dd[cand]) + wk * z(kk[cand])
    return cand[np.argsort(-score, kind="stable")]


def _bag(text: str) -> dict[str, int]:
    from longlens.retrieval.terms import term, words

    out: dict[str, int] = {}
    for w in words(text):
        t = term(w)
        if t is not None:
            out[t] = out.get(t, 0) + 1
    return out


def bm25_scores(bags: list[dict[str, int]], weights: dict[str, float], k1: float = 1.2, b: float = 0.75):
    """BM25 of every chunk for a weighted bag of query terms, statistics from the document's own chunks."""
    n = len(bags)
    lens = np.array([sum(bg.values()) for bg in bags], dtype=float)
    avg = lens.mean() or 1.0
    out = np.zeros(n)
    for t, w in weights.items():
        tf = np.array([bg.get(t, 0) for bg in bags], dtype=float)
        df = int((tf > 0).sum())
        if not df:
            continue
        idf = np.log(1 + (n - df + 0.5) / (df + 0.5))
        out += w * idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * lens / avg))
    return out


def variants_prf(row: dict) -> dict[str, list[str]]:
    """Pseudo-relevance feedback on the keyword side (RM3-like) and on the dense side, fused as today."""
    d, k, texts = row["dense"], row["kw"], row["texts"]
    bags = row.setdefault("bags", [_bag(t) for t in texts])
    base = zfuse(d, k)
    out = {"zfuse (default)": base, "bm25 local": zfuse(d, bm25_scores(bags, _bag(focus_query(row["q"]))))}
    qbag = _bag(focus_query(row["q"]))
    n = len(bags)
    df: dict[str, int] = {}
    for bg in bags:
        for t in bg:
            df[t] = df.get(t, 0) + 1
    for fb in (3, 5):
        for nterms in (5, 10):
            for lam in (0.3, 0.5):
                rel: dict[str, float] = {}
                top = base[:fb]
                for rank, i in enumerate(top):
                    tot = sum(bags[i].values()) or 1
                    for t, c in bags[i].items():
                        idf = np.log(1 + (n - df[t] + 0.5) / (df[t] + 0.5))
                        rel[t] = rel.get(t, 0.0) + (c / tot) * idf / (1 + rank)
                exp = sorted((t for t in rel if t not in qbag), key=lambda t: -rel[t])[:nterms]
                tot = sum(rel[t] for t in exp) or 1.0
                weights = {t: (1 - lam) * c / sum(qbag.values()) for t, c in qbag.items()}
                for t in exp:
                    weights[t] = weights.get(t, 0.0) + lam * rel[t] / tot
                k2 = bm25_scores(bags, weights)
                out[f"rm3 fb{fb} t{nterms} l{lam}"] = zfuse(d, k2)
        qv = row["qv"] + 0.5 * row["vecs"][base[:fb]].mean(0)
        out[f"rocchio fb{fb} .5"] = zfuse(row["vecs"] @ (qv / np.linalg.norm(qv)), k)
    return {name: [texts[i] for i in order[:30]] for name, order in out.items()}


def oracle(rows: list[dict]) -> None:
    """Where the chunk that holds most of the answer sits in each ranking."""
    for set_name in ("financial_qa", "multidoc_qa"):
        ranks = {"dense": [], "keyword": [], "rrf": []}
        adj = 0
        rs = [r for r in rows if r["set"] == set_name]
        for r in rs:
            rec = np.array([evidence_recall(r["evidence"], t) for t in r["texts"]])
            best = int(np.argmax(rec))
            base = rrf_positions(r["dense"], r["kw"])
            for name, order in (("dense", np.argsort(-r["dense"])), ("keyword", np.argsort(-r["kw"])), ("rrf", base)):
                pos = np.flatnonzero(order == best)
                ranks[name].append(int(pos[0]) + 1 if len(pos) else 999)
            adj += abs(int(base[0]) - best) == 1
        print(f"\n{set_name}: rank of the best chunk (median / share in top 1, 3, 5, 10); "
              f"best chunk next to rrf's first: {adj}/{len(rs)}")
        for name, v in ranks.items():
            v = np.array(v)
            print(f"  {name:8s} {np.median(v):5.0f}  " + "  ".join(f"{np.mean(v <= t):.2f}" for t in (1, 3, 5, 10)))


VARIANTS = {"passages": variants, "adaptive": variants_adaptive, "rerank": variants_rerank,
            "fusion": variants_fusion, "prf": variants_prf}
WHICH = next((a.removeprefix("--") for a in sys.argv if a.removeprefix("--") in VARIANTS), "adaptive")


def main() -> None:
    """`--passages`, `--adaptive` (default), `--rerank` or `--fusion`: which variants to score."""
    if "--fresh" in sys.argv:
        CACHE.unlink(missing_ok=True)
    rows = collect()
    if "--oracle" in sys.argv:
        oracle(rows)
    res: dict = {}
    names: list[str] = []
    for row in rows:
        for name, passages in VARIANTS[WHICH](row).items():
            if name not in names:
                names.append(name)
            for b in BUDGETS:
                res.setdefault((row["set"], row["group"], name, b), []).append(
                    evidence_recall(row["evidence"], take_words(passages, b)))
    if VEC is not None:
        VEC.save()
    print_recall_table(res, names)


def print_recall_table(res: dict, names: list[str], width: int = 18) -> None:
    """One line per variant: recall at each budget, per set and document group (`res` keyed (set, group,
    variant, budget) -> per-question recalls)."""
    print("\nevidence recall at " + " / ".join(map(str, BUDGETS)) + " words")
    print(f"  {'variant':{width}s} " + "".join(f"{s[:9] + ' ' + g:>24s}" for s in ("financial", "multidoc")
                                               for g in ("even", "odd")))
    for name in names:
        cells = []
        for set_name in ("financial_qa", "multidoc_qa"):
            for group in ("even", "odd"):
                vals = [statistics.fmean(res[(set_name, group, name, b)]) for b in BUDGETS]
                cells.append("/".join(f"{v:.3f}" for v in vals))
        print(f"  {name:{width}s} " + "".join(f"{c:>24s}" for c in cells))


if __name__ == "__main__":
    main()
