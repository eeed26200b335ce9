"""Fusion lab (issue 24 step 1): each question's dense and keyword lists fetched once, fusion variants scored
on them offline, evidence recall at 300/600/1,200 words on the even (choose) and odd (report) documents.

    .venv/bin/python bench/fusion_lab.py            # first run ingests financial_qa + multidoc_qa (~3 minutes)
    .venv/bin/python bench/fusion_lab.py --fresh    # fetch the lists again (after a retrieval change)

Lists are cached in bench/out/fusion_lists.pkl; add a variant to `variants` and rerun (seconds).
"""
from __future__ import annotations

import pickle
import statistics
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from eval_real import BUDGETS, DEFAULT_DATA, LongLensSystem, load_set  # noqa: E402

from longlens.evalmetrics import evidence_recall, take_words  # noqa: E402
from longlens.retriever import Filters  # noqa: E402

FETCH = 60
OUT = Path(__file__).resolve().parent / "out"
CACHE = OUT / "fusion_lists.pkl"


def collect() -> list[dict]:
    if CACHE.exists():
        return pickle.loads(CACHE.read_bytes())
    lens = LongLensSystem(OUT / "fusion_lab_data")
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
            allowed = lens.ll.store.chunk_ids_of_documents(doc_ids)
            for q in doc.questions:
                dense = r._dense(q.text, FETCH, f.collections, allowed)
                kw = r._keyword(q.text, FETCH, f.collections, doc_ids, allowed)
                ids = list(dict.fromkeys([i for i, _ in dense] + [i for i, _ in kw]))
                texts = {h.chunk_id: h.text for h in lens.ll.store.hits([(i, 0.0) for i in ids])}
                out.append({"set": set_name, "group": doc.group, "q": q.text, "evidence": q.evidence,
                            "dense": dense, "kw": kw, "texts": texts})
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    CACHE.write_bytes(pickle.dumps(out))
    return out


def rrf(d, k, c=60, wd=1.0, wk=1.0):
    s = {}
    for w, lst in ((wd, d), (wk, k)):
        for r, (i, _) in enumerate(lst, 1):
            s[i] = s.get(i, 0) + w / (c + r)
    return sorted(s, key=lambda i: -s[i])


def norm_minmax(lst):
    if not lst:
        return {}
    v = np.array([x for _, x in lst])
    lo, hi = v.min(), v.max()
    return {i: (x - lo) / (hi - lo) if hi > lo else 1.0 for i, x in lst}


def norm_dbsf(lst):
    if not lst:
        return {}
    v = np.array([x for _, x in lst])
    mu, sd = v.mean(), v.std() or 1.0
    lo, hi = mu - 3 * sd, mu + 3 * sd
    return {i: (x - lo) / (hi - lo) for i, x in lst}


def peak(lst, top=10):
    """How far the best score stands above the rest, in standard deviations."""
    if len(lst) < 3:
        return 0.0
    v = np.array([x for _, x in lst[:top]])
    sd = v[1:].std()
    return float((v[0] - v[1:].mean()) / sd) if sd > 0 else 0.0


def combine(d, k, norm, wd, wk):
    nd, nk = norm(d), norm(k)
    ids = set(nd) | set(nk)
    s = {i: wd * nd.get(i, 0.0) + wk * nk.get(i, 0.0) for i in ids}
    return sorted(s, key=lambda i: -s[i])


def variants(row):
    d, k = row["dense"], row["kw"]
    pd, pk = peak(d), peak(k)
    ad = pd / (pd + pk) if pd + pk > 0 else 0.5
    return {
        "dense": [i for i, _ in d],
        "keyword": [i for i, _ in k],
        "rrf60": rrf(d, k),
        "rsf .5": combine(d, k, norm_minmax, 0.5, 0.5),
        "rsf .7d": combine(d, k, norm_minmax, 0.7, 0.3),
        "dbsf": combine(d, k, norm_dbsf, 0.5, 0.5),
        "dbsf adaptive": combine(d, k, norm_dbsf, ad, 1 - ad),
        "rsf adaptive": combine(d, k, norm_minmax, ad, 1 - ad),
        "rrf adaptive": rrf(d, k, wd=ad, wk=1 - ad),
        "rrf adaptive 2x": rrf(d, k, wd=ad * 2, wk=(1 - ad) * 2),
    }


def main() -> None:
    if "--fresh" in sys.argv:
        CACHE.unlink(missing_ok=True)
    rows = collect()
    names = list(variants(rows[0]))
    res = {}
    for row in rows:
        for name, ranking in variants(row).items():
            texts = [row["texts"][i] for i in ranking[:30] if i in row["texts"]]
            for b in BUDGETS:
                res.setdefault((row["set"], row["group"], name, b), []).append(
                    evidence_recall(row["evidence"], take_words(texts, b)))
    for set_name in ("financial_qa", "multidoc_qa"):
        for group in ("even", "odd"):
            print(f"\n{set_name} {group}: evidence recall at " + " / ".join(f"{b}" for b in BUDGETS) + " words")
            for name in names:
                vals = [statistics.fmean(res[(set_name, group, name, b)]) for b in BUDGETS]
                print(f"  {name:18s} " + "  ".join(f"{v:.3f}" for v in vals))


if __name__ == "__main__":
    main()
