"""Dispatch layer the engine calls: Triton kernels on CUDA tensors, PyTorch references elsewhere.

`LONGLENS_FORCE_TRITON=1` routes CPU tensors to the Triton kernels too (for tests under TRITON_INTERPRET=1).
Kernel modules are imported lazily by name, so this module never needs triton on a CPU-only install.
"""

from __future__ import annotations

import os

import torch

from . import kv_cache as _kv
from . import paged_attention as _pa
from . import prefill_attention as _pf
from . import rmsnorm as _rn
from . import rotary as _ro
from . import sparse_prefill as _sp
from .vertical_slash import VerticalSlashPattern


def use_triton(t: torch.Tensor) -> bool:
    """Triton path for CUDA tensors, or everywhere when LONGLENS_FORCE_TRITON=1."""
    return t.is_cuda or os.environ.get("LONGLENS_FORCE_TRITON", "0") not in ("", "0")


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
) -> torch.Tensor:
    """Varlen (GQA) attention over packed sequences; causal aligned to the end of each sequence's keys."""
    fn = _pf.prefill_attention if use_triton(q) else _pf.prefill_attention_torch
    return fn(
        q, k, v, cu_seqlens_q, cu_seqlens_k, max_seqlen_q, max_seqlen_k, causal=causal, sm_scale=sm_scale
    )


def paged_decode_attention(
    q: torch.Tensor,
    k_cache: torch.Tensor,
    v_cache: torch.Tensor,
    block_tables: torch.Tensor,
    context_lens: torch.Tensor,
    sm_scale: float | None = None,
    num_splits: int | None = None,
    max_context: int | None = None,
    kv_spans: list[slice] | None = None,
) -> torch.Tensor:
    """One query token per sequence over the paged cache; context_len 0 gives zeros. `max_context` (the
    longest context, known to the caller) spares the kernel a device sync to find it; `kv_spans` (each
    sequence's slots, where its blocks are consecutive) spares the PyTorch path its block-table reads."""
    if use_triton(q):
        return _pa.paged_decode_attention(q, k_cache, v_cache, block_tables, context_lens, sm_scale=sm_scale,
                                          num_splits=num_splits, max_context=max_context)
    return _pa.paged_decode_attention_torch(q, k_cache, v_cache, block_tables, context_lens, sm_scale=sm_scale,
                                          kv_spans=kv_spans)


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
    """Chunked prefill over the paged cache (chunk K/V already stored); context_lens include the chunk.
    `max_seqlen_q` (the longest chunk, known to the caller) spares the kernel a device sync."""
    if use_triton(q):
        return _pa.paged_prefill_attention(q, k_cache, v_cache, block_tables, cu_seqlens_q, context_lens,
                                           sm_scale=sm_scale, max_seqlen_q=max_seqlen_q)
    return _pa.paged_prefill_attention_torch(q, k_cache, v_cache, block_tables, cu_seqlens_q, context_lens,
                                           sm_scale=sm_scale)


def store_kv_cache(
    k: torch.Tensor,
    v: torch.Tensor,
    k_cache: torch.Tensor,
    v_cache: torch.Tensor,
    slot_mapping: torch.Tensor,
    all_valid: bool = False,
) -> None:
    """Write K/V rows into cache slots in place; slot -1 is skipped (`all_valid`: the caller knows there
    is none, which spares the PyTorch path a check per layer)."""
    if use_triton(k):
        _kv.store_kv_cache(k, v, k_cache, v_cache, slot_mapping)
    else:
        _kv.store_kv_cache_torch(k, v, k_cache, v_cache, slot_mapping, all_valid)


def rms_norm(
    x: torch.Tensor, weight: torch.Tensor, eps: float, residual: torch.Tensor | None = None
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """RMSNorm; with `residual` returns (normed(x + residual), x + residual)."""
    fn = _rn.rms_norm if use_triton(x) else _rn.rms_norm_torch
    return fn(x, weight, eps, residual)


def apply_rotary(
    q: torch.Tensor, k: torch.Tensor, positions: torch.Tensor, cos_sin_cache: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """NeoX-style RoPE from a `[max_pos, rot_dim]` cos|sin cache, out of place."""
    fn = _ro.apply_rotary if use_triton(q) else _ro.apply_rotary_torch
    return fn(q, k, positions, cos_sin_cache)


def rotary_tables(
    positions: torch.Tensor, cos_sin_cache: torch.Tensor, head_dim: int
) -> tuple[torch.Tensor, torch.Tensor] | None:
    """This step's cos/sin rows for the PyTorch path, gathered once for all layers (`apply_rotary_tables`);
    None where the Triton kernel gathers them itself, or where only part of the head dim rotates."""
    if use_triton(positions) or cos_sin_cache.shape[-1] != head_dim:
        return None
    return _ro.rotary_tables_torch(positions, cos_sin_cache)


def apply_rotary_tables(x: torch.Tensor, tables: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """NeoX-style RoPE of x [T, H, D] (q and k heads together) from `rotary_tables` rows, out of place."""
    return _ro.apply_rotary_tables_torch(x, tables)


def sparse_prefill_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    pattern: VerticalSlashPattern,
    block_m: int = 64,
    sm_scale: float | None = None,
) -> torch.Tensor:
    """One sequence's attention over a vertical-slash pattern (lq <= lk, causal end-aligned, GQA)."""
    fn = _sp.sparse_prefill_attention if use_triton(q) else _sp.sparse_prefill_attention_torch
    return fn(q, k, v, pattern, block_m=block_m, sm_scale=sm_scale)
