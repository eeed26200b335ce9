"""Shared helpers for the Triton kernels: interpreter detection and block-size heuristics.

Imported only by kernel modules, so `import longlens.kernels` never needs triton.
"""

from __future__ import annotations

import os

import torch


def is_interpreting() -> bool:
    """True when triton runs kernels on CPU through its interpreter (TRITON_INTERPRET=1)."""
    return os.environ.get("TRITON_INTERPRET", "0") not in ("", "0")


def upcast_flag(*tensors: torch.Tensor) -> bool:
    """Whether kernels must upcast loaded values to fp32 right after `tl.load`.

    bf16 arithmetic and bf16 `tl.dot` are wrong under the triton 3.6-3.9 interpreter; on a GPU the native
    bf16 path is kept (the kernels accumulate in fp32 anyway).
    """
    return is_interpreting() and any(t.dtype == torch.bfloat16 for t in tensors)


def next_pow2(n: int) -> int:
    """Smallest power of two >= n (>= 1)."""
    return 1 << max(0, int(n) - 1).bit_length()


def check_head_dim(d: int) -> None:
    """Attention kernels tile the head dimension in one block, so it must be a power of two."""
    if d < 16 or d & (d - 1):
        raise ValueError(f"head dim must be a power of two >= 16 for the Triton attention kernels, got {d}")


def attn_blocks(head_dim: int, elem_size: int = 2) -> tuple[int, int, int, int]:
    """(BLOCK_M, BLOCK_N, num_warps, num_stages) for the flash kernels.

    Small tiles under the interpreter (cost grows with tile area); on a GPU, Hopper-sized tiles for 16-bit
    inputs and smaller ones for fp32 / large heads so the pipelined K/V stages fit in shared memory.
    """
    if is_interpreting():
        return 32, 32, 4, 1
    if elem_size >= 4 or head_dim > 128:
        return 64, 32, 4, 2
    return (128, 64, 8, 3) if head_dim == 128 else (128, 64, 4, 3)


class LazyKernel:
    """Defers `triton.jit` to first launch, so kernel modules (which also hold the PyTorch references)
    import without triton installed."""

    def __init__(self, factory):
        self._factory = factory
        self._kernel = None

    def __getitem__(self, grid):
        if self._kernel is None:
            self._kernel = self._factory()
        return self._kernel[grid]
