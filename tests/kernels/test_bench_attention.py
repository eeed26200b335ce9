"""The GPU benchmark script runs end to end at toy sizes on CPU and its correctness checks pass."""

from __future__ import annotations

import json


def test_bench_attention_tiny(tmp_path, force_triton, bench_script):  # force_triton skips without triton
    mod = bench_script("bench_attention")
    out = tmp_path / "attention.json"
    res = mod.main(["--tiny", "--out", str(out)])
    assert not res.get("failed")
    data = json.loads(out.read_text())
    assert len(data["prefill"]) == 1 and len(data["decode"]) == 4
    for row in data["prefill"] + data["decode"]:
        assert row["allclose"] and row["max_err_vs_ref"] < 5e-2
    assert all(r["max_err_vs_sdpa"] < 5e-2 for r in data["decode"])
