"""Building blocks shared by the model families. Attention, norms and rotary go through
`longlens.kernels` (PyTorch references on CPU, Triton on CUDA); the engine never calls SDPA itself."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from longlens.kernels import ops, rotary
from longlens.kernels.dual_chunk import (
    DualChunkConfig,
    DualChunkStep,
    dual_chunk_attention,
    dual_chunk_step,
    rotate_dual_chunk,
)
from longlens.kernels.paged_attention import gather_kv
from longlens.models.llm.attention_metadata import AttentionMetadata
from longlens.models.llm.sparse_prefill import sparse_attention


class StackedLinear(nn.Linear):
    """Several projections of the same input as one matmul (q|k|v, gate|up): one weight read and one call
    instead of three or two. `shards` names the checkpoint's separate projections, in row order, so the
    loader can place each one's rows (`shard_rows`)."""

    def __init__(self, in_features: int, shards: dict[str, int], bias: bool = False):
        super().__init__(in_features, sum(shards.values()), bias=bias)
        self.shards = shards

    def shard_rows(self, name: str) -> slice:
        start = 0
        for shard, rows in self.shards.items():
            if shard == name:
                return slice(start, start + rows)
            start += rows
        raise KeyError(f"{name} is not a shard of this projection ({', '.join(self.shards)})")


class RMSNorm(nn.Module):
    def __init__(self, hidden: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden))
        self.eps = eps

    def forward(
        self, x: torch.Tensor, residual: torch.Tensor | None = None
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Norm of x, or (norm of x+residual, x+residual): the residual add fused into the norm."""
        return ops.rms_norm(x, self.weight, self.eps, residual)


@dataclass
class RotaryStep:
    """One step's rotary embedding, prepared once for every layer: on the PyTorch path `tables` holds the
    step's cos/sin rows (gathered once, not per layer); the Triton kernel gathers them from the cache itself."""

    positions: torch.Tensor
    cos_sin_cache: torch.Tensor
    tables: tuple[torch.Tensor, torch.Tensor] | None
    dual_chunk: DualChunkStep | None = None  # dual chunk attention's rotations (then `tables` is unused)


class RotaryEmbedding(nn.Module):
    """cos|sin table for every position up to max_positions (with the model's rope scaling); with dual
    chunk attention, up to its largest rotation (chunk_size), whatever the sequence length."""

    def __init__(self, head_dim: int, base: float, rope_scaling: dict | None, max_position_embeddings: int,
                 max_positions: int, dual_chunk: DualChunkConfig | None = None):
        super().__init__()
        if dual_chunk is not None:
            if rope_scaling is not None:
                raise ValueError("dual chunk attention replaces rope scaling: use one of them, not both "
                                 f"(rope_scaling is {rope_scaling})")
            max_positions = dual_chunk.max_rotary_position + 1
        self.dual_chunk = dual_chunk
        # dynamic NTK is scaled for the longest position the engine serves (a no-op within the trained window)
        inv_freq, scaling = rotary.rope_inv_freq(head_dim, base, rope_scaling, max_position_embeddings,
                                                 seq_len=max_positions)
        if dual_chunk is not None and 2 * len(inv_freq) != head_dim:
            raise ValueError("dual chunk attention needs the whole head dim rotated (no partial rotary)")
        cache = rotary.build_cos_sin_cache(inv_freq, max_positions, scaling, torch.float32, inv_freq.device)
        self.register_buffer("cos_sin_cache", cache, persistent=False)

    def forward(self, positions: torch.Tensor, head_dim: int) -> RotaryStep:
        cache = self.cos_sin_cache
        if self.dual_chunk is not None:
            return RotaryStep(positions, cache, None, dual_chunk_step(positions, cache, self.dual_chunk))
        return RotaryStep(positions, cache, ops.rotary_tables(positions, cache, head_dim))


class Attention(nn.Module):
    """GQA attention over the paged KV cache; `k_cache`/`v_cache` are set by the model runner."""

    def __init__(self, hidden: int, num_heads: int, num_kv_heads: int, head_dim: int, bias: bool):
        super().__init__()
        self.num_heads, self.num_kv_heads, self.head_dim = num_heads, num_kv_heads, head_dim
        self.q_size, self.kv_size = num_heads * head_dim, num_kv_heads * head_dim
        self.qkv_proj = StackedLinear(hidden, {"q_proj": self.q_size, "k_proj": self.kv_size,
                                               "v_proj": self.kv_size}, bias=bias)
        self.o_proj = nn.Linear(num_heads * head_dim, hidden, bias=False)
        self.k_cache: torch.Tensor | None = None
        self.v_cache: torch.Tensor | None = None

    def forward(self, x: torch.Tensor, rope: RotaryStep, meta: AttentionMetadata) -> torch.Tensor:
        t, hq, d = x.shape[0], self.num_heads, self.head_dim
        qkv = self.qkv_proj(x)
        qk_size = self.q_size + self.kv_size
        v = qkv[:, qk_size:].view(t, self.num_kv_heads, d)
        if rope.dual_chunk is not None:
            o = self.attend_dual_chunk(qkv[:, : self.q_size].view(t, hq, d),
                                       qkv[:, self.q_size : qk_size].view(t, self.num_kv_heads, d), v, rope, meta)
            return self.o_proj(o.reshape(t, self.num_heads * self.head_dim))
        if rope.tables is not None:  # PyTorch path: q and k heads rotated as one tensor
            qk = ops.apply_rotary_tables(qkv[:, :qk_size].view(t, -1, d), rope.tables)
            q, k = qk[:, :hq], qk[:, hq:]
        else:
            q, k = ops.apply_rotary(qkv[:, : self.q_size].view(t, hq, d), qkv[:, self.q_size : qk_size].view(
                t, self.num_kv_heads, d), rope.positions, rope.cos_sin_cache)
        if self.k_cache is not None:
            ops.store_kv_cache(k, v, self.k_cache, self.v_cache, meta.slot_mapping, meta.slots_valid)
        if meta.sparse is not None:
            o = sparse_attention(q, k, v, meta, self.k_cache, self.v_cache, self.attend_dense)
        else:
            o = self.attend_dense(q, k, v, meta)
        return self.o_proj(o.reshape(t, self.num_heads * self.head_dim))

    def attend_dual_chunk(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, rope: RotaryStep,
                          meta: AttentionMetadata) -> torch.Tensor:
        """Dual chunk attention from unrotated q, k: three query rotations, keys stored rotated in-chunk."""
        dca = meta.dual_chunk
        queries, k = rotate_dual_chunk(q, k, rope.dual_chunk, dca.scale)
        from_cache = meta.mode != "prefill" and self.k_cache is not None
        if self.k_cache is not None:
            ops.store_kv_cache(k, v, self.k_cache, self.v_cache, meta.slot_mapping, meta.slots_valid)

        def cached(i: int, length: int) -> tuple[torch.Tensor, torch.Tensor] | None:
            if not from_cache:
                return None
            table = meta.block_tables[i]
            return gather_kv(self.k_cache, table, length), gather_kv(self.v_cache, table, length)

        return dual_chunk_attention(queries, k, v, dca, cached)

    def attend_dense(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, meta: AttentionMetadata
                     ) -> torch.Tensor:
        """Dense attention of this step's queries (K/V already in the cache when there is one)."""
        if meta.mode == "prefill" or self.k_cache is None:
            return ops.prefill_attention(q, k, v, meta.cu_seqlens_q, meta.cu_seqlens_q, meta.max_seqlen_q,
                                         meta.max_seqlen_q, causal=True)
        if meta.mode == "decode":
            return ops.paged_decode_attention(q, self.k_cache, self.v_cache, meta.block_tables, meta.context_lens,
                                              max_context=meta.max_seqlen_k, kv_spans=meta.kv_spans)
        return ops.paged_prefill_attention(q, self.k_cache, self.v_cache, meta.block_tables, meta.cu_seqlens_q,
                                           meta.context_lens, max_seqlen_q=meta.max_seqlen_q)


class GatedMLP(nn.Module):
    """SwiGLU: down(silu(gate(x)) * up(x))."""

    def __init__(self, hidden: int, intermediate: int):
        super().__init__()
        self.gate_up_proj = StackedLinear(hidden, {"gate_proj": intermediate, "up_proj": intermediate})
        self.down_proj = nn.Linear(intermediate, hidden, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, up = self.gate_up_proj(x).chunk(2, dim=-1)
        return self.down_proj(F.silu(gate) * up)
