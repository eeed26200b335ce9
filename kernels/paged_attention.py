"""Attention over the paged KV cache `[num_blocks, block_size, Hkv, D]` with `block_tables [B, max_blocks]`.

Decode uses split-K (flash-decoding): programs (sequence, kv head, split) each cover a slice of the context
for all query heads of their GQA group (K/V read once per group), writing partial (max, sum, acc); a second
kernel merges the splits. Chunked prefill reuses the varlen flash kernel with paged K/V loads.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from longlens.kernels.softmax_scale import LOG2E, softmax_scale

from ._triton_utils import LazyKernel
from .prefill_attention import attend_one_torch, launch_attn


def gather_kv(cache: torch.Tensor, block_table: torch.Tensor, length: int) -> torch.Tensor:
    """One sequence's cached K or V as [length, Hkv, D] (index ops, no token loop).

    A sequence whose blocks are consecutive (the usual case: the block manager hands out ascending blocks)
    gets a view, not a copy; on a CPU the copy was a third of a decode step's attention time.
    """
    bs = cache.shape[1]
    nblk = -(-length // bs)
    blocks = block_table[:nblk]
    if not blocks.is_cuda and nblk > 0:
        first = int(blocks[0])
        if blocks.tolist() == list(range(first, first + nblk)):
            return cache[first : first + nblk].reshape(-1, *cache.shape[2:])[:length]
    return cache[blocks.long()].reshape(-1, *cache.shape[2:])[:length]


def paged_decode_attention_torch(
    q: torch.Tensor,
    k_cache: torch.Tensor,
    v_cache: torch.Tensor,
    block_tables: torch.Tensor,
    context_lens: torch.Tensor,
    sm_scale: float | None = None,
    num_splits: int | None = None,
    kv_spans: list[slice] | None = None,
) -> torch.Tensor:
    """PyTorch reference: gather each sequence's blocks, SDPA with its one query; empty context -> zeros.

    The query heads of a GQA group become that KV head's query rows, so K/V are never repeated; this is the
    CPU engine's decode attention, hence the direct SDPA call (half the per-layer overhead of the general path).
    `kv_spans` (per sequence, its cached tokens as a slice of the cache's flat slot axis, known to the caller
    when the blocks are consecutive) replaces the block tables: every layer then slices views, no host reads.
    """
    hq, d = q.shape[1:]
    hk = k_cache.shape[2]
    scale = softmax_scale(d, sm_scale)
    if kv_spans is not None:  # [1, Hkv, slots, D] views of the whole cache, sliced per sequence
        kt, vt = (c.view(1, -1, hk, d).transpose(1, 2) for c in (k_cache, v_cache))
        kvs = [(kt[:, :, s], vt[:, :, s]) for s in kv_spans]
    else:
        kvs = [tuple(gather_kv(c, block_tables[b], n).transpose(0, 1)[None] for c in (k_cache, v_cache))
               for b, n in enumerate(context_lens.tolist())]
    qg = q.reshape(len(q), hk, hq // hk, d)  # heads of one group are consecutive
    outs = []
    for b, (k, v) in enumerate(kvs):
        if k.shape[2] == 0:
            outs.append(q.new_zeros(1, hq, d))
            continue
        if k.dtype != q.dtype:
            k, v = k.to(q.dtype), v.to(q.dtype)
        outs.append(F.scaled_dot_product_attention(qg[b : b + 1], k, v, scale=scale).reshape(1, hq, d))
    return outs[0] if len(outs) == 1 else torch.cat(outs)


def paged_prefill_attention_torch(
    q: torch.Tensor,
    k_cache: torch.Tensor,
    v_cache: torch.Tensor,
    block_tables: torch.Tensor,
    cu_seqlens_q: torch.Tensor,
    context_lens: torch.Tensor,
    sm_scale: float | None = None,
) -> torch.Tensor:
    """PyTorch reference for chunked prefill (chunk K/V already in the cache); causal, end-aligned."""
    scale = softmax_scale(q.shape[-1], sm_scale)
    out = torch.zeros_like(q)
    cq = cu_seqlens_q.tolist()
    for b, n in enumerate(context_lens.tolist()):
        qs, qe = cq[b], cq[b + 1]
        if qe > qs and n > 0:
            k = gather_kv(k_cache, block_tables[b], n)
            v = gather_kv(v_cache, block_tables[b], n)
            out[qs:qe] = attend_one_torch(q[qs:qe], k, v, True, scale)
    return out


def paged_prefill_attention(
    q: torch.Tensor,
    k_cache: torch.Tensor,
    v_cache: torch.Tensor,
    block_tables: torch.Tensor,
    cu_seqlens_q: torch.Tensor,
    context_lens: torch.Tensor,
    sm_scale: float | None = None,
    max_seqlen_q: int | None = None,
) -> torch.Tensor:
    """Triton chunked-prefill attention (head dim a power of two >= 16). Pass `max_seqlen_q` to avoid a
    device sync."""
    from ._triton_utils import attn_blocks, check_head_dim

    d = q.shape[-1]
    check_head_dim(d)
    q = q if q.stride(-1) == 1 else q.contiguous()
    out = torch.zeros_like(q)
    nb = cu_seqlens_q.numel() - 1
    if max_seqlen_q is None:
        max_seqlen_q = int((cu_seqlens_q[1:] - cu_seqlens_q[:-1]).max().item()) if nb > 0 else 0
    if q.shape[0] == 0 or max_seqlen_q == 0:
        return out
    cfg = attn_blocks(d, q.element_size())
    scale = softmax_scale(d, sm_scale)
    grid = (-(-max_seqlen_q // cfg[0]), nb, q.shape[1])
    launch_attn(
        grid,
        q,
        k_cache,
        v_cache,
        out,
        cu_seqlens_q,
        None,
        context_lens,
        block_tables,
        k_cache.stride(0),
        v_cache.stride(0),
        k_cache.shape[1],
        scale,
        True,
        cfg,
    )
    return out


def choose_num_splits(
    max_context: int, batch: int, kv_heads: int, block_n: int, target_programs: int = 132
) -> int:
    """Enough splits to fill the GPU (~one wave of `target_programs`), none shorter than 4 tiles of keys."""
    if max_context <= 0:
        return 1
    by_len = max(1, max_context // (4 * block_n))
    by_occupancy = max(1, -(-target_programs // max(1, batch * kv_heads)))
    return int(min(by_len, by_occupancy, 64))


def paged_decode_attention(
    q: torch.Tensor,
    k_cache: torch.Tensor,
    v_cache: torch.Tensor,
    block_tables: torch.Tensor,
    context_lens: torch.Tensor,
    sm_scale: float | None = None,
    num_splits: int | None = None,
    max_context: int | None = None,
    block_n: int | None = None,
) -> torch.Tensor:
    """Triton split-K decode attention, one query token per sequence. Head dim a power of two >= 16.

    `num_splits=None` picks splits from the longest context (`max_context`, read from context_lens if not
    given, which syncs).
    """
    from ._triton_utils import check_head_dim, is_interpreting, next_pow2, upcast_flag

    bsz, hq, d = q.shape
    hk = k_cache.shape[2]
    check_head_dim(d)
    if hq % hk:
        raise ValueError(f"q heads ({hq}) must be a multiple of kv heads ({hk})")
    group = hq // hk
    q = q if q.stride(-1) == 1 else q.contiguous()
    if bsz == 0:
        return torch.zeros_like(q)
    bn = block_n or (16 if is_interpreting() else 64)
    if num_splits is None:
        mc = max_context if max_context is not None else int(context_lens.max().item())
        num_splits = choose_num_splits(mc, bsz, hk, bn)
    scale = softmax_scale(d, sm_scale)
    m = torch.empty((bsz, hq, num_splits), dtype=torch.float32, device=q.device)
    lsum = torch.empty_like(m)
    acc = torch.empty((bsz, hq, num_splits, d), dtype=torch.float32, device=q.device)
    # tl.dot needs >= 16 rows on a GPU; the padded group rows are masked out
    bg = max(16, next_pow2(group))
    _decode_split_kernel[(bsz, hk, num_splits)](
        q,
        k_cache,
        v_cache,
        block_tables,
        context_lens,
        m,
        lsum,
        acc,
        q.stride(0),
        q.stride(1),
        k_cache.stride(0),
        k_cache.stride(1),
        k_cache.stride(2),
        v_cache.stride(0),
        v_cache.stride(1),
        v_cache.stride(2),
        block_tables.stride(0),
        k_cache.shape[1],
        scale * LOG2E,
        group,
        num_splits,
        BLOCK_G=bg,
        BLOCK_N=bn,
        D=d,
        UPCAST=upcast_flag(q, k_cache, v_cache),
        PREC="ieee" if q.dtype == torch.float32 else "tf32",
        num_warps=4,
        num_stages=2,
    )
    out = torch.empty_like(q)
    _decode_reduce_kernel[(bsz, hq)](
        m,
        lsum,
        acc,
        out,
        out.stride(0),
        out.stride(1),
        num_splits,
        BLOCK_S=max(2, next_pow2(num_splits)),
        D=d,
    )
    return out


online_softmax_tile = None  # bound by the kernel builder below (kernels/online_softmax.py)

def _define_split():
    global online_softmax_tile  # triton looks a kernel's callees up in its module's globals
    import triton
    import triton.language as tl

    from .online_softmax import online_softmax_tile

    @triton.jit
    def kernel(
        Q,
        K,
        V,
        block_tables,
        ctx_lens,
        M,
        L,
        ACC,
        sq0,
        sq1,
        skb,
        skt,
        skh,
        svb,
        svt,
        svh,
        s_bt,
        page,
        scale_log2,
        GROUP,
        S,
        BLOCK_G: tl.constexpr,
        BLOCK_N: tl.constexpr,
        D: tl.constexpr,
        UPCAST: tl.constexpr,
        PREC: tl.constexpr,
    ):
        b = tl.program_id(0)
        hk = tl.program_id(1)
        split = tl.program_id(2)
        n_ctx = tl.load(ctx_lens + b)
        per_split = tl.cdiv(tl.cdiv(n_ctx, S), BLOCK_N) * BLOCK_N
        lo = split * per_split
        hi = tl.minimum(lo + per_split, n_ctx)
        g = tl.arange(0, BLOCK_G)
        g_ok = g < GROUP
        hq = hk * GROUP + g
        offs_d = tl.arange(0, D)
        q = tl.load(Q + b * sq0 + hq[:, None] * sq1 + offs_d[None, :], mask=g_ok[:, None], other=0.0)
        if UPCAST:
            q = q.to(tl.float32)
        m_i = tl.full([BLOCK_G], -1.0e30, dtype=tl.float32)
        l_i = tl.zeros([BLOCK_G], dtype=tl.float32)
        acc = tl.zeros([BLOCK_G, D], dtype=tl.float32)
        for start in range(lo, hi, BLOCK_N):
            offs_n = start + tl.arange(0, BLOCK_N)
            n_ok = offs_n < hi
            phys = tl.load(block_tables + b * s_bt + offs_n // page, mask=n_ok, other=0).to(tl.int64)
            within = offs_n % page
            kt = tl.load(
                K + phys[None, :] * skb + within[None, :] * skt + hk * skh + offs_d[:, None],
                mask=n_ok[None, :],
                other=0.0,
            )
            vv = tl.load(
                V + phys[:, None] * svb + within[:, None] * svt + hk * svh + offs_d[None, :],
                mask=n_ok[:, None],
                other=0.0,
            )
            if UPCAST:
                kt = kt.to(tl.float32)
                vv = vv.to(tl.float32)
            m_i, l_i, acc = online_softmax_tile(q, kt, vv, n_ok[None, :], m_i, l_i, acc, scale_log2, PREC)
        row = (b * GROUP * tl.num_programs(1) + hq) * S + split  # M/L are [B, Hq, S] contiguous
        tl.store(M + row, m_i, mask=g_ok)
        tl.store(L + row, l_i, mask=g_ok)
        tl.store(ACC + row[:, None] * D + offs_d[None, :], acc, mask=g_ok[:, None])

    return kernel


def _define_reduce():
    import triton
    import triton.language as tl

    @triton.jit
    def kernel(M, L, ACC, Out, so0, so1, S, BLOCK_S: tl.constexpr, D: tl.constexpr):
        b = tl.program_id(0)
        h = tl.program_id(1)
        base = (b * tl.num_programs(1) + h) * S
        s = tl.arange(0, BLOCK_S)
        s_ok = s < S
        m = tl.load(M + base + s, mask=s_ok, other=-1.0e30)
        lsum = tl.load(L + base + s, mask=s_ok, other=0.0)
        m_max = tl.max(m, 0)
        w = tl.where(s_ok, tl.exp2(m - m_max), 0.0)
        total = tl.sum(w * lsum, 0)
        offs_d = tl.arange(0, D)
        acc = tl.load(ACC + (base + s)[:, None] * D + offs_d[None, :], mask=s_ok[:, None], other=0.0)
        out = tl.sum(acc * w[:, None], 0) / tl.where(total == 0.0, 1.0, total)
        tl.store(Out + b * so0 + h * so1 + offs_d, out.to(Out.dtype.element_ty))

    return kernel


_decode_split_kernel = LazyKernel(_define_split)
_decode_reduce_kernel = LazyKernel(_define_reduce)
