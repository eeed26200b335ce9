"""Context extension: YaRN and dynamic NTK chosen by config or by an engine override, checked against
transformers (its rope init functions and a whole tiny Qwen2 run past the trained window)."""

from __future__ import annotations

import pytest
import torch

from longlens.models.llm import LLM
from longlens.models.llm.config import ModelConfig, normalize_rope_scaling

transformers = pytest.importorskip("transformers")
from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS  # noqa: E402

TRAINED = 128
YARN = {"type": "yarn", "factor": 4.0, "original_max_position_embeddings": TRAINED}  # Qwen's README recipe
DYNAMIC = {"rope_type": "dynamic", "factor": 2.0}


def _hf_config(rope: dict | None):  # noqa: ANN202
    from transformers import Qwen2Config

    params = {"rope_theta": 10000.0, **(normalize_rope_scaling(rope) or {"rope_type": "default"})}
    params.pop("type", None)
    return Qwen2Config(vocab_size=256, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                       num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=TRAINED,
                       tie_word_embeddings=True, eos_token_id=255, bos_token_id=254, rope_parameters=params)


@pytest.fixture(scope="module")
def plain_checkpoint(tmp_path_factory):  # noqa: ANN001, ANN201
    """A tiny Qwen2 trained (randomly) for 128 positions, saved without any rope scaling."""
    from transformers import Qwen2ForCausalLM

    torch.manual_seed(1)
    model = Qwen2ForCausalLM(_hf_config(None)).eval()
    with torch.no_grad():  # sharp attention, so that positions matter
        for layer in model.model.layers:
            layer.self_attn.q_proj.weight.normal_(0, 0.3)
            layer.self_attn.k_proj.weight.normal_(0, 0.3)
    path = tmp_path_factory.mktemp("qwen2") / "plain"
    model.save_pretrained(path)
    return model.state_dict(), path


def _hf_logits(state: dict, rope: dict, ids: list[int]) -> torch.Tensor:
    from transformers import Qwen2ForCausalLM

    model = Qwen2ForCausalLM(_hf_config(rope)).eval()
    model.load_state_dict(state)
    with torch.inference_mode():
        return model(torch.tensor([ids])).logits[0].float()


@pytest.mark.parametrize("rope,max_len", [(YARN, None), (DYNAMIC, 256)], ids=["yarn", "dynamic"])
def test_engine_override_matches_transformers_past_the_trained_window(plain_checkpoint, rope, max_len):  # noqa: ANN001
    state, path = plain_checkpoint
    kw = {"max_model_len": max_len} if max_len else {}
    llm = LLM(path, kv_cache_tokens=1024, rope_scaling=rope, dtype="float32", **kw)
    try:
        runner = llm.engine.runner
        assert runner.max_model_len == (512 if rope is YARN else 256)
        n = runner.max_model_len if rope is DYNAMIC else 300  # HF's dynamic NTK scales for the current length
        ids = torch.randint(0, 250, (n,), generator=torch.Generator().manual_seed(2)).tolist()
        ours = runner.prefill_logits(ids).cpu()
    finally:
        llm.close()
    ref = _hf_logits(state, rope, ids)
    err = (ours - ref).abs().max().item()
    assert err < 1e-3 * ref.abs().max().item()
    plain = _hf_logits(state, {"rope_type": "default"}, ids)
    assert (plain - ref).abs().max().item() > 30 * err  # the scaling really changed the model


@pytest.mark.parametrize("rope,seq_len", [(YARN, None), ({**YARN, "factor": 8.0, "beta_fast": 16}, None),
                                          (DYNAMIC, 4 * TRAINED), (DYNAMIC, TRAINED)])
def test_inv_freq_and_attention_factor_match_transformers(rope, seq_len):  # noqa: ANN001
    from longlens.kernels.rotary import rope_inv_freq

    norm = normalize_rope_scaling(rope)
    inv, factor = rope_inv_freq(16, 10000.0, norm, TRAINED, seq_len=seq_len)
    exp_inv, exp_factor = ROPE_INIT_FUNCTIONS[norm["rope_type"]](_hf_config(rope), "cpu", seq_len)
    torch.testing.assert_close(inv, exp_inv.float(), atol=0, rtol=1e-6)
    assert factor == pytest.approx(exp_factor)


def test_context_lengths_from_rope_scaling():
    base = {"architectures": ["Qwen2ForCausalLM"], "hidden_size": 64, "num_attention_heads": 4,
            "num_hidden_layers": 1, "intermediate_size": 128, "vocab_size": 256, "max_position_embeddings": 32768}
    qwen_1m_recipe = ModelConfig.from_dict({**base, "rope_scaling": YARN | {"original_max_position_embeddings": 32768}})
    assert qwen_1m_recipe.rope_scaling["rope_type"] == "yarn" and qwen_1m_recipe.max_context_len() == 131072
    assert qwen_1m_recipe.default_max_model_len() == 131072
    dyn = ModelConfig.from_dict({**base, "rope_scaling": DYNAMIC})
    assert dyn.max_context_len() == 65536 and dyn.default_max_model_len() == 32768
    plain = ModelConfig.from_dict({**base, "rope_parameters": {"rope_type": "default", "rope_theta": 1e6}})
    assert plain.rope_scaling is None and plain.rope_theta == 1e6 and plain.max_context_len() == 32768
    assert normalize_rope_scaling({"rope_type": "default"}) is None
