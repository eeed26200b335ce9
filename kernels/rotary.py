"""Rotary position embeddings: HF `rope_scaling` variants, the cos/sin cache, and NeoX-style rotation.

`rope_inv_freq` mirrors transformers' `modeling_rope_utils` (default, linear, dynamic NTK, yarn, llama3) so
checkpoints with a `rope_scaling` block get the same frequencies as in HF. The cache holds
`[cos | sin] * attention_scaling`, one row per position, gathered by position in `apply_rotary`.
"""

from __future__ import annotations

import math

import torch

from ._triton_utils import LazyKernel

ROPE_TYPES = ("default", "linear", "dynamic", "yarn", "llama3")


def _base_inv_freq(dim: int, base: float) -> torch.Tensor:
    return 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))


def dynamic_ntk_base(
    base: float, factor: float, dim: int, seq_len: int, max_position_embeddings: int
) -> float:
    """NTK-aware base for a sequence of `seq_len` (no change up to the original max positions)."""
    seq_len = max(seq_len, max_position_embeddings)
    return base * ((factor * seq_len / max_position_embeddings) - (factor - 1)) ** (dim / (dim - 2))


def rope_inv_freq(
    head_dim: int,
    base: float,
    rope_scaling: dict | None,
    max_position_embeddings: int,
    seq_len: int | None = None,
) -> tuple[torch.Tensor, float]:
    """(inv_freq fp32 [dim/2], attention_scaling) as transformers computes them.

    `rope_scaling` is the HF config block (`rope_type` or legacy `type`); its `partial_rotary_factor` shrinks
    the rotated dim. For "dynamic", pass `seq_len` (the longest sequence so far) to rebuild the frequencies
    once a sequence exceeds `max_position_embeddings`.
    """
    rs = dict(rope_scaling or {})
    rope_type = rs.get("rope_type", rs.get("type", "default"))
    dim = int(head_dim * rs.get("partial_rotary_factor", 1.0))
    if rope_type == "default":
        return _base_inv_freq(dim, base), 1.0
    if rope_type == "linear":
        return _base_inv_freq(dim, base) / rs["factor"], 1.0
    if rope_type == "dynamic":
        b = dynamic_ntk_base(
            base, rs["factor"], dim, seq_len or max_position_embeddings, max_position_embeddings
        )
        return _base_inv_freq(dim, b), 1.0
    if rope_type == "yarn":
        return _yarn(dim, base, rs, max_position_embeddings)
    if rope_type == "llama3":
        return _llama3(dim, base, rs)
    raise ValueError(f"unsupported rope_type {rope_type!r}; expected one of {ROPE_TYPES}")


def _yarn(dim: int, base: float, rs: dict, max_pos: int) -> tuple[torch.Tensor, float]:
    orig = rs.get("original_max_position_embeddings") or max_pos  # HF fills it in from max_position_embeddings
    factor = rs.get("factor") or max_pos / orig

    def get_mscale(scale: float, mscale: float = 1.0) -> float:
        return 1.0 if scale <= 1 else 0.1 * mscale * math.log(scale) + 1.0

    attn = rs.get("attention_factor")
    if attn is None:
        ms, msa = rs.get("mscale"), rs.get("mscale_all_dim")
        attn = float(get_mscale(factor, ms) / get_mscale(factor, msa)) if ms and msa else get_mscale(factor)
    beta_fast = rs.get("beta_fast") or 32
    beta_slow = rs.get("beta_slow") or 1

    def corr_dim(rot: float) -> float:
        return (dim * math.log(orig / (rot * 2 * math.pi))) / (2 * math.log(base))

    low, high = corr_dim(beta_fast), corr_dim(beta_slow)
    if rs.get("truncate", True):
        low, high = math.floor(low), math.ceil(high)
    low, high = max(low, 0), min(high, dim - 1)
    if low == high:
        high += 0.001
    ramp = torch.clamp((torch.arange(dim // 2, dtype=torch.float32) - low) / (high - low), 0, 1)
    pos_freqs = base ** (torch.arange(0, dim, 2).float() / dim)
    extra_factor = 1 - ramp
    inv = (1.0 / (factor * pos_freqs)) * (1 - extra_factor) + (1.0 / pos_freqs) * extra_factor
    return inv, attn


def _llama3(dim: int, base: float, rs: dict) -> tuple[torch.Tensor, float]:
    inv = _base_inv_freq(dim, base)
    factor, lo, hi = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"]
    old = rs["original_max_position_embeddings"]
    low_wl, high_wl = old / lo, old / hi
    wavelen = 2 * math.pi / inv
    inv_l = torch.where(wavelen > low_wl, inv / factor, inv)
    smooth = (old / wavelen - lo) / (hi - lo)
    smoothed = (1 - smooth) * inv_l / factor + smooth * inv_l
    medium = ~(wavelen < high_wl) * ~(wavelen > low_wl)
    return torch.where(medium, smoothed, inv_l), 1.0


def build_cos_sin_cache(
    inv_freq: torch.Tensor,
    max_positions: int,
    attention_scaling: float = 1.0,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """[max_positions, 2 * len(inv_freq)]: cos in the first half, sin in the second, times attention_scaling.

    Angles are computed in fp32 like HF (position * inv_freq), then cast to `dtype`.
    """
    inv = inv_freq.to(device=device, dtype=torch.float32)
    t = torch.arange(max_positions, device=device, dtype=torch.float32)
    freqs = torch.outer(t, inv)
    cache = torch.cat([freqs.cos() * attention_scaling, freqs.sin() * attention_scaling], dim=-1)
    return cache.to(dtype)


def apply_rotary_torch(
    q: torch.Tensor, k: torch.Tensor, positions: torch.Tensor, cos_sin_cache: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """PyTorch reference: rotate_half (NeoX/HF-Llama) on the first `cache.shape[-1]` dims, out of place."""
    cs = cos_sin_cache[positions].float()
    half = cs.shape[-1] // 2
    cos, sin = cs[:, None, :half], cs[:, None, half:]

    def rot(x: torch.Tensor) -> torch.Tensor:
        xf = x.float()
        x1, x2 = xf[..., :half], xf[..., half : 2 * half]
        out = torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin, xf[..., 2 * half :]], dim=-1)
        return out.to(x.dtype)

    return rot(q), rot(k)


def rotary_tables_torch(positions: torch.Tensor, cos_sin_cache: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One step's fp32 rows `cos|cos` and `-sin|sin` [T, 1, rot_dim], gathered once for every layer, so that
    `apply_rotary_tables_torch` does exactly `apply_rotary_torch`'s arithmetic (x1*cos - x2*sin, x2*cos + x1*sin)."""
    cos, sin = cos_sin_cache[positions].float()[:, None].chunk(2, dim=-1)
    return torch.cat([cos, cos], dim=-1), torch.cat([-sin, sin], dim=-1)


def apply_rotary_tables_torch(x: torch.Tensor, tables: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """Rotate every head of x [T, H, rot_dim] with `rotary_tables_torch` rows, out of place; q and k heads may
    come as one tensor (one rotation per layer instead of two)."""
    cos, sin = tables
    half = cos.shape[-1] // 2
    xf = x.float()
    return (xf * cos + torch.cat([xf[..., half:], xf[..., :half]], dim=-1) * sin).to(x.dtype)


def apply_rotary(
    q: torch.Tensor, k: torch.Tensor, positions: torch.Tensor, cos_sin_cache: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Triton rotary: one program per token rotates all its q and k heads."""
    from ._triton_utils import next_pow2

    t, hq, d = q.shape
    hk = k.shape[1]
    rd = cos_sin_cache.shape[-1]
    q_out = torch.empty(
        q.shape, dtype=q.dtype, device=q.device
    )  # contiguous: the kernel assumes unit last stride
    k_out = torch.empty(k.shape, dtype=k.dtype, device=k.device)
    if rd < d:
        q_out[..., rd:] = q[..., rd:]
        k_out[..., rd:] = k[..., rd:]
    if t > 0:
        for x, o, h in ((q, q_out, hq), (k, k_out, hk)):  # two launches: q heads, then k heads
            _rotary_kernel[(t,)](
                x,
                o,
                positions,
                cos_sin_cache,
                x.stride(0),
                x.stride(1),
                x.stride(2),
                o.stride(0),
                o.stride(1),
                cos_sin_cache.stride(0),
                h,
                HALF=rd // 2,
                BLOCK_HALF=next_pow2(rd // 2),
                BLOCK_H=max(2, next_pow2(h)),
            )
    return q_out, k_out


def _define_kernel():
    import triton
    import triton.language as tl

    @triton.jit
    def kernel(
        x_ptr,
        o_ptr,
        pos_ptr,
        cs_ptr,
        sx0,
        sx1,
        sx2,
        so0,
        so1,
        scs,
        H,
        HALF: tl.constexpr,
        BLOCK_HALF: tl.constexpr,
        BLOCK_H: tl.constexpr,
    ):
        tok = tl.program_id(0)
        pos = tl.load(pos_ptr + tok)
        h = tl.arange(0, BLOCK_H)[:, None]
        j = tl.arange(0, BLOCK_HALF)[None, :]
        jm = j < HALF
        mask = (h < H) & jm
        cos = tl.load(cs_ptr + pos * scs + j, mask=jm, other=0.0)
        sin = tl.load(cs_ptr + pos * scs + HALF + j, mask=jm, other=0.0)
        p1 = x_ptr + tok * sx0 + h * sx1 + j * sx2
        x1 = tl.load(p1, mask=mask, other=0.0)
        x2 = tl.load(p1 + HALF * sx2, mask=mask, other=0.0)
        # always fp32 right after the load (this is also the interpreter's bf16 workaround)
        cos = cos.to(tl.float32)
        sin = sin.to(tl.float32)
        x1 = x1.to(tl.float32)
        x2 = x2.to(tl.float32)
        po = o_ptr + tok * so0 + h * so1 + j
        tl.store(po, (x1 * cos - x2 * sin).to(o_ptr.dtype.element_ty), mask=mask)
        tl.store(po + HALF, (x2 * cos + x1 * sin).to(o_ptr.dtype.element_ty), mask=mask)

    return kernel


_rotary_kernel = LazyKernel(_define_kernel)
