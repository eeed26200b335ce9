"""Kernel tests: Triton runs through its CPU interpreter when no GPU is present.

TRITON_INTERPRET must be set before anything imports triton, hence at conftest import time.
"""

from __future__ import annotations

import os

import pytest
import torch

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")

DEVICES = ["cuda"] if torch.cuda.is_available() else ["cpu"]


def _triton_ok() -> bool:
    try:
        import triton  # noqa: F401
    except ImportError:
        return False
    return True


HAS_TRITON = _triton_ok()
needs_triton = pytest.mark.skipif(
    not HAS_TRITON, reason="triton is not installed (CPU tests need the test extra)"
)


@pytest.fixture(params=DEVICES)
def device(request) -> str:
    return request.param


@pytest.fixture
def force_triton(monkeypatch):
    """Route longlens.kernels.ops to the Triton kernels even for CPU tensors."""
    if not HAS_TRITON:
        pytest.skip("triton is not installed")
    monkeypatch.setenv("LONGLENS_FORCE_TRITON", "1")
