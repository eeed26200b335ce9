"""The chunk-and-pool baseline of LongEmbed: embed windows of the trained length, average, normalise.

Works at the token level (not by re-encoding decoded text) so that every window holds exactly the tokens it
claims and a text that fits one window gets the same embedding as plain encoding.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch


def split_windows(n_tokens: int, size: int, overlap: int = 0) -> list[tuple[int, int]]:
    """[start, end) spans of at most `size` tokens, consecutive spans sharing `overlap` tokens."""
    if size <= 0 or not 0 <= overlap < size:
        raise ValueError(f"need size > 0 and 0 <= overlap < size, got size={size} overlap={overlap}")
    if n_tokens <= size:
        return [(0, n_tokens)]
    step = size - overlap
    spans = []
    start = 0
    while True:
        end = min(start + size, n_tokens)
        spans.append((start, end))
        if end == n_tokens:
            return spans
        start += step


def special_tokens(tokenizer: Any) -> tuple[list[int], list[int]]:
    """The ids the tokenizer puts before and after the content of a single text ([CLS] / [SEP] for BERT)."""
    bare = tokenizer("longlens", add_special_tokens=False)["input_ids"]
    full = tokenizer("longlens")["input_ids"]
    for k in range(len(full) - len(bare) + 1):
        if full[k : k + len(bare)] == bare:
            return full[:k], full[k + len(bare) :]
    raise ValueError("cannot locate the content inside the tokenizer's special tokens")


def window_token_ids(
    tokenizer: Any, texts: list[str], window: int, overlap: int = 0, max_tokens: int | None = None
) -> list[list[list[int]]]:
    """Per text, its windows as full input-id lists (special tokens included, each at most `window` long)."""
    prefix, suffix = special_tokens(tokenizer)
    size = window - len(prefix) - len(suffix)
    out = []
    for ids in tokenizer(list(texts), add_special_tokens=False, verbose=False)["input_ids"]:
        ids = ids[:max_tokens] if max_tokens else ids
        out.append([prefix + ids[a:b] + suffix for a, b in split_windows(len(ids), size, overlap)])
    return out


@torch.inference_mode()
def embed_token_windows(st: Any, windows: list[list[int]], batch_size: int = 32) -> np.ndarray:
    """Run the SentenceTransformer pipeline (transformer, pooling, normalize) on ready token-id lists."""
    tok = st.tokenizer
    order = sorted(range(len(windows)), key=lambda i: -len(windows[i]))
    vecs: list[np.ndarray] = [np.empty(0)] * len(windows)
    device = st.device
    for a in range(0, len(order), batch_size):
        idx = order[a : a + batch_size]
        feats = tok.pad({"input_ids": [windows[i] for i in idx]}, return_tensors="pt")
        feats = {k: v.to(device) for k, v in feats.items() if k in ("input_ids", "attention_mask")}
        emb = st.forward(feats)["sentence_embedding"].float().cpu().numpy()
        for i, row in zip(idx, emb, strict=True):
            vecs[i] = row
    return np.stack(vecs) if vecs else np.zeros((0, 0), dtype=np.float32)


def pool_windows(embeddings: np.ndarray, weights: list[int]) -> np.ndarray:
    """Token-count-weighted mean of window embeddings, L2-normalised."""
    w = np.asarray(weights, dtype=np.float64)[:, None]
    mean = (embeddings.astype(np.float64) * w).sum(0) / w.sum()
    return (mean / max(np.linalg.norm(mean), 1e-12)).astype(np.float32)


def encode_windows(
    st: Any,
    texts: list[str],
    window: int,
    overlap: int = 0,
    batch_size: int = 32,
    max_tokens: int | None = None,
) -> np.ndarray:
    """Embed each text as the pooled embedding of its windows: [len(texts), dim] unit vectors."""
    per_text = window_token_ids(st.tokenizer, texts, window, overlap, max_tokens)
    prefix, suffix = special_tokens(st.tokenizer)
    n_special = len(prefix) + len(suffix)
    flat = [w for wins in per_text for w in wins]
    emb = embed_token_windows(st, flat, batch_size)
    out, k = [], 0
    for wins in per_text:
        out.append(pool_windows(emb[k : k + len(wins)], [max(1, len(w) - n_special) for w in wins]))
        k += len(wins)
    return np.stack(out)
