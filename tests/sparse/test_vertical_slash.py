"""Estimation and index building of the vertical-slash pattern, in plain torch (no interpreter needed)."""

from __future__ import annotations

import math

import pytest
import torch

from longlens.kernels import prefill_attention, sparse_prefill
from longlens.kernels import vertical_slash as vs


def _random_pattern(g: torch.Generator, h: int, lk: int, nv: int, ns: int) -> vs.VerticalSlashPattern:
    """Distinct random verticals/slashes per head, a few slots unused (-1)."""
    vert = torch.stack([torch.randperm(lk, generator=g)[:nv] for _ in range(h)])
    slash = torch.stack([torch.randperm(lk, generator=g)[:ns] for _ in range(h)])
    vert[:, -1] = -1
    slash[:, 0] = -1
    return vs.VerticalSlashPattern(vert, slash)


def _mask_from_index(idx: vs.VerticalSlashIndex, lq: int, lk: int, bm: int) -> torch.Tensor:
    """What the kernel visits, walked in Python the way the kernel walks it."""
    h = idx.cols.shape[0]
    mask = torch.zeros(h, lq, lk, dtype=torch.bool)
    for hh in range(h):
        for m in range(-(-lq // bm)):
            base = m * bm + lk - lq
            rows = torch.arange(m * bm, min(lq, m * bm + bm))
            seen = torch.zeros(lk, dtype=torch.bool)
            for p in range(int(idx.piece_lo[hh, m]), int(idx.piece_hi[hh])):
                st, en = base + int(idx.piece_start[hh, p]), base + int(idx.piece_end[hh, p])
                assert en - st >= 1 and en > 0
                seen[max(st, 0) : min(en, lk)] = True
            for c in idx.cols[hh, : int(idx.col_hi[hh, m])].tolist():
                if not idx.covered[hh, c - base + lk]:
                    assert not seen[c], "a column inside a strip would be counted twice"
                    seen[c] = True
            causal = torch.arange(lk)[None, :] <= (rows + lk - lq)[:, None]
            mask[hh, rows] = seen[None, :] & causal
    return mask


@pytest.mark.parametrize("lq,lk,bm,bn,nv,ns", [
    (70, 70, 16, 16, 9, 7),  # not a multiple of the block
    (45, 100, 16, 32, 12, 20),  # chunk over earlier context, pieces longer than a strip
    (64, 64, 32, 16, 5, 30),  # strips cut in two pieces, many merged slashes
    (1, 9, 16, 16, 3, 3),  # a single query
])
def test_index_visits_exactly_the_pattern(lq, lk, bm, bn, nv, ns):
    g = torch.Generator().manual_seed(lq * 1000 + lk)
    pat = _random_pattern(g, 3, lk, nv, ns)
    idx = vs.build_vertical_slash_index(pat, lq, lk, bm, bn)
    assert (idx.piece_end[:, :-1] <= idx.piece_start[:, 1:]).all()  # disjoint, ascending
    want = vs.pattern_mask(pat, torch.arange(lq), lq, lk, bm)
    assert torch.equal(_mask_from_index(idx, lq, lk, bm), want)


def test_pattern_mask_semantics():
    """Slash s at block granularity: all rows of a query block see the strip [base - s, base - s + bm)."""
    pat = vs.VerticalSlashPattern(torch.tensor([[2, -1]]), torch.tensor([[0, 5]]))
    m = vs.pattern_mask(pat, torch.arange(16), 16, 16, 4)[0]
    assert m[9].nonzero().flatten().tolist() == [2, 3, 4, 5, 6, 8, 9]  # col 2, strip 3..6, diagonal block 8..9
    assert not m[1, 2] and m[2, 2]  # causal even for a vertical


def test_diagonal_sums():
    g = torch.Generator().manual_seed(0)
    a = torch.rand(2, 5, 13, generator=g)
    want = torch.zeros(2, 13)
    for r in range(5):
        for j in range(13):
            s = 13 - 5 + r - j
            if s >= 0:
                want[:, s] += a[:, r, j]
    torch.testing.assert_close(vs.diagonal_sums(a), want)


def test_dense_pattern_reference_is_dense_attention():
    g = torch.Generator().manual_seed(1)
    q = torch.randn(37, 6, 32, generator=g)
    k, v = torch.randn(50, 2, 32, generator=g), torch.randn(50, 2, 32, generator=g)
    out = sparse_prefill.sparse_prefill_attention_torch(q, k, v, vs.dense_pattern(6, 50), block_m=16, rows_per_chunk=16)
    cu_q, cu_k = torch.tensor([0, 37], dtype=torch.int32), torch.tensor([0, 50], dtype=torch.int32)
    torch.testing.assert_close(out, prefill_attention.prefill_attention_torch(q, k, v, cu_q, cu_k, 37, 50))


def test_budgets_by_length_and_forced_sink_and_local():
    cfg = vs.VerticalSlashConfig(last_q=8, sink=3, local=5, vertical_min=6, slash_min=7, vertical_max=20, slash_max=20,
                                 vertical_frac=1 / 8, slash_frac=1 / 8, block_m=16)
    assert cfg.budgets(40) == (6, 7) and cfg.budgets(128) == (16, 16) and cfg.budgets(1000) == (20, 20)
    assert cfg.budgets(4) == (4, 4)
    g = torch.Generator().manual_seed(2)
    q, k = torch.randn(40, 4, 16, generator=g), torch.randn(40, 2, 16, generator=g)
    pat = vs.estimate_vertical_slash(q, k, cfg)
    assert pat.vertical.shape == (4, 6) and pat.slash.shape == (4, 7)
    for h in range(4):
        assert {0, 1, 2} <= set(pat.vertical[h].tolist())
        assert {0, 1, 2, 3, 4} <= set(pat.slash[h].tolist())


def test_coverage_trims_concentrated_heads():
    cfg = vs.VerticalSlashConfig(last_q=16, sink=1, local=1, vertical_min=32, slash_min=32, coverage=0.9, block_m=16)
    q = torch.zeros(64, 1, 16)
    k = torch.zeros(64, 1, 16)
    q[:, 0, 0], k[0, 0, 0] = 10.0, 10.0  # every query looks at key 0 only
    pat = vs.estimate_vertical_slash(q, k, cfg)
    assert (pat.vertical >= 0).sum() < 4 and 0 in pat.vertical.tolist()[0]


def _structured(g: torch.Generator, n: int, hq: int, hk: int, d: int) -> tuple[torch.Tensor, torch.Tensor]:
    """q/k whose attention has a sink, a strong local diagonal (RoPE of shared content) and a few hot keys."""
    from longlens.kernels.rotary import apply_rotary_torch, build_cos_sin_cache, rope_inv_freq

    content = torch.randn(hk, d, generator=g)
    k = content[None].expand(n, hk, d) * 1.2 + 0.3 * torch.randn(n, hk, d, generator=g)
    q = content.repeat_interleave(hq // hk, 0)[None].expand(n, hq, d) * 1.2 + 0.3 * torch.randn(n, hq, d, generator=g)
    inv, _ = rope_inv_freq(d, 1000.0, None, n)
    q, k = apply_rotary_torch(q, k, torch.arange(n), build_cos_sin_cache(inv, n))
    hot = torch.randperm(n - 1, generator=g)[:6] + 1
    u = torch.randn(d, generator=g)
    u /= u.norm()
    k[:4] += 6.0 * u  # attention sink
    k[hot] += 5.0 * u
    q += 1.5 * u
    return q * 2.5, k  # sharp attention, as trained heads have


def test_estimated_pattern_recalls_most_attention_mass():
    g = torch.Generator().manual_seed(3)
    n, hq, hk, d = 1024, 4, 2, 32
    q, k = _structured(g, n, hq, hk, d)
    cfg = vs.VerticalSlashConfig(last_q=64, sink=4, local=16, vertical_min=64, slash_min=32, block_m=16)
    pat = vs.estimate_vertical_slash(q, k, cfg)
    scores = torch.einsum("qhd,khd->hqk", q, k.repeat_interleave(hq // hk, 1)) / math.sqrt(d)
    causal = torch.ones(n, n, dtype=torch.bool).tril()
    probs = torch.softmax(scores.masked_fill(~causal, float("-inf")), -1)
    mask = vs.pattern_mask(pat, torch.arange(n), n, n, cfg.block_m)
    recall = (probs * mask).sum((-1, -2)) / n  # per head
    kept = mask.sum((-1, -2)).float() / causal.sum()
    assert kept.max() < 0.25, kept  # genuinely sparse
    assert recall.min() > 0.97, recall
    # the same number of random verticals/slashes recalls far less: the estimate is doing the work
    rnd = _random_pattern(g, hq, n, pat.vertical.shape[1], pat.slash.shape[1])
    rmask = vs.pattern_mask(rnd, torch.arange(n), n, n, cfg.block_m)
    assert ((probs * rmask).sum((-1, -2)) / n).mean() < recall.mean() - 0.2
