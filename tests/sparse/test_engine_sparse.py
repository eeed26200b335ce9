"""The engine's sparse-prefill path on a tiny random Qwen2: equal to dense when the budgets cover every key,
taken only above the threshold, and working through chunked prefill (keys read back from the paged cache)."""

from __future__ import annotations

import pytest
import torch

from longlens.models.llm import LLM, SamplingParams
from longlens.models.llm import sparse_prefill as engine_sparse

EVERYTHING = {"vertical_min": 10**6, "slash_min": 10**6, "last_q": 16, "block_m": 16}
TIGHT = {"vertical_min": 8, "vertical_max": 8, "slash_min": 8, "slash_max": 8, "sink": 2, "local": 4, "last_q": 16,
         "block_m": 16}


@pytest.fixture(scope="module")
def tiny_qwen2(tmp_path_factory):  # noqa: ANN001, ANN201
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    cfg = Qwen2Config(vocab_size=256, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                      rope_theta=10000.0, tie_word_embeddings=True, eos_token_id=255, bos_token_id=254)
    path = tmp_path_factory.mktemp("qwen2") / "tiny"
    Qwen2ForCausalLM(cfg).eval().save_pretrained(path)
    return path


def _prompts() -> list[list[int]]:
    g = torch.Generator().manual_seed(7)
    return [torch.randint(0, 250, (n,), generator=g).tolist() for n in (5, 90, 150)]


def _run(path, **kw) -> tuple[list[list[int]], torch.Tensor]:  # noqa: ANN001
    llm = LLM(path, kv_cache_tokens=1024, dtype="float32", **kw)  # fp32 on a GPU too: exact comparisons
    try:
        outs = llm.generate(_prompts(), SamplingParams(max_tokens=6, ignore_eos=True))
        logits = llm.engine.runner.prefill_logits(_prompts()[-1])
    finally:
        llm.close()
    return [o.outputs[0].token_ids for o in outs], logits


@pytest.fixture
def calls(monkeypatch) -> list[int]:  # noqa: ANN001
    """Query lengths of every sparse attention call, per layer."""
    seen: list[int] = []
    real = engine_sparse.estimate_vertical_slash

    def spy(q, k, cfg):  # noqa: ANN001, ANN202
        seen.append(q.shape[0])
        return real(q, k, cfg)

    monkeypatch.setattr(engine_sparse, "estimate_vertical_slash", spy)
    return seen


def test_sparse_with_full_budgets_equals_dense(tiny_qwen2, calls):  # noqa: ANN001
    dense_tokens, dense_logits = _run(tiny_qwen2, sparse_prefill=False)
    assert not calls
    tokens, logits = _run(tiny_qwen2, sparse_prefill=True, sparse_prefill_threshold=64, sparse_pattern=EVERYTHING)
    assert tokens == dense_tokens
    torch.testing.assert_close(logits, dense_logits, atol=1e-4, rtol=1e-4)
    assert set(calls) == {90, 150}  # the two long prompts, each layer; the 5-token one and decodes stay dense
    calls.clear()
    chunked, _ = _run(tiny_qwen2, sparse_prefill=True, sparse_prefill_threshold=64, sparse_pattern=EVERYTHING,
                      max_num_batched_tokens=40)
    assert chunked == dense_tokens
    assert calls and min(calls) <= 40  # chunks past 64 keys went sparse, reading earlier keys from the cache


def test_tight_budgets_take_the_sparse_path(tiny_qwen2, calls):  # noqa: ANN001
    tokens, logits = _run(tiny_qwen2, sparse_pattern=TIGHT, sparse_prefill_threshold=100)
    assert calls == [150] * 4  # 2 layers, generate + prefill_logits; below the threshold stays dense
    assert torch.isfinite(logits).all() and all(len(t) == 6 for t in tokens)


def test_default_threshold_keeps_short_prompts_dense(tiny_qwen2, calls):  # noqa: ANN001
    _run(tiny_qwen2)
    assert not calls
