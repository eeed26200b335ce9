"""The two constants every attention path shares: the default softmax scale and the exp2 factor."""

from __future__ import annotations

import math

LOG2E = 1.4426950408889634
"""log2(e): the Triton kernels compute exp(x) as exp2(x * LOG2E), one fast instruction on a GPU, so they take
the softmax scale pre-multiplied by it."""


def softmax_scale(head_dim: int, sm_scale: float | None = None) -> float:
    """`sm_scale`, or the usual 1/sqrt(head_dim) when it is None."""
    return sm_scale if sm_scale is not None else 1.0 / math.sqrt(head_dim)
