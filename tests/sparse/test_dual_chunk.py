"""Dual chunk attention: the engine's blocked three-rotation attention against the distance-matrix
definition, and a whole tiny Qwen2 in the engine (one pass, chunked prefill, decode, batching) against
transformers' Qwen2 running that definition as its attention."""

from __future__ import annotations

import json

import pytest
import torch

from longlens.kernels import dual_chunk as dca
from longlens.kernels.dual_chunk import (
    DualChunkConfig,
    DualChunkQueries,
    dual_chunk_attention_seq,
    dual_chunk_attention_torch,
    dual_chunk_step,
    rotate_dual_chunk,
)
from longlens.kernels.prefill_attention import prefill_attention_torch
from longlens.kernels.rotary import apply_rotary_torch, build_cos_sin_cache, rope_inv_freq
from longlens.models.llm import LLM, SamplingParams
from longlens.models.llm.config import ModelConfig

transformers = pytest.importorskip("transformers")

HEAD_DIM = 16
DCA = {"chunk_size": 48, "local_size": 16}  # chunks of 32 tokens
DCA_SCALED = {**DCA, "original_max_position_embeddings": 40}


def _cache(cfg: DualChunkConfig, rows: int | None = None) -> torch.Tensor:
    inv_freq, _ = rope_inv_freq(HEAD_DIM, 10000.0, None, 4096)
    return build_cos_sin_cache(inv_freq, rows or cfg.max_rotary_position + 1)


def _qkv(n: int, hq: int, hkv: int, seed: int) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(n, h, HEAD_DIM, generator=g) for h in (hq, hkv, hkv))


def _engine_side(q, k, v, cfg, scale=None, last=None):  # noqa: ANN001, ANN202
    """The engine's path for one sequence: rotate all tokens, attend with the last `last` queries."""
    n = q.shape[0]
    queries, k_rot = rotate_dual_chunk(q, k, dual_chunk_step(torch.arange(n), _cache(cfg), cfg), scale)
    rows = slice(n - (last or n), n)
    sub = DualChunkQueries(queries.intra[rows], queries.succ[rows], queries.inter[rows])
    return dual_chunk_attention_seq(sub, k_rot, v, cfg.chunk_len)


def _plain(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, cfg: DualChunkConfig) -> torch.Tensor:
    n = q.shape[0]
    qr, kr = apply_rotary_torch(q, k, torch.arange(n), _cache(cfg, rows=n))
    cu = torch.tensor([0, n], dtype=torch.int32)
    return prefill_attention_torch(qr, kr, v, cu, cu, n, n)


def test_it_is_plain_rope_attention_while_no_distance_passes_chunk_size():
    """Distances are true within a chunk and for a chunk's first local_size queries over the previous one,
    so the first chunk_size + 1 tokens see plain RoPE; the next query is the first with a capped distance."""
    cfg = DualChunkConfig(**DCA)
    n = cfg.chunk_size + 1
    q, k, v = _qkv(n + 1, 4, 2, seed=0)
    plain = _plain(q[:n], k[:n], v[:n], cfg)
    assert torch.allclose(dual_chunk_attention_torch(q[:n], k[:n], v[:n], _cache(cfg), cfg), plain, atol=1e-5)
    assert torch.allclose(_engine_side(q[:n], k[:n], v[:n], cfg), plain, atol=1e-5)
    ours, plain = _engine_side(q, k, v, cfg), _plain(q, k, v, cfg)
    assert torch.allclose(ours[:-1], plain[:-1], atol=1e-5)
    assert not torch.allclose(ours[-1], plain[-1], atol=1e-3)


@pytest.mark.parametrize("n,hq,hkv,last", [(31, 4, 2, None), (33, 4, 4, None), (100, 6, 2, None),
                                           (150, 4, 1, 37), (150, 4, 2, 1), (97, 2, 2, 64)])
@pytest.mark.parametrize("scaled", [False, True], ids=["unit", "length-scaled"])
def test_engine_attention_matches_the_definition(n, hq, hkv, last, scaled, monkeypatch):  # noqa: ANN001
    cfg = DualChunkConfig(**DCA)
    q, k, v = _qkv(n, hq, hkv, seed=n + hq)
    scale = torch.linspace(1.0, 1.3, n) if scaled else None
    ref = dual_chunk_attention_torch(q, k, v, _cache(cfg), cfg, scale=scale)
    ours = _engine_side(q, k, v, cfg, scale, last)
    assert (ours - ref[n - (last or n):]).abs().max().item() < 1e-5
    monkeypatch.setattr(dca, "SCORE_BUDGET", 7 * hq * n)  # query blocks of 7 rows: same result
    assert (_engine_side(q, k, v, cfg, scale, last) - ours).abs().max().item() < 1e-5


def test_bf16_stays_close_to_the_definition():
    """bf16 (the GPU dtype) takes the out-of-place softmax branch."""
    cfg = DualChunkConfig(**DCA)
    q, k, v = _qkv(120, 4, 2, seed=9)
    ref = dual_chunk_attention_torch(q, k, v, _cache(cfg), cfg)
    queries, k_rot = rotate_dual_chunk(q, k, dual_chunk_step(torch.arange(120), _cache(cfg), cfg), None)
    low = DualChunkQueries(*(x.bfloat16() for x in (queries.intra, queries.succ, queries.inter)))
    ours = dual_chunk_attention_seq(low, k_rot.bfloat16(), v.bfloat16(), cfg.chunk_len)
    assert ours.dtype == torch.bfloat16
    assert (ours.float() - ref).abs().max().item() < 3e-2


def test_config_errors_name_the_problem():
    with pytest.raises(ValueError, match="local_size < chunk_size"):
        DualChunkConfig(chunk_size=64, local_size=64)
    with pytest.raises(ValueError, match="lacks local_size"):
        DualChunkConfig.from_dict({"chunk_size": 64})
    assert DualChunkConfig(64, 16).length_scale(10**6) == 1.0  # no original window: no scaling
    scaled = DualChunkConfig(64, 16, original_max_position_embeddings=100)
    assert scaled.length_scale(100) == 1.0
    assert scaled.length_scale(1000) == pytest.approx(1.0 + 0.1 * 2.302585, rel=1e-6)


# ---- a whole model ----

def _hf_config(dca_block: dict | None):  # noqa: ANN202
    from transformers import Qwen2Config

    cfg = Qwen2Config(vocab_size=256, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
                      rope_theta=10000.0, tie_word_embeddings=True, eos_token_id=255, bos_token_id=254)
    if dca_block is not None:
        cfg.dual_chunk_attention_config = dca_block
    return cfg


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):  # noqa: ANN001, ANN201
    """A tiny Qwen2 whose config.json declares dual chunk attention (as Qwen2.5-1M's does)."""
    from transformers import Qwen2ForCausalLM

    torch.manual_seed(3)
    model = Qwen2ForCausalLM(_hf_config(None)).eval()
    with torch.no_grad():  # sharp attention and live biases, so that positions matter
        for layer in model.model.layers:
            attn = layer.self_attn
            attn.q_proj.weight.normal_(0, 0.3)
            attn.k_proj.weight.normal_(0, 0.3)
            for proj in (attn.q_proj, attn.k_proj, attn.v_proj):
                proj.bias.normal_(0, 0.3)
    path = tmp_path_factory.mktemp("qwen2-dca") / "ckpt"
    model.save_pretrained(path)
    cfg = json.loads((path / "config.json").read_text())
    cfg["dual_chunk_attention_config"] = DCA
    (path / "config.json").write_text(json.dumps(cfg))
    return model.state_dict(), path


class DefinitionQwen2:
    """transformers' Qwen2 with its rotary switched off and the DCA definition as its attention: the
    reference model. `scale(n)` gives each token's length factor for a sequence of n tokens."""

    def __init__(self, state: dict, block: dict, monkeypatch):  # noqa: ANN001
        from transformers import AttentionInterface, Qwen2ForCausalLM
        from transformers.models.qwen2 import modeling_qwen2

        self.cfg = DualChunkConfig.from_dict(block)
        cache = _cache(self.cfg)
        self.token_scale: torch.Tensor | None = None

        def attention(module, query, key, value, attention_mask, scaling, **kwargs):  # noqa: ANN001, ANN202, ARG001
            out = dual_chunk_attention_torch(query[0].transpose(0, 1), key[0].transpose(0, 1),
                                           value[0].transpose(0, 1), cache, self.cfg, scale=self.token_scale)
            return out[None], None

        AttentionInterface.register("longlens_dca_definition", attention)
        monkeypatch.setattr(modeling_qwen2, "apply_rotary_pos_emb", lambda q, k, cos, sin, **kw: (q, k))
        self.model = Qwen2ForCausalLM(_hf_config(None)).eval()
        self.model.load_state_dict(state)
        self.model.set_attn_implementation("longlens_dca_definition")

    def logits(self, ids: list[int], prompt_len: int | None = None) -> torch.Tensor:
        """Every position's logits; token t carries the factor of length max(prompt_len, t + 1), which is
        what the engine gives it when it is written (prefill: the prompt's length; decode: the length then)."""
        n, p = len(ids), prompt_len or len(ids)
        factors = [self.cfg.length_scale(max(p, t + 1)) for t in range(n)]
        self.token_scale = None if all(f == 1.0 for f in factors) else torch.tensor(factors)
        with torch.inference_mode():
            return self.model(torch.tensor([ids])).logits[0].float()

    def greedy(self, ids: list[int], steps: int) -> list[int]:
        out = list(ids)
        for _ in range(steps):
            out.append(int(self.logits(out, prompt_len=len(ids))[-1].argmax()))
        return out[len(ids):]


def _prompts() -> list[list[int]]:
    g = torch.Generator().manual_seed(4)
    return [torch.randint(0, 250, (n,), generator=g).tolist() for n in (5, 31, 70, 130)]


def test_checkpoint_declaring_dca_is_read_and_can_be_turned_off(checkpoint):  # noqa: ANN001
    state, path = checkpoint
    cfg = ModelConfig.from_pretrained(path)
    assert cfg.dual_chunk_attention == DualChunkConfig(48, 16)
    assert cfg.default_max_model_len() == 64  # its declared window by default ...
    llm = LLM(path, dtype="float32", kv_cache_tokens=2048, max_model_len=1000)  # ... and any length the cache holds
    off = LLM(path, dtype="float32", kv_cache_tokens=2048, dual_chunk_attention=False)
    try:
        assert llm.engine.runner.max_model_len == 1000
        assert off.engine.runner.dual_chunk is None and off.engine.runner.max_model_len == 64
        short = _prompts()[1]  # within one chunk DCA is plain RoPE (test above)
        runner, plain = llm.engine.runner, off.engine.runner
        assert torch.allclose(runner.prefill_logits(short), plain.prefill_logits(short), atol=1e-4)
        long = _prompts()[2][:60]
        assert not torch.allclose(runner.prefill_logits(long)[-1], plain.prefill_logits(long)[-1], atol=1e-2)
    finally:
        llm.close()
        off.close()
    with pytest.raises(ValueError, match="replaces rope scaling"):
        LLM(path, dtype="float32", kv_cache_tokens=256, rope_scaling={"rope_type": "dynamic", "factor": 2.0})


@pytest.mark.parametrize("block", [DCA, DCA_SCALED], ids=["dca", "dca-length-scaled"])
def test_engine_matches_transformers_running_the_definition(checkpoint, block, monkeypatch):  # noqa: ANN001
    state, path = checkpoint
    ref = DefinitionQwen2(state, block, monkeypatch)
    ids = _prompts()[-1]
    llm = LLM(path, dtype="float32", kv_cache_tokens=2048, max_model_len=512, dual_chunk_attention=block)
    try:
        ours = llm.engine.runner.prefill_logits(ids).cpu()
        want = ref.logits(ids)
        assert (ours - want).abs().max().item() < 1e-3 * want.abs().max().item()
    finally:
        llm.close()
    # chunked prefill (16-token chunks straddle the 32-token DCA chunks), 4 prompts batched, then decode
    steps = 12
    expected = [ref.greedy(p, steps) for p in _prompts()]
    llm = LLM(path, dtype="float32", kv_cache_tokens=2048, max_model_len=512, max_num_batched_tokens=16,
              dual_chunk_attention=block)
    try:
        got = [o.outputs[0].token_ids for o in llm.generate(_prompts(), SamplingParams(max_tokens=steps,
                                                                                        ignore_eos=True))]
    finally:
        llm.close()
    assert got == expected
