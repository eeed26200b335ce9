"""Decode from captured graphs: padded batches and static buffers give the eager engine's tokens."""

from __future__ import annotations

import pytest
import torch

from longlens.models.llm import LLM, SamplingParams
from longlens.models.llm.cuda_graphs import DecodeGraphs, graph_batch_sizes


@pytest.fixture(scope="module")
def tiny_path(tiny_qwen2):  # noqa: ANN001, ANN201
    return tiny_qwen2[1]


PROMPTS = [[7], list(range(1, 8)), [(i * 37) % 250 for i in range(40)]]


def _tokens(llm: LLM) -> list[list[int]]:
    # different lengths: the batch shrinks 3 -> 2 -> 1, so padding rows follow rows that held sequences
    params = [SamplingParams(max_tokens=n, ignore_eos=True) for n in (12, 6, 9)]
    outs = llm.generate(PROMPTS, params)
    single = llm.generate(PROMPTS[2], SamplingParams(max_tokens=12, ignore_eos=True))
    return [o.outputs[0].token_ids for o in outs] + [single[0].outputs[0].token_ids]


def test_graph_batch_sizes():
    assert graph_batch_sizes(64) == [1, 2, 4, 8, 16, 32, 48, 64]
    assert graph_batch_sizes(5) == [1, 2, 4, 5]
    assert graph_batch_sizes(1) == [1]


def test_padded_static_buffer_decode_matches_eager(tiny_path):  # noqa: ANN001
    """3 and 2 sequences run in the 4-row buffers (padding rows), 1 in the 1-row ones: same tokens as eager."""
    kw = {"kv_cache_tokens": 1024, "block_size": 16, "device": "cpu", "max_model_len": 256}
    with LLM(tiny_path, **kw) as eager:
        expected = _tokens(eager)
        expected_cache = eager.engine.runner.kv_cache.clone()
    assert len({tuple(t) for t in expected[:3]}) == 3
    with LLM(tiny_path, **kw) as llm:
        runner = llm.engine.runner
        runner.decode_graphs = DecodeGraphs(runner, [1, 4], capture=False)
        calls = []
        run = runner.decode_graphs.run
        runner.decode_graphs.run = lambda *a: calls.append(len(a[0])) or run(*a)
        got = _tokens(llm)
        cache = llm.engine.runner.kv_cache.clone()
    assert got == expected
    torch.testing.assert_close(cache, expected_cache)  # padding rows wrote nowhere    assert {1, 2, 3} <= set(calls)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need a GPU")
def test_cuda_graph_decode_matches_eager_on_gpu(tiny_path):  # noqa: ANN001
    kw = {"kv_cache_tokens": 4096, "block_size": 16, "dtype": "float32", "max_model_len": 256, "max_num_seqs": 8}
    with LLM(tiny_path, enforce_eager=True, **kw) as eager:
        expected = _tokens(eager)
    with LLM(tiny_path, **kw) as llm:
        assert llm.engine.runner.decode_graphs is not None, "capture failed (see the warning)"
        assert _tokens(llm) == expected
