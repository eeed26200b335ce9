"""The PyTorch references (the engine's CPU path) against float64 loops."""

from __future__ import annotations

import torch

from longlens.kernels import kv_cache, paged_attention, prefill_attention, rmsnorm, rotary

from ._naive import make_paged, naive_attention

TOL = {"atol": 1e-5, "rtol": 1e-5}


def _cu(lens: list[int]) -> torch.Tensor:
    return torch.tensor([0, *torch.tensor(lens).cumsum(0).tolist()], dtype=torch.int32)


def test_prefill_ref_matches_naive():
    g = torch.Generator().manual_seed(0)
    lq, lk = [5, 1, 0, 9, 4], [5, 7, 3, 9, 2]  # equal, chunk over context, empty, lq > lk
    hq, hk, d = 6, 2, 16
    q = torch.randn(sum(lq), hq, d, generator=g)
    k = torch.randn(sum(lk), hk, d, generator=g)
    v = torch.randn(sum(lk), hk, d, generator=g)
    cq, ck = _cu(lq), _cu(lk)
    for causal in (True, False):
        out = prefill_attention.prefill_attention_torch(q, k, v, cq, ck, max(lq), max(lk), causal=causal)
        for b in range(len(lq)):
            sq, sk = slice(cq[b], cq[b + 1]), slice(ck[b], ck[b + 1])
            exp = naive_attention(q[sq], k[sk], v[sk], causal)
            torch.testing.assert_close(out[sq].double(), exp, **TOL)


def test_paged_refs_match_naive():
    g = torch.Generator().manual_seed(1)
    hq, hk, d, bs = 9, 3, 16, 4
    lens = [0, 1, 4, 5, 11]
    ks = [torch.randn(n, hk, d, generator=g) for n in lens]
    vs = [torch.randn(n, hk, d, generator=g) for n in lens]
    kc, vc, bt = make_paged(ks, vs, bs, g)
    cl = torch.tensor(lens, dtype=torch.int32)
    q = torch.randn(len(lens), hq, d, generator=g)
    out = paged_attention.paged_decode_attention_torch(q, kc, vc, bt, cl)
    assert not out.isnan().any() and out[0].abs().max() == 0
    for b in range(1, len(lens)):
        torch.testing.assert_close(
            out[b].double(), naive_attention(q[b : b + 1], ks[b], vs[b], False)[0], **TOL
        )
    lq = [0, 1, 2, 5, 3]
    cq = _cu(lq)
    qp = torch.randn(sum(lq), hq, d, generator=g)
    outp = paged_attention.paged_prefill_attention_torch(qp, kc, vc, bt, cq, cl)
    for b in range(len(lens)):
        sq = slice(cq[b], cq[b + 1])
        torch.testing.assert_close(outp[sq].double(), naive_attention(qp[sq], ks[b], vs[b], True), **TOL)


def test_rms_norm_ref():
    g = torch.Generator().manual_seed(2)
    x, r, w = (torch.randn(7, 48, generator=g) for _ in range(3))
    w = w[0]
    xd = x.double()
    exp = xd / torch.sqrt(xd.pow(2).mean(-1, keepdim=True) + 1e-6) * w.double()
    torch.testing.assert_close(rmsnorm.rms_norm_torch(x, w, 1e-6).double(), exp, **TOL)
    out, res = rmsnorm.rms_norm_torch(x, w, 1e-6, residual=r)
    torch.testing.assert_close(res, x + r)
    torch.testing.assert_close(out, rmsnorm.rms_norm_torch(x + r, w, 1e-6))


def test_rotary_ref_matches_complex_rotation():
    g = torch.Generator().manual_seed(3)
    d = 32
    inv, s = rotary.rope_inv_freq(d, 10000.0, None, 64)
    cache = rotary.build_cos_sin_cache(inv, 64, s)
    q, k = torch.randn(5, 3, d, generator=g), torch.randn(5, 1, d, generator=g)
    pos = torch.tensor([0, 1, 17, 63, 2])
    qo, ko = rotary.apply_rotary_torch(q, k, pos, cache)
    ang = pos.double()[:, None] * inv.double()[None, :]
    z = (
        torch.complex(q[..., : d // 2].double(), q[..., d // 2 :].double())
        * torch.polar(torch.ones_like(ang), ang)[:, None]
    )
    torch.testing.assert_close(qo.double(), torch.cat([z.real, z.imag], -1), **TOL)
    assert not torch.equal(ko, k)
    torch.testing.assert_close(qo[0], q[0])  # position 0 is the identity


def test_store_kv_cache_ref():
    g = torch.Generator().manual_seed(4)
    kc = torch.randn(4, 4, 2, 8, generator=g)
    vc = kc.clone()
    k, v = torch.randn(3, 2, 8, generator=g), torch.randn(3, 2, 8, generator=g)
    before = kc.clone()
    kv_cache.store_kv_cache_torch(k, v, kc, vc, torch.tensor([5, -1, 15]))
    torch.testing.assert_close(kc[1, 1], k[0])
    torch.testing.assert_close(vc[3, 3], v[2])
    changed = (kc != before).any(-1).any(-1)
    assert changed.sum() == 2


def test_gather_kv_views_consecutive_blocks_and_copies_scattered_ones():
    from longlens.kernels.paged_attention import gather_kv

    g = torch.Generator().manual_seed(5)
    cache = torch.randn(12, 4, 2, 8, generator=g)
    flat = cache.reshape(-1, 2, 8)
    consecutive = torch.tensor([3, 4, 5, 0], dtype=torch.int32)  # 10 tokens fill blocks 3, 4 and half of 5
    out = gather_kv(cache, consecutive, 10)
    torch.testing.assert_close(out, flat[12:22])
    assert out.data_ptr() == cache[3].data_ptr()  # a view: no copy per layer per step
    scattered = torch.tensor([7, 2, 9], dtype=torch.int32)
    out = gather_kv(cache, scattered, 9)
    torch.testing.assert_close(out, torch.cat([flat[28:32], flat[8:12], flat[36:37]]))
    assert gather_kv(cache, consecutive, 0).shape == (0, 2, 8)


def test_rotary_tables_give_apply_rotary_ref_bit_for_bit():
    """The CPU engine's once-per-step tables, q and k heads rotated as one tensor: same bits as the ref."""
    g = torch.Generator().manual_seed(6)
    d, hq, hk = 32, 6, 2
    inv, s = rotary.rope_inv_freq(d, 10000.0, {"rope_type": "yarn", "factor": 4.0}, 64)
    cache = rotary.build_cos_sin_cache(inv, 256, s)
    qk = torch.randn(7, hq + hk, d, generator=g)
    pos = torch.tensor([0, 3, 17, 255, 2, 2, 100])
    eq, ek = rotary.apply_rotary_torch(qk[:, :hq], qk[:, hq:], pos, cache)
    out = rotary.apply_rotary_tables_torch(qk, rotary.rotary_tables_torch(pos, cache))
    assert torch.equal(out[:, :hq], eq) and torch.equal(out[:, hq:], ek)


def test_decode_ref_with_kv_spans_matches_block_tables():
    """Slices of the flat slot axis (consecutive blocks, found once per step) give the block-table result."""
    g = torch.Generator().manual_seed(7)
    hq, hk, d, bs = 9, 3, 16, 4
    kc, vc = torch.randn(10, bs, hk, d, generator=g), torch.randn(10, bs, hk, d, generator=g)
    bt = torch.tensor([[2, 3, 4, 0], [6, 0, 0, 0], [0, 0, 0, 0]], dtype=torch.int32)
    lens = [11, 3, 0]
    q = torch.randn(3, hq, d, generator=g)
    cl = torch.tensor(lens, dtype=torch.int32)
    spans = [slice(8, 19), slice(24, 27), slice(0, 0)]
    exp = paged_attention.paged_decode_attention_torch(q, kc, vc, bt, cl)
    assert torch.equal(paged_attention.paged_decode_attention_torch(q, kc, vc, bt, cl, kv_spans=spans), exp)
    one = paged_attention.paged_decode_attention_torch(q[:1], kc, vc, bt[:1], cl[:1], kv_spans=spans[:1])
    assert torch.equal(one, exp[:1])
