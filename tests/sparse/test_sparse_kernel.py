"""The Triton vertical-slash kernel (interpreter on CPU) against its PyTorch twin, on random inputs."""

from __future__ import annotations

import pytest
import torch

from longlens.kernels import ops, sparse_prefill
from longlens.kernels import vertical_slash as vs

from .conftest import DEVICE

TOL = {torch.float32: 2e-5 if DEVICE == "cpu" else 2e-3, torch.float16: 2e-3, torch.bfloat16: 2e-2}

CASES = [  # (lq, lk, Hq, Hkv, D, block_m, block_n, nv, ns, dtype)
    (70, 70, 4, 2, 32, 32, 32, 9, 6, torch.float32),  # not a multiple of the block, GQA 2
    (45, 100, 3, 1, 16, 16, 16, 12, 10, torch.float16),  # chunk over earlier context, GQA 3
    (64, 64, 2, 2, 64, 32, 16, 5, 12, torch.bfloat16),  # MHA, strips cut in two pieces, bf16 trap
    (33, 33, 7, 1, 32, 16, 32, 33, 33, torch.float32),  # dense pattern (every key kept), Qwen's 7:1 group
]


@pytest.mark.parametrize("lq,lk,hq,hk,d,bm,bn,nv,ns,dtype", CASES)
def test_kernel_matches_reference(needs_triton, lq, lk, hq, hk, d, bm, bn, nv, ns, dtype):
    g = torch.Generator().manual_seed(lq + lk + d)
    q = torch.randn(lq, hq, d, generator=g).to(DEVICE, dtype)
    k = torch.randn(lk, hk, d, generator=g).to(DEVICE, dtype)
    v = torch.randn(lk, hk, d, generator=g).to(DEVICE, dtype)
    cfg = vs.VerticalSlashConfig(last_q=16, sink=2, local=3, vertical_min=nv, slash_min=ns, block_m=bm)
    pat = vs.estimate_vertical_slash(q, k, cfg)
    pat.vertical[0, -1] = -1  # an unused slot
    out = sparse_prefill.sparse_prefill_attention(q, k, v, pat, block_m=bm, block_n=bn)
    ref = sparse_prefill.sparse_prefill_attention_torch(q.float(), k.float(), v.float(), pat, block_m=bm)
    assert not out.isnan().any()
    torch.testing.assert_close(out.float(), ref, atol=TOL[dtype], rtol=TOL[dtype])


def test_rows_without_keys_are_zero_and_ops_dispatch(needs_triton, monkeypatch):
    """A pattern with no diagonal leaves early rows blind: zeros, not NaN, on both paths."""
    g = torch.Generator().manual_seed(4)
    q, k, v = (torch.randn(40, 2, 16, generator=g).to(DEVICE) for _ in range(3))
    pat = vs.VerticalSlashPattern(torch.tensor([[20], [30]], device=DEVICE), torch.tensor([[-1], [-1]], device=DEVICE))
    ref = ops.sparse_prefill_attention(q, k, v, pat, block_m=16)
    monkeypatch.setenv("LONGLENS_FORCE_TRITON", "1")
    out = ops.sparse_prefill_attention(q, k, v, pat, block_m=16)
    assert (out[:20] == 0).all() and (out[:30, 1] == 0).all() and out[35].abs().sum() > 0
    torch.testing.assert_close(out, ref, atol=2e-5, rtol=2e-5)


def test_rejects_bad_shapes(needs_triton):
    q = torch.randn(8, 2, 16)
    pat = vs.dense_pattern(2, 4)
    with pytest.raises(ValueError, match="lq <= lk"):
        sparse_prefill.sparse_prefill_attention(q, q[:4], q[:4], pat, block_m=16)
    with pytest.raises(ValueError, match="power of two"):
        sparse_prefill.sparse_prefill_attention(torch.randn(4, 2, 24), torch.randn(4, 2, 24), torch.randn(4, 2, 24),
                                                pat, block_m=16)
