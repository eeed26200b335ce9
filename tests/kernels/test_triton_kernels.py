"""Triton kernels (through longlens.kernels.ops with LONGLENS_FORCE_TRITON=1) against the references.

On a CPU they run in the Triton interpreter: grids stay small. Inputs are random, never zeros.
"""

from __future__ import annotations

import pytest
import torch

from longlens.kernels import kv_cache, ops, paged_attention, prefill_attention, rmsnorm, rotary

from ._naive import make_paged

pytestmark = pytest.mark.usefixtures("force_triton")
TOL = {torch.float32: 2e-5, torch.float16: 2e-3, torch.bfloat16: 2e-2}
TOL_GPU_FP32 = 2e-3  # tf32-free on GPU ("ieee"), but keep headroom for accumulation order


def _tol(dtype: torch.dtype, device: str) -> dict:
    t = TOL[dtype] if not (device == "cuda" and dtype == torch.float32) else TOL_GPU_FP32
    return {"atol": t, "rtol": t}


def _cu(lens: list[int], device: str) -> torch.Tensor:
    return torch.tensor([0, *torch.tensor(lens).cumsum(0).tolist()], dtype=torch.int32, device=device)


def _rand(g: torch.Generator, *shape: int, dtype=torch.float32, device="cpu") -> torch.Tensor:
    return torch.randn(*shape, generator=g).to(dtype=dtype, device=device)


PREFILL = [  # (q lens, k lens, Hq, Hkv, D, causal, dtype)
    ([37], [37], 3, 3, 32, True, torch.float32),  # odd length, MHA
    ([1, 0, 33, 16], [1, 0, 33, 16], 9, 3, 32, True, torch.float16),  # SmolLM2 ratio, empty + length-1
    ([5, 20], [40, 20], 14, 2, 64, True, torch.float32),  # chunk over earlier context (lq < lk), ratio 7
    ([9, 2], [4, 2], 2, 1, 16, True, torch.float32),  # lq > lk: leading rows see nothing -> zeros
    ([17, 31], [17, 31], 4, 2, 64, False, torch.bfloat16),  # encoder, bf16 trap workaround
    ([64], [64], 2, 1, 128, True, torch.float16),  # head dim 128, exactly two 32-blocks
    ([130, 3], [300, 3], 2, 1, 32, True, torch.float16),  # longer chunk over context: many key blocks
]


@pytest.mark.parametrize("lq,lk,hq,hk,d,causal,dtype", PREFILL)
def test_prefill_attention(device, lq, lk, hq, hk, d, causal, dtype):
    g = torch.Generator().manual_seed(10)
    q = _rand(g, sum(lq), hq, d, dtype=dtype, device=device)
    k = _rand(g, sum(lk), hk, d, dtype=dtype, device=device)
    v = _rand(g, sum(lk), hk, d, dtype=dtype, device=device)
    args = (q, k, v, _cu(lq, device), _cu(lk, device), max(lq), max(lk))
    out = ops.prefill_attention(*args, causal=causal)
    ref = prefill_attention.prefill_attention_torch(
        *(a.float() if torch.is_tensor(a) and a.is_floating_point() else a for a in args), causal=causal
    )
    assert not out.isnan().any()
    torch.testing.assert_close(out.float(), ref, **_tol(dtype, device))


def test_prefill_rejects_non_power_of_two_head_dim(device):
    q = torch.randn(4, 2, 48, device=device)
    cu = torch.tensor([0, 4], dtype=torch.int32, device=device)
    with pytest.raises(ValueError, match="power of two"):
        ops.prefill_attention(q, q, q, cu, cu, 4, 4)


DECODE = [  # (context lens, Hq, Hkv, D, block size, num_splits, dtype)
    ([16, 15, 17, 0, 1], 9, 3, 32, 16, None, torch.float32),  # block boundary and +-1, empty, length 1
    ([100, 37], 14, 2, 64, 16, 4, torch.float16),  # ratio 7, 4 splits, uneven last split
    ([64, 9], 4, 4, 64, 8, 3, torch.bfloat16),  # MHA, bf16
    ([200], 8, 1, 128, 32, 8, torch.float16),  # head dim 128, more splits than needed at the tail
]


@pytest.mark.parametrize("lens,hq,hk,d,bs,splits,dtype", DECODE)
def test_paged_decode_attention(device, lens, hq, hk, d, bs, splits, dtype):
    g = torch.Generator().manual_seed(11)
    ks = [_rand(g, n, hk, d, dtype=dtype) for n in lens]
    vs = [_rand(g, n, hk, d, dtype=dtype) for n in lens]
    kc, vc, bt = (t.to(device) for t in make_paged(ks, vs, bs, g))
    cl = torch.tensor(lens, dtype=torch.int32, device=device)
    q = _rand(g, len(lens), hq, d, dtype=dtype, device=device)
    # the engine passes the longest context it already knows (no device sync); the test leaves some to the kernel
    out = ops.paged_decode_attention(q, kc, vc, bt, cl, num_splits=splits, max_context=max(lens) if hq % 2 else None)
    ref = paged_attention.paged_decode_attention_torch(q.float(), kc.float(), vc.float(), bt, cl)
    assert not out.isnan().any()
    torch.testing.assert_close(out.float(), ref, **_tol(dtype, device))
    assert out[cl == 0].abs().max() == 0 if (cl == 0).any() else True


PAGED_PREFILL = [  # (new tokens per sequence, total context lens, Hq, Hkv, D, block size, dtype)
    ([7, 1, 16], [7, 30, 33], 9, 3, 32, 16, torch.float32),  # fresh prompt, decode-like, chunk over context
    ([20, 0, 5], [48, 12, 5], 14, 2, 64, 16, torch.float16),  # ratio 7, a sequence with no new tokens
    ([13], [45], 6, 2, 32, 8, torch.bfloat16),
]


@pytest.mark.parametrize("lq,lens,hq,hk,d,bs,dtype", PAGED_PREFILL)
def test_paged_prefill_attention(device, lq, lens, hq, hk, d, bs, dtype):
    g = torch.Generator().manual_seed(12)
    ks = [_rand(g, n, hk, d, dtype=dtype) for n in lens]
    vs = [_rand(g, n, hk, d, dtype=dtype) for n in lens]
    kc, vc, bt = (t.to(device) for t in make_paged(ks, vs, bs, g))
    cl = torch.tensor(lens, dtype=torch.int32, device=device)
    cq = _cu(lq, device)
    q = _rand(g, sum(lq), hq, d, dtype=dtype, device=device)
    out = ops.paged_prefill_attention(q, kc, vc, bt, cq, cl, max_seqlen_q=max(lq))
    ref = paged_attention.paged_prefill_attention_torch(q.float(), kc.float(), vc.float(), bt, cq, cl)
    torch.testing.assert_close(out.float(), ref, **_tol(dtype, device))


def test_paged_prefill_agrees_with_dense_prefill(device):
    """Same tokens, two layouts: the paged kernel must equal the dense varlen kernel."""
    g = torch.Generator().manual_seed(13)
    lens, lq = [21, 9], [6, 9]
    ks = [_rand(g, n, 3, 32) for n in lens]
    vs = [_rand(g, n, 3, 32) for n in lens]
    kc, vc, bt = (t.to(device) for t in make_paged(ks, vs, 8, g))
    q = _rand(g, sum(lq), 9, 32, device=device)
    cq, ck = _cu(lq, device), _cu(lens, device)
    cl = torch.tensor(lens, dtype=torch.int32, device=device)
    paged = ops.paged_prefill_attention(q, kc, vc, bt, cq, cl)
    dense = ops.prefill_attention(
        q, torch.cat(ks).to(device), torch.cat(vs).to(device), cq, ck, max(lq), max(lens)
    )
    torch.testing.assert_close(paged, dense, **_tol(torch.float32, device))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_store_kv_cache(device, dtype):
    g = torch.Generator().manual_seed(14)
    kc = _rand(g, 6, 4, 3, 32, dtype=dtype, device=device)
    vc = _rand(g, 6, 4, 3, 32, dtype=dtype, device=device)
    k = _rand(g, 7, 3, 32, dtype=dtype, device=device)
    v = _rand(g, 7, 3, 32, dtype=dtype, device=device)
    slots = torch.tensor([0, 3, 4, -1, 23, 9, -1], dtype=torch.int64, device=device)
    kr, vr = kc.clone(), vc.clone()
    kv_cache.store_kv_cache_torch(k, v, kr, vr, slots)
    ops.store_kv_cache(k, v, kc, vc, slots)
    assert torch.equal(kc, kr) and torch.equal(vc, vr)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("hidden", [576, 37])
def test_rms_norm(device, dtype, hidden):
    g = torch.Generator().manual_seed(15)
    x = _rand(g, 5, hidden, dtype=dtype, device=device)
    r = _rand(g, 5, hidden, dtype=dtype, device=device)
    w = _rand(g, hidden, dtype=dtype, device=device)
    torch.testing.assert_close(
        ops.rms_norm(x, w, 1e-5), rmsnorm.rms_norm_torch(x, w, 1e-5), **_tol(dtype, device)
    )
    out, res = ops.rms_norm(x, w, 1e-5, residual=r)
    eout, eres = rmsnorm.rms_norm_torch(x, w, 1e-5, residual=r)
    if dtype == torch.bfloat16:  # the interpreter's fp32->bf16 cast may differ from torch's by one ulp
        torch.testing.assert_close(res, eres, atol=0, rtol=1e-2)
    else:
        assert torch.equal(res, eres)
    torch.testing.assert_close(out, eout, **_tol(dtype, device))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("hq,hk,d,partial", [(9, 3, 64, 1.0), (14, 2, 32, 1.0), (4, 2, 32, 0.5)])
def test_apply_rotary(device, dtype, hq, hk, d, partial):
    g = torch.Generator().manual_seed(16)
    scaling = {"rope_type": "linear", "factor": 2.0, "partial_rotary_factor": partial}
    inv, s = rotary.rope_inv_freq(d, 1e5, scaling, 128)
    cache = rotary.build_cos_sin_cache(inv, 128, s, dtype=dtype, device=device)
    q = _rand(g, 11, hq, d, dtype=dtype, device=device)
    k = _rand(g, 11, hk, d, dtype=dtype, device=device)
    pos = torch.randint(0, 128, (11,), generator=g).to(device)
    qo, ko = ops.apply_rotary(q, k, pos, cache)
    eq, ek = rotary.apply_rotary_torch(q, k, pos, cache)
    torch.testing.assert_close(qo, eq, **_tol(dtype, device))
    torch.testing.assert_close(ko, ek, **_tol(dtype, device))
    assert not torch.equal(qo, q)
