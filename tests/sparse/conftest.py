"""Sparse-prefill tests: Triton through its CPU interpreter when no GPU is present (set before triton loads)."""

from __future__ import annotations

import os

import pytest
import torch

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


@pytest.fixture
def needs_triton() -> None:
    pytest.importorskip("triton")
