"""Float64 loop implementations the references are checked against (small inputs only)."""

from __future__ import annotations

import math

import torch


def naive_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool, scale: float | None = None
):
    """q [lq, Hq, D], k/v [lk, Hkv, D]; end-aligned causal mask; rows with no key are zeros."""
    lq, hq, d = q.shape
    lk, hk = k.shape[:2]
    scale = scale if scale is not None else 1.0 / math.sqrt(d)
    out = torch.zeros(lq, hq, d, dtype=torch.float64)
    for h in range(hq):
        kh, vh = k[:, h // (hq // hk)].double(), v[:, h // (hq // hk)].double()
        for i in range(lq):
            n = min(lk, i + lk - lq + 1) if causal else lk
            if n <= 0:
                continue
            s = (q[i, h].double() @ kh[:n].T) * scale
            out[i, h] = torch.softmax(s, 0) @ vh[:n]
    return out


def make_paged(ks: list[torch.Tensor], vs: list[torch.Tensor], block_size: int, gen: torch.Generator):
    """Scatter per-sequence K/V [n, Hkv, D] into a shuffled paged cache -> (k_cache, v_cache, tables)."""
    hk, d = ks[0].shape[1:]
    need = [max(1, -(-k.shape[0] // block_size)) for k in ks]
    max_blocks = max(need) + 1
    nblocks = sum(need) + 3
    perm = torch.randperm(nblocks, generator=gen)
    k_cache = torch.randn(nblocks, block_size, hk, d, generator=gen).to(ks[0].dtype)  # garbage where unused
    v_cache = torch.randn(nblocks, block_size, hk, d, generator=gen).to(ks[0].dtype)
    tables = torch.zeros(len(ks), max_blocks, dtype=torch.int32)
    used = 0
    for b, (k, v) in enumerate(zip(ks, vs, strict=True)):
        for j in range(need[b]):
            blk = int(perm[used])
            used += 1
            tables[b, j] = blk
            seg = slice(j * block_size, min((j + 1) * block_size, k.shape[0]))
            n = seg.stop - seg.start
            if n > 0:
                k_cache[blk, :n] = k[seg]
                v_cache[blk, :n] = v[seg]
    return k_cache, v_cache, tables
