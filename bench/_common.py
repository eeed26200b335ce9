"""Helpers the GPU benchmark scripts share: timing and the printed table."""

from __future__ import annotations

import time
from collections.abc import Callable


def bench_ms(fn: Callable[[], object], device: str, warmup: int = 25, rep: int = 100) -> float:
    """Median milliseconds (triton's do_bench on a GPU, one wall-clock call on a CPU)."""
    if device == "cuda":
        from triton.testing import do_bench

        return float(do_bench(fn, warmup=warmup, rep=rep, return_mode="median"))
    t = time.perf_counter()
    fn()
    return (time.perf_counter() - t) * 1e3


def print_table(title: str, rows: list[dict]) -> None:
    """Rows of dicts as aligned columns (the union of their keys, in first-seen order)."""
    if not rows:
        return
    cols = list(rows[0].keys())
    for r in rows[1:]:
        cols += [c for c in r if c not in cols]
    fmt = lambda x: f"{x:.4g}" if isinstance(x, float) else str(x)  # noqa: E731
    cells = [[fmt(r.get(c, "")) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    print(f"\n{title}")
    print("  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)))
    for row in cells:
        print("  ".join(x.ljust(w) for x, w in zip(row, widths, strict=True)))
