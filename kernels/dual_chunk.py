"""Dual Chunk Attention (DCA; An et al. 2024, "Training-Free Long-Context Scaling"), as Qwen2.5-1M runs it
past its trained window without retraining.

The sequence is cut into chunks of `chunk_len = chunk_size - local_size` tokens. Keys are rotated at their
position inside their chunk (p mod chunk_len), so no query-key distance exceeds `chunk_size`, a distance
the model was trained on. A query at position p attends with three rotations, in one softmax:
- intra: keys of its own chunk, the query at p mod chunk_len (true distances, causal);
- successive: keys of the previous chunk, the query at min(p mod chunk_len + chunk_len, chunk_size) (true
  distances for a chunk's first `local_size` queries, capped at chunk_size after them);
- inter: keys of all older chunks, the query at the constant min(2 chunk_len - 1, chunk_size).
Chunk boundaries (multiples of chunk_len) and positions follow vLLM's implementation, which serves
Qwen2.5-1M; so does the length scaling: with `original_max_position_embeddings` set, a sequence longer than
that has its queries, and the keys it writes, multiplied by 0.1 ln(length / original) + 1.

The engine path here is PyTorch (any device): one sequence at a time, queries in blocks so that scores
stay bounded. `dual_chunk_attention_torch` is the definition it is tested against, built from the
query-key distance matrix instead of the three rotations.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from longlens.kernels.rotary import apply_rotary_tables_torch, rotary_tables_torch
from longlens.kernels.softmax_scale import softmax_scale

Tables = tuple[torch.Tensor, torch.Tensor]
SCORE_BUDGET = 1 << 26  # score elements per query block (256 MiB in fp32)


@dataclass(frozen=True)
class DualChunkConfig:
    """The `dual_chunk_attention_config` block of a Qwen2.5-1M `config.json` (its sparse-attention keys are
    not used: the engine has its own vertical-slash path)."""

    chunk_size: int
    local_size: int
    original_max_position_embeddings: int = 0  # 0: no length scaling

    def __post_init__(self) -> None:
        if not 0 <= self.local_size < self.chunk_size:
            raise ValueError(f"dual chunk attention needs 0 <= local_size < chunk_size, got local_size "
                             f"{self.local_size} and chunk_size {self.chunk_size}")
        if self.original_max_position_embeddings < 0:
            raise ValueError("original_max_position_embeddings must be >= 0 (0 turns length scaling off)")

    @classmethod
    def from_dict(cls, block: dict[str, Any]) -> DualChunkConfig:
        missing = [k for k in ("chunk_size", "local_size") if k not in block]
        if missing:
            raise ValueError(f"dual_chunk_attention_config lacks {', '.join(missing)}")
        return cls(int(block["chunk_size"]), int(block["local_size"]),
                   int(block.get("original_max_position_embeddings") or 0))

    @property
    def chunk_len(self) -> int:
        return self.chunk_size - self.local_size

    @property
    def max_rotary_position(self) -> int:
        """Largest position any rotation uses (the succ/inter queries' cap): the cos/sin cache needs this + 1."""
        return self.chunk_size

    def length_scale(self, seq_len: int) -> float:
        """Factor on queries and written keys for a sequence of `seq_len` tokens (1 within the original window)."""
        orig = self.original_max_position_embeddings
        if orig <= 0 or seq_len <= orig:
            return 1.0
        return 0.1 * math.log(seq_len / orig) + 1.0


@dataclass
class DualChunkStep:
    """One step's rotations, gathered once for every layer: `local` rotates keys and intra queries
    (position in chunk), `succ` and `inter` the other two query copies (`inter` is one broadcast row)."""

    config: DualChunkConfig
    local: Tables
    succ: Tables
    inter: Tables


def dual_chunk_step(positions: torch.Tensor, cos_sin_cache: torch.Tensor, cfg: DualChunkConfig) -> DualChunkStep:
    n, size = cfg.chunk_len, cfg.chunk_size
    in_chunk = positions % n
    inter = torch.full((1,), min(2 * n - 1, size), dtype=positions.dtype, device=positions.device)
    return DualChunkStep(cfg, rotary_tables_torch(in_chunk, cos_sin_cache),
                         rotary_tables_torch((in_chunk + n).clamp(max=size), cos_sin_cache),
                         rotary_tables_torch(inter, cos_sin_cache))


@dataclass
class DualChunkMeta:
    """Per-step facts the attention needs on the host (no device sync per layer): each sequence's rows in
    the flat batch and its key count, and the per-token length factor (None when every factor is 1)."""

    chunk_len: int
    cu_q: list[int]
    ctx_lens: list[int]
    scale: torch.Tensor | None


@dataclass
class DualChunkQueries:
    intra: torch.Tensor
    succ: torch.Tensor
    inter: torch.Tensor


def rotate_dual_chunk(q: torch.Tensor, k: torch.Tensor, step: DualChunkStep, scale: torch.Tensor | None
                      ) -> tuple[DualChunkQueries, torch.Tensor]:
    """Unrotated q [T, Hq, D] and k [T, Hkv, D] -> the three rotated query copies and the rotated key
    (all times the length factor when there is one)."""
    hq = q.shape[1]
    qk = apply_rotary_tables_torch(torch.cat([q, k], dim=1), step.local)
    qi, kr = qk[:, :hq], qk[:, hq:]
    qs, qn = apply_rotary_tables_torch(q, step.succ), apply_rotary_tables_torch(q, step.inter)
    if scale is not None:
        f = scale[:, None, None].to(q.dtype)
        qi, qs, qn, kr = qi * f, qs * f, qn * f, kr * f
    return DualChunkQueries(qi, qs, qn), kr


def _grouped(x: torch.Tensor, hkv: int) -> torch.Tensor:
    """[m, Hq, D] -> [Hkv, G*m, D]: the G query heads of a KV head stacked, for one matmul per KV head."""
    m, hq, d = x.shape
    return x.view(m, hkv, hq // hkv, d).permute(1, 2, 0, 3).reshape(hkv, -1, d)


def dual_chunk_attention_seq(q: DualChunkQueries, k: torch.Tensor, v: torch.Tensor, chunk_len: int,
                             sm_scale: float | None = None) -> torch.Tensor:
    """One sequence: its last n = len(q) tokens attend over all its keys k, v [L, Hkv, D] (rotated).

    Queries go by blocks inside one chunk, so that a block's keys are [inter | successive | intra], three
    consecutive key ranges whose scores are written side by side into one buffer (reused by every block:
    allocating it, and the elementwise passes over it, cost more than the matmuls on a CPU). Only the
    block's own keys need the causal mask; fp32 runs the softmax in place and normalises after P @ V."""
    n, hq, d = q.intra.shape
    lk, hkv = k.shape[0], k.shape[1]
    g = hq // hkv
    scale = softmax_scale(d, sm_scale)
    kt, vt = k.permute(1, 2, 0), v.transpose(0, 1)  # [Hkv, D, L], [Hkv, L, D]
    out = torch.empty_like(q.intra)
    first = lk - n
    block = max(1, min(1024, SCORE_BUDGET // max(1, hq * lk)))
    buf = q.intra.new_empty(hq * min(block, n) * lk)
    pos = first
    while pos < lk:
        chunk = pos // chunk_len
        end = min(lk, pos + block, (chunk + 1) * chunk_len)
        rows = slice(pos - first, end - first)
        m = end - pos
        intra_start = chunk * chunk_len
        succ_start = max(0, intra_start - chunk_len)
        scores = buf[: hq * m * end].view(hkv, g * m, end)
        for part, lo, hi in ((q.inter, 0, succ_start), (q.succ, succ_start, intra_start), (q.intra, intra_start, end)):
            if hi > lo:
                torch.matmul(_grouped(part[rows], hkv) * scale, kt[:, :, lo:hi], out=scores[:, :, lo:hi])
        future = torch.ones(m, m, dtype=torch.bool, device=k.device).triu_(1).repeat(g, 1)  # [G*m, m]
        scores[:, :, pos:end].masked_fill_(future, float("-inf"))
        if scores.dtype == torch.float32:
            scores.sub_(scores.amax(dim=-1, keepdim=True)).exp_()
            o = torch.matmul(scores, vt[:, :end]) / scores.sum(dim=-1, keepdim=True)
        else:
            o = torch.softmax(scores.float(), dim=-1).to(v.dtype) @ vt[:, :end]
        out[rows] = o.view(hkv, g, m, d).permute(2, 0, 1, 3).reshape(m, hq, d).to(out.dtype)
        pos = end
    return out


def dual_chunk_attention(q: DualChunkQueries, k: torch.Tensor, v: torch.Tensor, meta: DualChunkMeta,
                         gather: Callable[[int, int], tuple[torch.Tensor, torch.Tensor] | None]) -> torch.Tensor:
    """The step's attention [T, Hq, D], sequence by sequence. `gather(i, length)` returns sequence i's
    (k, v) from the cache, or None when this step's k, v are the whole context (a prefill without cache)."""
    out = torch.empty_like(q.intra)
    for i, ctx in enumerate(meta.ctx_lens):
        a, b = meta.cu_q[i], meta.cu_q[i + 1]
        if a == b:
            continue
        cached = gather(i, ctx)
        ks, vs = cached if cached is not None else (k[a:b], v[a:b])
        rows = DualChunkQueries(q.intra[a:b], q.succ[a:b], q.inter[a:b])
        out[a:b] = dual_chunk_attention_seq(rows, ks, vs, meta.chunk_len)
    return out


def dual_chunk_attention_torch(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, cos_sin_cache: torch.Tensor,
                             cfg: DualChunkConfig, scale: torch.Tensor | None = None,
                             sm_scale: float | None = None) -> torch.Tensor:
    """Definition: one sequence at positions 0..n-1, q [n, Hq, D] and k, v [n, Hkv, D] *unrotated*, with
    `scale` [n] the factor each token's query and key carry (vLLM's length scaling; None: 1).

    Every query-key pair gets its DCA distance r (intra: i - j; successive: min(i mod c + c, s) - j mod c;
    inter: min(2c - 1, s) - j mod c, for chunk_len c and chunk_size s), and its score is q_i . R(-r) k_j,
    RoPE's relative form (R(a)q . R(b)k = q . R(b - a)k). O(n^2 D) memory: for tests."""
    n, hq, d = q.shape
    hkv = k.shape[1]
    c, s = cfg.chunk_len, cfg.chunk_size
    i = torch.arange(n)[:, None]
    j = torch.arange(n)[None, :]
    inter = torch.full_like(i, min(2 * c - 1, s))
    q_pos = torch.where(i // c == j // c, i % c, torch.where(i // c == j // c + 1, (i % c + c).clamp(max=s), inter))
    dist = (q_pos - j % c).clamp(min=0)  # [n, n]; >= 0 wherever j <= i
    cos, sin = cos_sin_cache[dist].float().chunk(2, dim=-1)  # [n, n, D/2]
    kf = k.float()
    if scale is not None:
        kf = kf * scale[:, None, None].float()
    k1, k2 = kf[..., : d // 2][None], kf[..., d // 2 :][None]  # [1, n, Hkv, D/2]
    cos, sin = cos[:, :, None], -sin[:, :, None]  # R(-r)
    k_rot = torch.cat([k1 * cos - k2 * sin, k2 * cos + k1 * sin], dim=-1)  # [n(i), n(j), Hkv, D]
    qf = q.float() if scale is None else q.float() * scale[:, None, None].float()
    k_rot = k_rot.repeat_interleave(hq // hkv, dim=2)  # [n, n, Hq, D]
    scores = torch.einsum("ihd,ijhd->hij", qf, k_rot) * softmax_scale(d, sm_scale)
    scores = scores.masked_fill(j > i, float("-inf"))
    probs = torch.softmax(scores, dim=-1)
    vf = v.float().repeat_interleave(hq // hkv, dim=1)  # [n, Hq, D]
    return torch.einsum("hij,jhd->ihd", probs, vf).to(q.dtype)
