"""RMSNorm with optional fused residual add (vLLM's fused_add_rms_norm semantics).

With a residual, the sum `x + residual` is rounded to x's dtype (it becomes the new residual stream, as in
HF's decoder layer) and the norm is computed from that rounded value in fp32.
"""

from __future__ import annotations

import torch

from ._triton_utils import LazyKernel


def rms_norm_torch(
    x: torch.Tensor, weight: torch.Tensor, eps: float, residual: torch.Tensor | None = None
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """PyTorch reference: normed x, or (normed(x + residual), x + residual)."""
    if residual is not None:  # fp32 add, rounded to x's dtype (a plain add when both are fp32)
        same = x.dtype == residual.dtype == torch.float32
        x = x + residual if same else (x.float() + residual.float()).to(x.dtype)
    if x.dtype == torch.float32 and weight.dtype == torch.float32:  # PyTorch's fused op: a third of the time
        out = torch.nn.functional.rms_norm(x, (x.shape[-1],), weight, eps)
        return (out, x) if residual is not None else out
    xf = x.float()
    out = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps) * weight.float()
    out = out.to(x.dtype)
    return (out, x) if residual is not None else out


def rms_norm(
    x: torch.Tensor, weight: torch.Tensor, eps: float, residual: torch.Tensor | None = None
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Triton RMSNorm: one program per row, the whole hidden dim in one block."""
    from ._triton_utils import next_pow2, upcast_flag

    shape = x.shape
    x2 = x.reshape(-1, shape[-1])
    x2 = x2 if x2.stride(-1) == 1 else x2.contiguous()
    weight = weight.contiguous()
    n, h = x2.shape
    out = torch.empty((n, h), dtype=x.dtype, device=x.device)
    res_out = torch.empty((n, h), dtype=x.dtype, device=x.device) if residual is not None else out
    r2 = residual.reshape(-1, h).contiguous() if residual is not None else x2
    if n > 0:
        _rms_norm_kernel[(n,)](
            x2,
            r2,
            weight,
            out,
            res_out,
            x2.stride(0),
            r2.stride(0),
            out.stride(0),
            res_out.stride(0),
            h,
            eps,
            HAS_RES=residual is not None,
            BLOCK_H=next_pow2(h),
            UPCAST=upcast_flag(x, weight),
        )
    if residual is not None:
        return out.view(shape), res_out.view(shape)
    return out.view(shape)


def _define_kernel():
    import triton
    import triton.language as tl

    @triton.jit
    def kernel(
        x_ptr,
        r_ptr,
        w_ptr,
        out_ptr,
        res_ptr,
        sx,
        sr,
        so,
        sres,
        H,
        eps,
        HAS_RES: tl.constexpr,
        BLOCK_H: tl.constexpr,
        UPCAST: tl.constexpr,
    ):
        row = tl.program_id(0)
        offs = tl.arange(0, BLOCK_H)
        mask = offs < H
        x = tl.load(x_ptr + row * sx + offs, mask=mask, other=0.0)
        if UPCAST:
            x = x.to(tl.float32)
        if HAS_RES:
            r = tl.load(r_ptr + row * sr + offs, mask=mask, other=0.0)
            if UPCAST:
                r = r.to(tl.float32)
            s = (x.to(tl.float32) + r.to(tl.float32)).to(out_ptr.dtype.element_ty)
            tl.store(res_ptr + row * sres + offs, s, mask=mask)
            x = s
        xf = x.to(tl.float32)
        var = tl.sum(xf * xf, axis=0) / H
        w = tl.load(w_ptr + offs, mask=mask, other=0.0).to(tl.float32)
        y = xf * (1.0 / tl.sqrt(var + eps)) * w
        tl.store(out_ptr + row * so + offs, y.to(out_ptr.dtype.element_ty), mask=mask)

    return kernel


_rms_norm_kernel = LazyKernel(_define_kernel)
