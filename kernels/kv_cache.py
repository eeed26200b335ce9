"""Writing new tokens' K/V into the paged cache `[num_blocks, block_size, Hkv, D]`.

slot = block_index * block_size + offset, as vLLM's slot_mapping; slot -1 marks padding and is skipped.
"""

from __future__ import annotations

import torch

from ._triton_utils import LazyKernel


def store_kv_cache_torch(
    k: torch.Tensor,
    v: torch.Tensor,
    k_cache: torch.Tensor,
    v_cache: torch.Tensor,
    slot_mapping: torch.Tensor,
    all_valid: bool = False,
) -> None:
    """PyTorch reference: one `index_copy_` per cache over its flat slot view, in place. `all_valid` (no
    slot is -1, known to the caller) skips the check for padding."""
    slots = slot_mapping
    if not all_valid and (slot_mapping < 0).any():
        keep = slot_mapping >= 0
        slots, k, v = slot_mapping[keep], k[keep], v[keep]
    if k.dtype != k_cache.dtype:
        k, v = k.to(k_cache.dtype), v.to(v_cache.dtype)
    k_cache.view(-1, *k_cache.shape[2:]).index_copy_(0, slots, k)
    v_cache.view(-1, *v_cache.shape[2:]).index_copy_(0, slots, v)


def store_kv_cache(
    k: torch.Tensor, v: torch.Tensor, k_cache: torch.Tensor, v_cache: torch.Tensor, slot_mapping: torch.Tensor
) -> None:
    """Triton scatter: one program per token copies all its heads of K and V."""
    from ._triton_utils import next_pow2

    n, hk, d = k.shape
    if n == 0:
        return
    _store_kernel[(n,)](
        k,
        v,
        k_cache,
        v_cache,
        slot_mapping,
        k.stride(0),
        k.stride(1),
        k.stride(2),
        v.stride(0),
        v.stride(1),
        v.stride(2),
        k_cache.stride(0),
        k_cache.stride(1),
        k_cache.stride(2),
        k_cache.stride(3),
        v_cache.stride(0),
        v_cache.stride(1),
        v_cache.stride(2),
        v_cache.stride(3),
        k_cache.shape[1],
        hk,
        d,
        BLOCK=next_pow2(hk * d),
    )


def _define_kernel():
    import triton
    import triton.language as tl

    @triton.jit
    def kernel(
        k_ptr,
        v_ptr,
        kc_ptr,
        vc_ptr,
        slot_ptr,
        sk0,
        sk1,
        sk2,
        sv0,
        sv1,
        sv2,
        skc0,
        skc1,
        skc2,
        skc3,
        svc0,
        svc1,
        svc2,
        svc3,
        block_size,
        H,
        D,
        BLOCK: tl.constexpr,
    ):
        tok = tl.program_id(0)
        slot = tl.load(slot_ptr + tok)
        offs = tl.arange(0, BLOCK)
        h = offs // D
        d = offs % D
        mask = (offs < H * D) & (slot >= 0)
        slot = tl.maximum(slot, 0)
        blk = slot // block_size
        off = slot % block_size
        kv = tl.load(k_ptr + tok * sk0 + h * sk1 + d * sk2, mask=mask)
        tl.store(
            kc_ptr + blk * skc0 + off * skc1 + h * skc2 + d * skc3, kv.to(kc_ptr.dtype.element_ty), mask=mask
        )
        vv = tl.load(v_ptr + tok * sv0 + h * sv1 + d * sv2, mask=mask)
        tl.store(
            vc_ptr + blk * svc0 + off * svc1 + h * svc2 + d * svc3, vv.to(vc_ptr.dtype.element_ty), mask=mask
        )

    return kernel


_store_kernel = LazyKernel(_define_kernel)
