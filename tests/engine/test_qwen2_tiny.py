"""A tiny random Qwen2 (QKV bias, GQA, tied embeddings) built here: our engine vs transformers."""

from __future__ import annotations

import pytest
import torch

from longlens.models.llm import LLM, SamplingParams

pytest.importorskip("longlens.kernels.ops")


@pytest.fixture(scope="module")
def qwen2(tmp_path_factory):  # noqa: ANN001, ANN201
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    cfg = Qwen2Config(vocab_size=256, hidden_size=64, intermediate_size=128, num_hidden_layers=3,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                      rope_theta=10000.0, tie_word_embeddings=True, rms_norm_eps=1e-6, eos_token_id=255,
                      bos_token_id=254)
    model = Qwen2ForCausalLM(cfg).eval()
    with torch.no_grad():  # make the biases matter (they start at zero)
        for layer in model.model.layers:
            for proj in (layer.self_attn.q_proj, layer.self_attn.k_proj, layer.self_attn.v_proj):
                proj.bias.normal_(0, 0.5)
    path = tmp_path_factory.mktemp("qwen2") / "tiny"
    model.save_pretrained(path)
    return model, path


def prompts() -> list[list[int]]:
    g = torch.Generator().manual_seed(1)
    return [torch.randint(0, 250, (n,), generator=g).tolist() for n in (1, 5, 17, 40, 90, 200)]


def hf_greedy(model, ids: list[int], n: int) -> list[int]:  # noqa: ANN001
    out = model.generate(torch.tensor([ids]), do_sample=False, max_new_tokens=n, pad_token_id=255,
                         eos_token_id=None)
    return out[0, len(ids):].tolist()


def test_tiny_qwen2_matches_transformers(qwen2):  # noqa: ANN001
    model, path = qwen2
    assert model.model.layers[0].self_attn.q_proj.bias is not None
    refs = [hf_greedy(model, p, 10) for p in prompts()]
    sp = SamplingParams(max_tokens=10, ignore_eos=True)
    llm = LLM(path, kv_cache_tokens=2048)
    try:
        assert llm.tokenizer is None
        assert [o.outputs[0].token_ids for o in llm.generate(prompts(), sp)] == refs
        ids = prompts()[-1]
        with torch.inference_mode():
            ref = model(torch.tensor([ids])).logits[0].float()
        ours = llm.engine.runner.prefill_logits(ids)
        assert (ours - ref).abs().max().item() < 1e-3 * ref.abs().max().item()
    finally:
        llm.close()
    chunked = LLM(path, kv_cache_tokens=320, max_num_batched_tokens=16)  # chunks and preemption
    try:
        outs = chunked.generate(prompts(), sp)
        assert [o.outputs[0].token_ids for o in outs] == refs
    finally:
        chunked.close()
