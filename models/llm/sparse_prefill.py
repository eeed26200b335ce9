"""Long prefill in the engine: which sequences of a step go vertical-slash sparse, and their attention.

A sequence goes sparse when its prefill chunk (more than one query) attends to at least the threshold's
number of keys; everything else in the step (short prompts, decodes) keeps the dense kernels, batched as
before. With chunked prefill a long prompt's first chunks therefore stay dense and the later ones, whose
context has grown past the threshold, estimate their own pattern from their last queries over all keys.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from longlens.kernels import ops
from longlens.kernels.paged_attention import gather_kv
from longlens.kernels.vertical_slash import estimate_vertical_slash
from longlens.models.llm.attention_metadata import AttentionMetadata


def sparse_indices(q_lens: list[int], ctx_lens: list[int], threshold: int) -> list[int]:
    """Batch positions whose chunk goes sparse: a prefill chunk (> 1 query) over >= threshold keys."""
    return [i for i, (n, c) in enumerate(zip(q_lens, ctx_lens, strict=True)) if n > 1 and c >= threshold]


def sparse_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    meta: AttentionMetadata,
    k_cache: torch.Tensor | None,
    v_cache: torch.Tensor | None,
    dense: Callable[[torch.Tensor, torch.Tensor, torch.Tensor, AttentionMetadata], torch.Tensor],
) -> torch.Tensor:
    """Attention output [T, Hq, D] of the step: sparse sequences one by one, the rest in one dense call."""
    plan = meta.sparse
    out = torch.empty_like(q)
    from_cache = meta.mode != "prefill" and k_cache is not None  # chunks after cached context read the cache
    if plan.rest is not None:
        rows = plan.rest_rows
        kr, vr = (k, v) if from_cache else (k[rows], v[rows])
        out[rows] = dense(q[rows], kr, vr, plan.rest)
    cfg = plan.config
    for s in plan.seqs:
        qs = q[s.q_start : s.q_end]
        if from_cache:
            table = meta.block_tables[s.index]
            ks, vs = gather_kv(k_cache, table, s.ctx_len), gather_kv(v_cache, table, s.ctx_len)
        else:
            ks, vs = k[s.q_start : s.q_end], v[s.q_start : s.q_end]
        pattern = estimate_vertical_slash(qs, ks, cfg)
        out[s.q_start : s.q_end] = ops.sparse_prefill_attention(qs, ks, vs, pattern, block_m=cfg.block_m)
    return out
