"""Loading separate checkpoint projections (q/k/v, gate/up) into our stacked ones."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from longlens.models.llm.layers import StackedLinear
from longlens.models.llm.weights import load_weights


class _Attn(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.qkv_proj = StackedLinear(4, {"q_proj": 6, "k_proj": 2, "v_proj": 2}, bias=True)


class _Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.config = type("Cfg", (), {"tie_word_embeddings": False})()
        self.self_attn = _Attn()


def _checkpoint(tmp_path, drop: str | None = None):  # noqa: ANN001, ANN202
    g = torch.Generator().manual_seed(3)
    tensors = {}
    for name, rows in (("q_proj", 6), ("k_proj", 2), ("v_proj", 2)):
        tensors[f"self_attn.{name}.weight"] = torch.randn(rows, 4, generator=g)
        tensors[f"self_attn.{name}.bias"] = torch.randn(rows, generator=g)
    if drop:
        del tensors[drop]
    save_file(tensors, str(tmp_path / "model.safetensors"))
    return tensors


def test_separate_projections_fill_their_rows_of_the_stacked_one(tmp_path):
    tensors = _checkpoint(tmp_path)
    model = _Tiny()
    load_weights(model, tmp_path)
    w, b = model.self_attn.qkv_proj.weight, model.self_attn.qkv_proj.bias
    torch.testing.assert_close(w[:6], tensors["self_attn.q_proj.weight"])
    torch.testing.assert_close(w[6:8], tensors["self_attn.k_proj.weight"])
    torch.testing.assert_close(w[8:], tensors["self_attn.v_proj.weight"])
    torch.testing.assert_close(b[8:], tensors["self_attn.v_proj.bias"])


def test_a_missing_projection_is_an_error_not_random_rows(tmp_path):
    _checkpoint(tmp_path, drop="self_attn.k_proj.weight")
    with pytest.raises(KeyError, match="qkv_proj.weight"):
        load_weights(_Tiny(), tmp_path)
