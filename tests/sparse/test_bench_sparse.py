"""The GPU benchmark script: a clear refusal without CUDA, and its correctness path at toy size on CPU."""

from __future__ import annotations

import json

import pytest
import torch


@pytest.mark.skipif(torch.cuda.is_available(), reason="the refusal is for machines without a GPU")
def test_refuses_without_cuda(tmp_path, bench_script):
    with pytest.raises(SystemExit, match="needs a CUDA GPU"):
        bench_script("bench_sparse_prefill").main(["--out", str(tmp_path / "x.json")])
    assert not (tmp_path / "x.json").exists()


def test_tiny_run_checks_kernel_against_reference(tmp_path, needs_triton, bench_script):
    out = tmp_path / "sparse.json"
    res = bench_script("bench_sparse_prefill").main(["--tiny", "--out", str(out)])
    assert not res.get("failed")
    (row,) = json.loads(out.read_text())["attention"]
    assert row["allclose"] and 0 < row["kept"] < 1
    assert {"estimate_ms", "index_ms", "sparse_kernel_ms", "dense_ours_ms", "sparse_total_ms"} <= row.keys()
