"""SelfExtend (Jin et al. 2024) for RoPE attention, made bidirectional for encoders.

Within a neighbour window W a query sees its keys at their true relative distance; beyond it, positions are
grouped: floor(pos / G), with the query side shifted by W - W // G so grouped distances continue where the
window ends instead of restarting near zero. The paper only needs keys to the left (causal LLMs); an encoder
also attends to the right, so there the shift goes on the key, which keeps the relative-position matrix
antisymmetric: rel[i, j] == -rel[j, i]. Causal models get the same function; their mask removes the right.

The attention arrives with q and k already rotated at their true positions (HF applies RoPE before the
attention function). RoPE rotations compose, so rotating q by (new_pos - pos) gives q at new_pos: the grouped
scores are ordinary dot products of re-rotated q and k, merged with the neighbour scores by |i - j| < W.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from longlens.kernels.softmax_scale import softmax_scale

ATTN_NAME = "longlens_selfextend"
_QUERY_BLOCK = 512  # query rows per block: bounds memory at [B, H, 512, L] scores per matrix


@dataclass
class SelfExtendParams:
    """Attached to each attention module; `lengths` is the per-row token count of the current batch."""

    window: int
    group: int
    inv_freq: torch.Tensor  # the model's rotary frequencies (rotary dim / 2)
    trained_length: int  # rows up to this many tokens attend exactly as the unpatched model
    lengths: Any = None  # callable returning a [B] tensor of row lengths, or None

    @property
    def shift(self) -> int:
        return self.window - self.window // self.group


def selfextend_positions(n: int, window: int, group: int) -> torch.Tensor:
    """The [n, n] matrix of relative positions (query i minus key j) that SelfExtend attention uses."""
    i = torch.arange(n)[:, None]
    j = torch.arange(n)[None, :]
    shift = window - window // group
    gi, gj = i // group, j // group
    rel = torch.where(i - j >= window, gi + shift - gj, gi - gj - shift)
    return torch.where((i - j).abs() < window, i - j, rel)


def default_selfextend_params(trained: int, target: int) -> tuple[int, int]:
    """Window = half the trained length; the smallest group that keeps every distance inside it."""
    window = max(1, trained // 2)
    group = max(1, -(-(target - window) // max(1, trained - window)))
    return window, group


def rotate(x: torch.Tensor, delta: torch.Tensor, inv_freq: torch.Tensor) -> torch.Tensor:
    """Rotate `x` [B, H, L, D] by `delta` [L] positions (rotate-half, first 2*len(inv_freq) dims)."""
    rot = 2 * inv_freq.numel()
    ang = delta.to(torch.float32)[:, None] * inv_freq.to(device=x.device, dtype=torch.float32)[None, :]
    ang = torch.cat((ang, ang), dim=-1)
    cos, sin = ang.cos().to(x.dtype), ang.sin().to(x.dtype)
    xr, rest = x[..., :rot], x[..., rot:]
    half = rot // 2
    rotated_half = torch.cat((-xr[..., half:], xr[..., :half]), dim=-1)
    return torch.cat((xr * cos + rotated_half * sin, rest), dim=-1)


def selfextend_attention(
    module: torch.nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    scaling: float | None = None,
    dropout: float = 0.0,
    **kwargs: Any,
) -> tuple[torch.Tensor, None]:
    """An HF attention-interface function: q [B, Hq, L, D], k/v [B, Hkv, L, D] -> [B, L, Hq, D]."""
    params: SelfExtendParams = module.longlens_selfextend
    scaling = softmax_scale(query.shape[-1], scaling)
    if key.shape[1] != query.shape[1]:  # grouped-query attention: kv head h serves q heads h*r .. h*r+r-1
        rep = query.shape[1] // key.shape[1]
        key, value = key.repeat_interleave(rep, dim=1), value.repeat_interleave(rep, dim=1)
    bsz, _, n, _ = query.shape
    pos = kwargs.get("position_ids")
    pos = torch.arange(n, device=query.device) if pos is None else pos.reshape(-1, pos.shape[-1])[0]
    lengths = params.lengths() if params.lengths is not None else None
    active = torch.full((bsz,), n > params.trained_length, device=query.device)
    if lengths is not None:
        active = lengths.to(query.device) > params.trained_length

    w, g, shift = params.window, params.group, params.shift
    grouped = torch.div(pos, g, rounding_mode="floor")
    inv = params.inv_freq
    q_left, q_right = rotate(query, grouped + shift - pos, inv), rotate(query, grouped - pos, inv)
    k_left, k_right = rotate(key, grouped - pos, inv), rotate(key, grouped + shift - pos, inv)

    causal = attention_mask is None and bool(getattr(module, "is_causal", False))  # sdpa masks skip causal
    out = query.new_empty(*query.shape[:-1], value.shape[-1])
    for a in range(0, n, _QUERY_BLOCK):
        b = min(n, a + _QUERY_BLOCK)
        dist = pos[a:b, None] - pos[None, :]
        scores = query[:, :, a:b] @ key.transpose(-1, -2)
        left = q_left[:, :, a:b] @ k_left.transpose(-1, -2)
        right = q_right[:, :, a:b] @ k_right.transpose(-1, -2)
        far_left = (dist >= w) & active[:, None, None, None]
        far_right = (-dist >= w) & active[:, None, None, None]
        scores = torch.where(far_left, left, torch.where(far_right, right, scores)) * scaling
        if causal:
            scores = scores.masked_fill(dist < 0, float("-inf"))
        elif attention_mask is not None:
            mask = attention_mask[:, :, a:b, : key.shape[-2]]
            scores = scores.masked_fill(~mask, float("-inf")) if mask.dtype == torch.bool else scores + mask
        probs = torch.softmax(scores.float(), dim=-1).to(value.dtype)
        if dropout and module.training:
            probs = torch.nn.functional.dropout(probs, p=dropout)
        out[:, :, a:b] = probs @ value
    return out.transpose(1, 2).contiguous(), None


def register() -> str:
    """Register the attention (with the eager float mask) with transformers under ATTN_NAME."""
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, eager_mask

    AttentionInterface.register(ATTN_NAME, selfextend_attention)
    ALL_MASK_ATTENTION_FUNCTIONS.register(ATTN_NAME, eager_mask)
    return ATTN_NAME
