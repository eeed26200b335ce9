"""The online-softmax step every flash-style kernel here takes per tile of keys, written once.

Imported only inside the functions that build kernels (it needs triton). Triton finds a kernel's callees
among its module's globals, so a kernel module binds this helper with `global` before defining the kernel.
"""

from __future__ import annotations

import triton
import triton.language as tl


@triton.jit
def online_softmax_tile(q, kt, vv, valid, m_i, l_i, acc, scale_log2, PREC: tl.constexpr):
    """Fold one tile of keys (`kt` [D, N], transposed) and values (`vv` [N, D]) into the running row maxima
    `m_i`, row sums `l_i` and output `acc`; keys where `valid` is false contribute nothing. Scores are in
    base 2 (`scale_log2` = softmax scale * LOG2E)."""
    qk = tl.dot(q, kt, input_precision=PREC) * scale_log2
    qk = tl.where(valid, qk, float("-inf"))
    m_new = tl.maximum(m_i, tl.max(qk, 1))
    p = tl.exp2(qk - m_new[:, None])
    alpha = tl.exp2(m_i - m_new)
    l_i = l_i * alpha + tl.sum(p, 1)
    acc = acc * alpha[:, None] + tl.dot(p.to(vv.dtype), vv, input_precision=PREC)
    return m_new, l_i, acc
