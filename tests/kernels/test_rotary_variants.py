"""rope_inv_freq against transformers' own ROPE_INIT_FUNCTIONS, and the cos/sin path against HF Llama."""

from __future__ import annotations

import pytest
import torch

from longlens.kernels import rotary

transformers = pytest.importorskip("transformers")
from transformers import LlamaConfig  # noqa: E402
from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS  # noqa: E402

HEAD_DIM, HEADS, MAX_POS = 64, 4, 2048
CASES = [
    ("default", 10000.0, None),
    ("linear", 10000.0, {"rope_type": "linear", "factor": 4.0}),
    ("dynamic", 500000.0, {"type": "dynamic", "factor": 2.0}),  # legacy "type" key
    ("yarn", 1e6, {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 512}),
    (
        "yarn-m",
        1e4,
        {
            "rope_type": "yarn",
            "factor": 8.0,
            "original_max_position_embeddings": 256,
            "mscale": 0.707,
            "mscale_all_dim": 1.0,
            "beta_fast": 16,
            "beta_slow": 2,
        },
    ),
    (
        "llama3",
        500000.0,
        {
            "rope_type": "llama3",
            "factor": 8.0,
            "low_freq_factor": 1.0,
            "high_freq_factor": 4.0,
            "original_max_position_embeddings": 256,
        },
    ),
]


def _hf(theta: float, scaling: dict | None, seq_len: int | None = None) -> tuple[torch.Tensor, float]:
    params = {"rope_theta": theta, **(scaling or {"rope_type": "default"})}
    params.setdefault("rope_type", params.get("type"))
    cfg = LlamaConfig(
        hidden_size=HEAD_DIM * HEADS,
        num_attention_heads=HEADS,
        max_position_embeddings=MAX_POS,
        rope_parameters=params,
    )
    if params["rope_type"] == "default":
        return 1.0 / (theta ** (torch.arange(0, HEAD_DIM, 2, dtype=torch.int64).float() / HEAD_DIM)), 1.0
    return ROPE_INIT_FUNCTIONS[params["rope_type"]](cfg, "cpu", seq_len)


@pytest.mark.parametrize("name,theta,scaling", CASES, ids=[c[0] for c in CASES])
def test_inv_freq_matches_transformers(name, theta, scaling):
    inv, scale = rotary.rope_inv_freq(HEAD_DIM, theta, scaling, MAX_POS)
    exp_inv, exp_scale = _hf(theta, scaling)
    torch.testing.assert_close(inv, exp_inv.float(), atol=0, rtol=1e-6)
    assert scale == pytest.approx(exp_scale)


def test_dynamic_ntk_rebuilds_past_max_positions():
    scaling = {"rope_type": "dynamic", "factor": 2.0}
    base_inv, _ = rotary.rope_inv_freq(HEAD_DIM, 1e4, scaling, MAX_POS, seq_len=MAX_POS // 2)
    long_inv, _ = rotary.rope_inv_freq(HEAD_DIM, 1e4, scaling, MAX_POS, seq_len=3 * MAX_POS)
    torch.testing.assert_close(base_inv, _hf(1e4, None)[0])  # unchanged within the trained window
    torch.testing.assert_close(long_inv, _hf(1e4, scaling, seq_len=3 * MAX_POS)[0].float(), atol=0, rtol=1e-6)
    assert (long_inv[1:] < base_inv[1:]).all()


def test_unknown_rope_type_is_a_clear_error():
    with pytest.raises(ValueError, match="rope_type"):
        rotary.rope_inv_freq(HEAD_DIM, 1e4, {"rope_type": "bogus"}, MAX_POS)


def test_cos_sin_and_rotation_match_hf_llama():
    from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding, apply_rotary_pos_emb

    scaling = CASES[3][2]
    cfg = LlamaConfig(
        hidden_size=HEAD_DIM * HEADS,
        num_attention_heads=HEADS,
        max_position_embeddings=MAX_POS,
        rope_parameters={"rope_theta": 1e6, **scaling},
    )
    emb = LlamaRotaryEmbedding(cfg)
    g = torch.Generator().manual_seed(5)
    pos = torch.tensor([0, 3, 511, 1500, 2047])
    q = torch.randn(5, HEADS, HEAD_DIM, generator=g)
    k = torch.randn(5, 2, HEAD_DIM, generator=g)
    cos, sin = emb(q[None].transpose(1, 2), pos[None])
    eq, ek = apply_rotary_pos_emb(q[None].transpose(1, 2), k[None].transpose(1, 2), cos, sin)
    inv, s = rotary.rope_inv_freq(HEAD_DIM, 1e6, scaling, MAX_POS)
    cache = rotary.build_cos_sin_cache(inv, MAX_POS, s)
    qo, ko = rotary.apply_rotary_torch(q, k, pos, cache)
    torch.testing.assert_close(qo, eq[0].transpose(0, 1), atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(ko, ek[0].transpose(0, 1), atol=1e-4, rtol=1e-4)
