"""Vertical-slash sparse prefill attention: one sequence, GQA, causal aligned to the end of the keys.

Costs grow with the kept keys, not with lq * lk: each (query block, query head) program walks its slash
pieces (contiguous key strips, unaligned loads) and then its vertical columns (gathered keys, skipping those
already inside a strip), with one online softmax over both. Within the kept keys the result is exact, so
the PyTorch twin is plain dense attention under the same boolean mask (`vertical_slash.pattern_mask`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from longlens.kernels.softmax_scale import LOG2E, softmax_scale

from ._triton_utils import LazyKernel
from .vertical_slash import VerticalSlashIndex, VerticalSlashPattern, build_vertical_slash_index, pattern_mask


def sparse_prefill_attention_torch(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    pattern: VerticalSlashPattern,
    block_m: int = 64,
    sm_scale: float | None = None,
    rows_per_chunk: int = 512,
) -> torch.Tensor:
    """Dense SDPA under the pattern's mask, a few query blocks at a time (bounded memory at 8k+ keys).

    q [lq, Hq, D], k/v [lk, Hkv, D] (lq <= lk); rows that see no key give zeros.
    """
    lq, hq, d = q.shape
    lk, hk = k.shape[:2]
    scale = softmax_scale(d, sm_scale)
    out = torch.zeros_like(q)
    if lq == 0 or lk == 0:
        return out
    kh, vh = k.transpose(0, 1).to(q.dtype), v.transpose(0, 1).to(q.dtype)
    group = hq // hk
    if group > 1 and q.is_cuda:  # fused CUDA backends may not take enable_gqa
        kh, vh = kh.repeat_interleave(group, 0), vh.repeat_interleave(group, 0)
    gqa = group > 1 and not q.is_cuda
    step = max(block_m, rows_per_chunk // block_m * block_m)
    for r0 in range(0, lq, step):
        r1 = min(lq, r0 + step)
        rows = torch.arange(r0, r1, device=q.device)
        kend = r1 + lk - lq  # later keys are causally masked for these rows
        mask = pattern_mask(pattern, rows, lq, lk, block_m, key_end=kend)  # [Hq, R, kend]
        o = F.scaled_dot_product_attention(
            q[rows].transpose(0, 1), kh[:, :kend], vh[:, :kend], attn_mask=mask, scale=scale, enable_gqa=gqa
        ).transpose(0, 1)
        seen = mask.any(-1).transpose(0, 1)[..., None]  # [R, Hq, 1]
        out[rows] = torch.where(seen, o, torch.zeros((), dtype=o.dtype, device=o.device))
    return out


def sparse_prefill_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    pattern: VerticalSlashPattern,
    block_m: int = 64,
    sm_scale: float | None = None,
    block_n: int | None = None,
    num_warps: int | None = None,
    num_stages: int | None = None,
    index: VerticalSlashIndex | None = None,
) -> torch.Tensor:
    """Triton kernel over the pattern's block index (built on the device). Grid: (query blocks, query heads).

    `block_m` is part of the pattern's meaning (slash strips are block_m rows tall): pass the same value to
    the reference. Head dim must be a power of two >= 16. `index` (built with the same block_m/block_n) lets
    a benchmark time the kernel apart from the index building.
    """
    from ._triton_utils import check_head_dim, upcast_flag

    lq, hq, d = q.shape
    lk, hk = k.shape[:2]
    check_head_dim(d)
    if hq % hk:
        raise ValueError(f"q heads ({hq}) must be a multiple of kv heads ({hk})")
    if lq > lk:
        raise ValueError(f"sparse prefill needs lq <= lk, got {lq} > {lk}")
    q, k, v = (t if t.stride(-1) == 1 else t.contiguous() for t in (q, k, v))
    out = torch.empty_like(q)
    if lq == 0:
        return out
    if block_n is None:
        block_n = default_block_n()
    if num_warps is None:
        num_warps = 4 if d <= 64 or q.element_size() >= 4 else 8
    idx = index if index is not None else build_vertical_slash_index(pattern, lq, lk, block_m, block_n)
    scale = softmax_scale(d, sm_scale)
    grid = (-(-lq // block_m), hq)
    _sparse_fwd[grid](
        q, k, v, out,
        idx.cols, idx.col_hi, idx.piece_start, idx.piece_end, idx.piece_lo, idx.piece_hi, idx.covered,
        q.stride(0), q.stride(1), k.stride(0), k.stride(1), v.stride(0), v.stride(1), out.stride(0), out.stride(1),
        idx.cols.stride(0), idx.col_hi.stride(0), idx.piece_start.stride(0), idx.piece_lo.stride(0),
        idx.covered.stride(0),
        lq, lk, scale * LOG2E, hq // hk,
        BLOCK_M=block_m, BLOCK_N=block_n, D=d,
        UPCAST=upcast_flag(q, k, v), PREC="ieee" if q.dtype == torch.float32 else "tf32",
        num_warps=num_warps, num_stages=num_stages or 2,
    )
    return out


def default_block_n() -> int:
    """Key tile of the kernel: small under the interpreter (its cost grows with tile area)."""
    from ._triton_utils import is_interpreting

    return 32 if is_interpreting() else 64


def _define_kernel():
    global online_softmax_tile, _load_kv  # triton looks a kernel's callees up in its module's globals
    import triton
    import triton.language as tl

    from .online_softmax import online_softmax_tile

    @triton.jit
    def _load_kv(K, V, rows, n_ok, hk, sk0, sk1, sv0, sv1, offs_d, UPCAST: tl.constexpr):
        """K transposed [D, N] and V [N, D] of the key rows `rows` (masked by n_ok)."""
        kt = tl.load(K + rows[None, :] * sk0 + hk * sk1 + offs_d[:, None], mask=n_ok[None, :], other=0.0)
        vv = tl.load(V + rows[:, None] * sv0 + hk * sv1 + offs_d[None, :], mask=n_ok[:, None], other=0.0)
        if UPCAST:
            kt = kt.to(tl.float32)
            vv = vv.to(tl.float32)
        return kt, vv

    @triton.jit
    def kernel(
        Q, K, V, Out,
        cols, col_hi, p_start, p_end, p_lo, p_hi, covered,
        sq0, sq1, sk0, sk1, sv0, sv1, so0, so1,
        s_cols, s_chi, s_p, s_plo, s_cov,
        lq, lk, scale_log2, GROUP,
        BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, D: tl.constexpr,
        UPCAST: tl.constexpr, PREC: tl.constexpr,
    ):
        mblk = tl.program_id(0)
        h = tl.program_id(1)
        hk = h // GROUP
        base = mblk * BLOCK_M + (lk - lq)  # key position of the block's first query
        offs_m = mblk * BLOCK_M + tl.arange(0, BLOCK_M)
        pos_m = offs_m + (lk - lq)
        offs_d = tl.arange(0, D)
        m_ok = offs_m < lq
        q_rows = offs_m.to(tl.int64)
        q = tl.load(Q + q_rows[:, None] * sq0 + h * sq1 + offs_d[None, :], mask=m_ok[:, None], other=0.0)
        if UPCAST:
            q = q.to(tl.float32)
        m_i = tl.full([BLOCK_M], -1.0e30, dtype=tl.float32)
        l_i = tl.zeros([BLOCK_M], dtype=tl.float32)
        acc = tl.zeros([BLOCK_M, D], dtype=tl.float32)
        # slash strips: contiguous keys [base + start, base + end)
        lo = tl.load(p_lo + h * s_plo + mblk)
        hi = tl.load(p_hi + h)
        for p in range(lo, hi):
            st = base + tl.load(p_start + h * s_p + p)
            en = base + tl.load(p_end + h * s_p + p)
            offs_n = st + tl.arange(0, BLOCK_N)
            n_ok = (offs_n >= 0) & (offs_n < en) & (offs_n < lk)
            rows = offs_n.to(tl.int64)
            kt, vv = _load_kv(K, V, rows, n_ok, hk, sk0, sk1, sv0, sv1, offs_d, UPCAST)
            valid = n_ok[None, :] & (offs_n[None, :] <= pos_m[:, None])
            m_i, l_i, acc = online_softmax_tile(q, kt, vv, valid, m_i, l_i, acc, scale_log2, PREC)
        # vertical columns at or before the block's last query, minus those a strip already covered
        chi = tl.load(col_hi + h * s_chi + mblk)
        for c in range(0, chi, BLOCK_N):
            offs_c = c + tl.arange(0, BLOCK_N)
            c_ok = offs_c < chi
            idx = tl.load(cols + h * s_cols + offs_c, mask=c_ok, other=0)
            cov = tl.load(covered + h * s_cov + (idx - base + lk), mask=c_ok, other=1)
            n_ok = c_ok & (cov == 0)
            rows = idx.to(tl.int64)
            kt, vv = _load_kv(K, V, rows, n_ok, hk, sk0, sk1, sv0, sv1, offs_d, UPCAST)
            valid = n_ok[None, :] & (idx[None, :] <= pos_m[:, None])
            m_i, l_i, acc = online_softmax_tile(q, kt, vv, valid, m_i, l_i, acc, scale_log2, PREC)
        out = acc / tl.where(l_i == 0.0, 1.0, l_i)[:, None]
        tl.store(
            Out + q_rows[:, None] * so0 + h * so1 + offs_d[None, :],
            out.to(Out.dtype.element_ty),
            mask=m_ok[:, None],
        )

    return kernel


online_softmax_tile = None  # bound by _define_kernel (kernels/online_softmax.py)
_load_kv = None  # bound by _define_kernel (the jitted K/V tile load)
_sparse_fwd = LazyKernel(_define_kernel)
