"""Varlen flash attention (prefill): packed sequences, GQA, causal aligned to the end of the keys.

Query i of a sequence with lq queries and lk keys sees keys j <= i + lk - lq, so the same kernel serves a
whole-prompt prefill (lq == lk) and a prefill chunk whose keys include earlier context. Rows that see no key
(only possible when lq > lk) output zeros. The Triton kernel `_attn_fwd` also reads K/V from the paged
cache (PAGED=True) for `paged_prefill_attention`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from longlens.kernels.softmax_scale import LOG2E, softmax_scale

from ._triton_utils import LazyKernel


def attend_one_torch(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool, sm_scale: float
) -> torch.Tensor:
    """One sequence: q [lq, Hq, D], k/v [lk, Hkv, D] -> [lq, Hq, D] via torch SDPA (GQA, end-aligned mask).

    SDPA gets 4-D [1, H, L, D] inputs: on a CPU, 3-D ones fall back to the unfused math path (a 449-token
    prefill: 10 ms per layer instead of 3)."""
    lq, hq, d = q.shape
    lk, hk = k.shape[:2]
    if lq == 0 or lk == 0:
        return torch.zeros_like(q)
    group = hq // hk
    kh, vh = k.transpose(0, 1).to(q.dtype), v.transpose(0, 1).to(q.dtype)
    if not causal or lq == 1:
        # every query sees every key: fold the GQA group into the query axis, no K/V expansion (fast decode)
        qg = q.view(lq, hk, group, d).permute(1, 2, 0, 3).reshape(hk, group * lq, d)
        out = F.scaled_dot_product_attention(qg[None], kh[None], vh[None], scale=sm_scale)[0]
        return out.view(hk, group, lq, d).permute(2, 0, 1, 3).reshape(lq, hq, d)
    if group > 1:  # CUDA fused SDPA backends may not take enable_gqa: expand there; CPU handles GQA itself
        if q.is_cuda:
            kh, vh = kh.repeat_interleave(group, 0), vh.repeat_interleave(group, 0)
    gqa = group > 1 and not q.is_cuda
    qh = q.transpose(0, 1)
    if lq == lk:
        out = F.scaled_dot_product_attention(qh[None], kh[None], vh[None], is_causal=True, scale=sm_scale,
                                             enable_gqa=gqa)[0]
        return out.transpose(0, 1)
    i = torch.arange(lq, device=q.device)[:, None]
    j = torch.arange(lk, device=q.device)[None, :]
    mask = j <= i + (lk - lq)
    out = F.scaled_dot_product_attention(
        qh[None], kh[None], vh[None], attn_mask=mask, scale=sm_scale, enable_gqa=gqa
    )[0].transpose(0, 1)
    if lq > lk:  # rows with no visible key: zeros, not SDPA's NaN
        out = torch.where(
            mask.any(-1)[:, None, None], out, torch.zeros((), dtype=out.dtype, device=out.device)
        )
    return out


def prefill_attention_torch(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    cu_seqlens_q: torch.Tensor,
    cu_seqlens_k: torch.Tensor,
    max_seqlen_q: int,
    max_seqlen_k: int,
    causal: bool = True,
    sm_scale: float | None = None,
) -> torch.Tensor:
    """PyTorch reference: a loop over sequences, SDPA inside each."""
    scale = softmax_scale(q.shape[-1], sm_scale)
    cq, ck = cu_seqlens_q.tolist(), cu_seqlens_k.tolist()
    out = torch.empty_like(q)
    for b in range(len(cq) - 1):
        qs, qe, ks, ke = cq[b], cq[b + 1], ck[b], ck[b + 1]
        if qe > qs:
            out[qs:qe] = attend_one_torch(q[qs:qe], k[ks:ke], v[ks:ke], causal, scale)
    return out


def prefill_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    cu_seqlens_q: torch.Tensor,
    cu_seqlens_k: torch.Tensor,
    max_seqlen_q: int,
    max_seqlen_k: int,
    causal: bool = True,
    sm_scale: float | None = None,
    block_m: int | None = None,
    block_n: int | None = None,
) -> torch.Tensor:
    """Triton flash attention over packed sequences. Head dim must be a power of two (>= 16): the kernel
    holds a whole head in one tile. Grid: (query blocks, sequences, query heads)."""
    from ._triton_utils import attn_blocks, check_head_dim

    d = q.shape[-1]
    check_head_dim(d)
    if q.shape[1] % k.shape[1]:
        raise ValueError(f"q heads ({q.shape[1]}) must be a multiple of kv heads ({k.shape[1]})")
    q, k, v = (t if t.stride(-1) == 1 else t.contiguous() for t in (q, k, v))
    out = torch.empty_like(q)
    nb = cu_seqlens_q.numel() - 1
    if q.shape[0] == 0 or nb == 0 or max_seqlen_q == 0:
        return out.zero_()
    bm, bn, warps, stages = attn_blocks(d, q.element_size())
    bm, bn = block_m or bm, block_n or bn
    scale = softmax_scale(d, sm_scale)
    grid = (triton_cdiv(max_seqlen_q, bm), nb, q.shape[1])
    launch_attn(
        grid,
        q,
        k,
        v,
        out,
        cu_seqlens_q,
        cu_seqlens_k,
        None,
        None,
        0,
        0,
        0,
        scale,
        causal,
        (bm, bn, warps, stages),
    )
    return out


def triton_cdiv(a: int, b: int) -> int:
    return -(-a // b)


def launch_attn(grid, q, k, v, out, cu_q, cu_k, ctx_lens, block_tables, skb, svb, page, scale, causal, cfg):
    """Shared launcher for dense (block_tables None) and paged K/V; cfg = attn_blocks(...)."""
    from ._triton_utils import upcast_flag

    paged = block_tables is not None
    bm, bn, warps, stages = cfg
    _attn_fwd[grid](
        q,
        k,
        v,
        out,
        cu_q,
        cu_k if not paged else cu_q,
        ctx_lens if paged else cu_q,
        block_tables if paged else cu_q,
        q.stride(0),
        q.stride(1),
        k.stride(-3),
        k.stride(-2),
        v.stride(-3),
        v.stride(-2),
        out.stride(0),
        out.stride(1),
        skb,
        svb,
        block_tables.stride(0) if paged else 0,
        page,
        scale * LOG2E,
        q.shape[1] // k.shape[-2],
        CAUSAL=causal,
        PAGED=paged,
        BLOCK_M=bm,
        BLOCK_N=bn,
        D=q.shape[-1],
        UPCAST=upcast_flag(q, k, v),
        PREC="ieee" if q.dtype == torch.float32 else "tf32",
        num_warps=warps,
        num_stages=stages,  # ignored by the interpreter
    )


online_softmax_tile = None  # bound by the kernel builder below (kernels/online_softmax.py)

def _define_kernel():
    global online_softmax_tile  # triton looks a kernel's callees up in its module's globals
    import triton
    import triton.language as tl

    from .online_softmax import online_softmax_tile

    @triton.jit
    def kernel(
        Q,
        K,
        V,
        Out,
        cu_q,
        cu_k,
        ctx_lens,
        block_tables,
        sq0,
        sq1,
        sk0,
        sk1,
        sv0,
        sv1,
        so0,
        so1,
        skb,
        svb,
        s_bt,
        page,
        scale_log2,
        GROUP,
        CAUSAL: tl.constexpr,
        PAGED: tl.constexpr,
        BLOCK_M: tl.constexpr,
        BLOCK_N: tl.constexpr,
        D: tl.constexpr,
        UPCAST: tl.constexpr,
        PREC: tl.constexpr,
    ):
        mblk = tl.program_id(0)
        b = tl.program_id(1)
        hq = tl.program_id(2)
        hk = hq // GROUP
        q_start = tl.load(cu_q + b)
        lq = tl.load(cu_q + b + 1) - q_start
        if PAGED:
            k_start = 0
            lk = tl.load(ctx_lens + b)
        else:
            k_start = tl.load(cu_k + b)
            lk = tl.load(cu_k + b + 1) - k_start
        if mblk * BLOCK_M >= lq:
            return
        offs_m = mblk * BLOCK_M + tl.arange(0, BLOCK_M)
        offs_d = tl.arange(0, D)
        m_ok = offs_m < lq
        q_rows = (q_start + offs_m).to(tl.int64)
        q = tl.load(Q + q_rows[:, None] * sq0 + hq * sq1 + offs_d[None, :], mask=m_ok[:, None], other=0.0)
        if UPCAST:
            q = q.to(tl.float32)
        m_i = tl.full([BLOCK_M], -1.0e30, dtype=tl.float32)
        l_i = tl.zeros([BLOCK_M], dtype=tl.float32)
        acc = tl.zeros([BLOCK_M, D], dtype=tl.float32)
        hi = lk
        if CAUSAL:
            hi = tl.minimum(lk, (mblk + 1) * BLOCK_M + lk - lq)
        for start_n in range(0, hi, BLOCK_N):
            offs_n = start_n + tl.arange(0, BLOCK_N)
            n_ok = offs_n < lk
            if PAGED:
                phys = tl.load(block_tables + b * s_bt + offs_n // page, mask=n_ok, other=0).to(tl.int64)
                k_off = phys * skb + (offs_n % page) * sk0
                v_off = phys * svb + (offs_n % page) * sv0
            else:
                rows = (k_start + offs_n).to(tl.int64)
                k_off = rows * sk0
                v_off = rows * sv0
            kt = tl.load(K + k_off[None, :] + hk * sk1 + offs_d[:, None], mask=n_ok[None, :], other=0.0)
            vv = tl.load(V + v_off[:, None] + hk * sv1 + offs_d[None, :], mask=n_ok[:, None], other=0.0)
            if UPCAST:
                kt = kt.to(tl.float32)
                vv = vv.to(tl.float32)
            valid = n_ok[None, :]
            if CAUSAL:
                valid = valid & (offs_n[None, :] <= offs_m[:, None] + (lk - lq))
            m_i, l_i, acc = online_softmax_tile(q, kt, vv, valid, m_i, l_i, acc, scale_log2, PREC)
        out = acc / tl.where(l_i == 0.0, 1.0, l_i)[:, None]
        tl.store(
            Out + q_rows[:, None] * so0 + hq * so1 + offs_d[None, :],
            out.to(Out.dtype.element_ty),
            mask=m_ok[:, None],
        )

    return kernel


_attn_fwd = LazyKernel(_define_kernel)
