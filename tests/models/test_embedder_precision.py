"""The embedder's precision: half on a GPU by default, fp32 on a CPU, and a forced one really used."""

import numpy as np
import pytest

from longlens.config import Settings
from longlens.models.embedder import Embedder, compute_precision


def test_auto_is_half_on_a_gpu_and_fp32_on_a_cpu():
    assert compute_precision("auto", "cuda") == "fp16"
    assert compute_precision("auto", "cuda:1") == "fp16"
    assert compute_precision("auto", "cpu") == "fp32"
    assert compute_precision("fp32", "cuda") == "fp32"  # the setting that forces full precision
    with pytest.raises(ValueError, match="precision must be one of"):
        compute_precision("int4", "cpu")


def test_settings_refuse_an_unknown_precision(tmp_path):
    with pytest.raises(ValueError, match="embedder_precision"):
        Settings(data_dir=tmp_path, embedder_precision="half")
    assert Settings(data_dir=tmp_path).embedder_precision == "auto"


def test_bf16_runs_in_bf16_and_stays_close_to_fp32(embedder):
    import torch

    texts = ["The heron colony counted 214 nesting pairs in 2025.", "Ferry capacity is 312 passengers.",
             "A short one."]
    half = Embedder(device="cpu", precision="bf16")
    got = half.encode(texts)
    assert next(half.model.parameters()).dtype == torch.bfloat16
    assert got.dtype == np.float32 and np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-3)
    cosine = np.sum(got * embedder.encode(texts), axis=1)
    assert cosine.min() > 0.99


def test_a_model_saved_in_fp16_runs_in_fp32_on_a_cpu(embedder, tmp_path):
    """Weights load in the dtype they were saved in; on a CPU fp16 would be several times slower."""
    import torch

    Embedder(device="cpu").model.half().save(str(tmp_path / "half"), safe_serialization=True)  # a copy of its own
    loaded = Embedder(str(tmp_path / "half"), device="cpu")
    vec = loaded.encode(["Ferry capacity is 312 passengers."])
    assert next(loaded.model.parameters()).dtype == torch.float32
    assert float(vec[0] @ embedder.encode(["Ferry capacity is 312 passengers."])[0]) > 0.999
