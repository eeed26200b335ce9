"""Passage lab (issue 24 step 2): "small to big" passages scored offline on the retrieval lab's cached scores.

    .venv/bin/python bench/passage_lab.py     # needs bench/out/retrieval_lab.pkl (bench/retrieval_lab.py makes it)

Each variant turns a question's fused candidates into passages (whole chunks, or the best sentences of each
with their neighbours) and is scored by evidence recall at 300/600/1,200 words on the even and odd documents.
Sentence vectors are cached in bench/out/passage_sentences.pkl.
"""
from __future__ import annotations

import math
import pickle
import re
import statistics
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from eval_real import BUDGETS  # noqa: E402
from retrieval_lab import collect, rrf_positions  # noqa: E402

from longlens.evalmetrics import evidence_recall, take_words  # noqa: E402
from longlens.models.embedder import Embedder  # noqa: E402

OUT = Path(__file__).resolve().parent / "out"
SENT_CACHE = OUT / "passage_sentences.pkl"
_SENT = re.compile(r"(?<=[.!?])\s+(?=[\"'“(\[]?[A-Z0-9])|\n+")
_WORD = re.compile(r"[a-z0-9]+")


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENT.split(text) if s.strip()]


class Vectors:
    def __init__(self) -> None:
        self.emb = Embedder()
        self.cache: dict[str, np.ndarray] = pickle.loads(SENT_CACHE.read_bytes()) if SENT_CACHE.exists() else {}
        self.dirty = False

    def get(self, texts: list[str]) -> np.ndarray:
        todo = [t for t in dict.fromkeys(texts) if t not in self.cache]
        if todo:
            for t, v in zip(todo, self.emb.encode(todo), strict=True):
                self.cache[t] = v
            self.dirty = True
        return np.stack([self.cache[t] for t in texts]) if texts else np.zeros((0, 384), np.float32)

    def save(self) -> None:
        if self.dirty:
            SENT_CACHE.write_bytes(pickle.dumps(self.cache))


def idf_of(rows: list[dict]) -> dict[str, dict[str, float]]:
    """A per-set idf over every candidate chunk seen (a stand-in for the keyword index's)."""
    out = {}
    for set_name in {r["set"] for r in rows}:
        texts = {t: t for r in rows if r["set"] == set_name for t in r["texts"]}
        df: dict[str, int] = {}
        for t in texts.values():
            for w in set(_WORD.findall(t.lower())):
                df[w] = df.get(w, 0) + 1
        n = len(texts)
        out[set_name] = {w: math.log(1 + (n - d + 0.5) / (d + 0.5)) for w, d in df.items()}
    return out


def windows(chunk_sents: list[str], scores: np.ndarray, radius: int, top: int) -> list[tuple[float, int, int]]:
    """The `top` best sentences of one chunk each widened by `radius` neighbours: (score, start, end)."""
    out = []
    for i in np.argsort(-scores)[:top]:
        out.append((float(scores[i]), max(0, i - radius), min(len(chunk_sents), i + radius + 1)))
    return out


def small_to_big(row, vec, idf, cands: int, radius: int, per_chunk: int, mix: float, kw: float) -> list[str]:
    """Passages: for each of the first `cands` fused chunks, its best sentence windows; all windows ordered by
    `mix` * chunk rank score + (1 - mix) * window score, merged where they overlap within one chunk."""
    fused = rrf_positions(row["dense"], row["kw"])[:cands]
    qv = row["qv"]
    qterms = set(_WORD.findall(row["q"].lower()))
    scored = []
    for rank, cid in enumerate(fused):
        sents = sentences(row["texts"][cid])
        if not sents:
            continue
        sv = vec.get(sents) @ qv
        if kw:
            ks = np.array([sum(idf.get(w, 0.0) for w in set(_WORD.findall(s.lower())) & qterms) for s in sents])
            ks = ks / (ks.max() or 1.0)
            sv = (1 - kw) * sv + kw * ks * sv.max()
        chunk_score = 1.0 / (1 + rank)
        for s, a, b in windows(sents, sv, radius, per_chunk):
            scored.append((mix * chunk_score + (1 - mix) * s, cid, a, b))
    scored.sort(key=lambda x: -x[0])
    taken: dict[int, list[tuple[int, int]]] = {}
    out = []
    for _, cid, a, b in scored:
        spans = taken.setdefault(cid, [])
        if any(a < e and s < b for s, e in spans):  # overlaps a window already given: give only what is new
            covered = set().union(*(range(s, e) for s, e in spans))
            new = [i for i in range(a, b) if i not in covered]
            if not new:
                continue
            a, b = new[0], new[-1] + 1
        spans.append((a, b))
        out.append(" ".join(sentences(row["texts"][cid])[a:b]))
    return out


def variants(row, vec, idf):
    base = [row["texts"][i] for i in rrf_positions(row["dense"], row["kw"])[:30]]
    out = {"rrf chunks": base}
    for cands in (10, 20):
        for radius in (0, 1, 2):
            for mix in (0.0, 0.5):
                out[f"s2b c{cands} r{radius} mix{mix}"] = small_to_big(row, vec, idf, cands, radius, 1, mix, 0.0)
    out["s2b c10 r1 kw.3"] = small_to_big(row, vec, idf, 10, 1, 1, 0.0, 0.3)
    out["s2b c10 r1 2/chunk"] = small_to_big(row, vec, idf, 10, 1, 2, 0.0, 0.0)
    return out


def main() -> None:
    rows = collect()
    vec = Vectors()
    idf = idf_of(rows)
    res: dict = {}
    names: list[str] = []
    try:
        for n, row in enumerate(rows):
            for name, passages in variants(row, vec, idf[row["set"]]).items():
                if name not in names:
                    names.append(name)
                for b in BUDGETS:
                    res.setdefault((row["set"], row["group"], name, b), []).append(
                        evidence_recall(row["evidence"], take_words(passages, b)))
            if n % 20 == 0:
                print(f"{n}/{len(rows)}", file=sys.stderr, flush=True)
    finally:
        vec.save()
    for set_name in ("financial_qa", "multidoc_qa"):
        for group in ("even", "odd"):
            print(f"\n{set_name} {group}: evidence recall at " + " / ".join(f"{b}" for b in BUDGETS) + " words")
            for name in names:
                vals = [statistics.fmean(res[(set_name, group, name, b)]) for b in BUDGETS]
                print(f"  {name:24s} " + "  ".join(f"{v:.3f}" for v in vals))


if __name__ == "__main__":
    main()
