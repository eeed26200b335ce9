"""The GPU benchmark script runs end to end at toy sizes on CPU and its correctness checks pass."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_attention.py"


def test_bench_attention_tiny(tmp_path, force_triton):  # force_triton skips when triton is missing
    spec = importlib.util.spec_from_file_location("bench_attention", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = tmp_path / "attention.json"
    res = mod.main(["--tiny", "--out", str(out)])
    assert not res.get("failed")
    data = json.loads(out.read_text())
    assert len(data["prefill"]) == 1 and len(data["decode"]) == 4
    for row in data["prefill"] + data["decode"]:
        assert row["allclose"] and row["max_err_vs_ref"] < 5e-2
    assert all(r["max_err_vs_sdpa"] < 5e-2 for r in data["decode"])
