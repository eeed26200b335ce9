"""Chunks that know their context (issue 24 step 3): late chunking measured against plain chunk vectors.

Each chunk is embedded inside a longer window (up to `L` tokens of the text before and after it, MiniLM's
512 learned positions), and its vector is the mean of its own tokens' outputs only ("late chunking"), so a
chunk that says "it" or "the company" carries what it refers to. Compared offline on the rows
`bench/retrieval_lab.py` caches (every chunk of each question's document), by evidence recall at 300 / 600 /
1,200 words, dense alone and fused with the keyword side as `search` fuses them, even and odd documents.

    .venv/bin/python bench/late_chunk_lab.py          # ~5 min on 2 cores after retrieval_lab's cache exists
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from eval_real import BUDGETS  # noqa: E402
from retrieval_lab import collect, overlap_words, print_recall_table, zfuse  # noqa: E402

from longlens.evalmetrics import evidence_recall, take_words  # noqa: E402
from longlens.models.embedder import Embedder  # noqa: E402

CONTEXTS = (0, 64, 128, 150)


def late_vectors(emb: Embedder, texts: list[str], context: int) -> np.ndarray:
    """Each chunk's mean output over its own tokens, read with up to `context` tokens either side."""
    import torch

    st = emb.model
    tok = st.tokenizer
    bert = st[0].auto_model
    ids = [tok(t, add_special_tokens=False)["input_ids"] for t in texts]
    words = [t.split() for t in texts]
    out = np.zeros((len(texts), bert.config.hidden_size), dtype=np.float32)
    cls, sep = tok.cls_token_id, tok.sep_token_id
    for i in range(len(texts)):
        left: list[int] = []
        right: list[int] = []
        if context and i > 0:
            n = overlap_words(texts[i - 1], texts[i])
            prev = " ".join(words[i - 1][: len(words[i - 1]) - n] if n else words[i - 1])
            left = tok(prev, add_special_tokens=False)["input_ids"][-context:]
        if context and i + 1 < len(texts):
            n = overlap_words(texts[i], texts[i + 1])
            nxt = " ".join(words[i + 1][n:])
            right = tok(nxt, add_special_tokens=False)["input_ids"][:context]
        own = ids[i][: 510 - len(left) - len(right)]
        seq = [cls, *left, *own, *right, sep]
        with torch.inference_mode():
            h = bert(input_ids=torch.tensor([seq]), attention_mask=torch.ones(1, len(seq), dtype=torch.long))[0][0]
        span = h[1 + len(left) : 1 + len(left) + len(own)] if context else h
        v = span.mean(0).numpy()
        out[i] = v / np.linalg.norm(v)
    return out


def packed_vectors(emb: Embedder, texts: list[str], limit: int = 510) -> np.ndarray:
    """Late chunking at the cost of plain chunking: consecutive chunks (their overlap with the one before
    dropped) packed into one pass of at most `limit` tokens; each chunk's vector is the mean over its own
    tokens, overlap included, inside that pass."""
    import torch

    st = emb.model
    tok = st.tokenizer
    bert = st[0].auto_model
    words = [t.split() for t in texts]
    parts: list[tuple[list[int], list[int]]] = []  # per chunk: its tokens after the overlap, the overlap's
    for i, w in enumerate(words):
        n = overlap_words(texts[i - 1], texts[i]) if i else 0
        lead = tok(" ".join(w[:n]), add_special_tokens=False)["input_ids"] if n else []
        parts.append((tok(" ".join(w[n:]), add_special_tokens=False)["input_ids"], lead))
    out = np.zeros((len(texts), bert.config.hidden_size), dtype=np.float32)
    i = 0
    while i < len(texts):
        seq: list[int] = []
        spans = []
        j = i
        while j < len(texts) and (j == i or len(seq) + len(parts[j][0]) <= limit):
            if j == i:
                seq += parts[j][1]
            start = len(seq) - len(parts[j][1])
            seq += parts[j][0][: limit - len(seq)]
            spans.append((j, start, len(seq)))
            j += 1
        ids = [tok.cls_token_id, *seq, tok.sep_token_id]
        with torch.inference_mode():
            h = bert(input_ids=torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long))[0][0]
        for k, a, b in spans:
            v = h[1 + a : 1 + b].mean(0).numpy()
            out[k] = v / np.linalg.norm(v)
        i = j
    return out


def main() -> None:
    rows = collect()
    emb = Embedder()
    emb.model.eval()
    docs: dict[tuple[str, str], dict[str, np.ndarray]] = {}
    for r in rows:
        key = (r["set"], r["doc"])
        if key in docs:
            continue
        docs[key] = {f"late {c}": late_vectors(emb, r["texts"], c) for c in CONTEXTS}
        docs[key]["packed 510"] = packed_vectors(emb, r["texts"])
        docs[key]["packed 300"] = packed_vectors(emb, r["texts"], 300)
        print(f"{key[0]} {key[1]}: {len(r['texts'])} chunks", flush=True)
    res: dict = {}
    names: list[str] = []
    for r in rows:
        vecs = {"stored": r["vecs"], **docs[(r["set"], r["doc"])]}
        for mix in (0.5,):
            for c in [*(f"late {c}" for c in CONTEXTS[1:]), "packed 510"]:
                v = mix * vecs["stored"] + (1 - mix) * vecs[c]
                vecs[f"stored+{c}"] = v / np.linalg.norm(v, axis=1, keepdims=True)
        orders = {}
        for name, v in vecs.items():
            d = v @ r["qv"]
            orders[f"dense {name}"] = np.argsort(-d)
            orders[f"hybrid {name}"] = zfuse(d, r["kw"])
        for name, order in orders.items():
            if name not in names:
                names.append(name)
            passages = [r["texts"][i] for i in order[:30]]
            for b in BUDGETS:
                res.setdefault((r["set"], r["group"], name, b), []).append(
                    evidence_recall(r["evidence"], take_words(passages, b)))
    print_recall_table(res, names, width=24)

if __name__ == "__main__":
    main()
