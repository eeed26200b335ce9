"""Helpers the GPU benchmark scripts share: timing and the printed table."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path


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


def write_result(result: dict, out: Path) -> dict:
    """Write a benchmark's JSON (folders made as needed) and say where."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"\nwrote {out}")
    return result


def write_checked(result: dict, out: Path, checked_rows: list[dict]) -> dict:
    """Write the JSON; rows whose kernel disagreed with its reference mark the result failed (exit 1)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    bad = [r for r in checked_rows if not r["allclose"]]
    if bad:
        print(f"CORRECTNESS FAILURE in {len(bad)} case(s)", file=sys.stderr)
        result["failed"] = len(bad)
    return result
