"""The GPU benchmark script: a clear refusal without CUDA, and its correctness path at toy size on CPU."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_sparse_prefill.py"


def _load():  # noqa: ANN202
    spec = importlib.util.spec_from_file_location("bench_sparse_prefill", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.skipif(torch.cuda.is_available(), reason="the refusal is for machines without a GPU")
def test_refuses_without_cuda(tmp_path):
    with pytest.raises(SystemExit, match="needs a CUDA GPU"):
        _load().main(["--out", str(tmp_path / "x.json")])
    assert not (tmp_path / "x.json").exists()


def test_tiny_run_checks_kernel_against_reference(tmp_path, needs_triton):
    out = tmp_path / "sparse.json"
    res = _load().main(["--tiny", "--out", str(out)])
    assert not res.get("failed")
    (row,) = json.loads(out.read_text())["attention"]
    assert row["allclose"] and 0 < row["kept"] < 1
    assert {"estimate_ms", "index_ms", "sparse_kernel_ms", "dense_ours_ms", "sparse_total_ms"} <= row.keys()
