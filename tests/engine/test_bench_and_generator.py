"""The benchmark's tiny mode runs in-process; NativeGenerator streams a chat answer."""

from __future__ import annotations

import json
import time

import pytest

from longlens.models.generation import GenerationParams, Generator


def test_bench_tiny_runs(tmp_path, model_path, bench_script):  # noqa: ANN001
    bench = bench_script("bench_engine")
    t = time.perf_counter()
    result = bench.main(["--tiny", "--out", str(tmp_path / "engine.json")])
    assert time.perf_counter() - t < 60
    saved = json.loads((tmp_path / "engine.json").read_text())
    row = saved["rows"][0]
    assert saved["tiny"] and row["engine"]["decode_tok_s"] > 0 and row["hf_sdpa"]["decode_tok_s"] > 0
    assert result["rows"][0]["engine"]["new_tokens"] == 8


@pytest.fixture(scope="module")
def native(llm):  # noqa: ANN001, ANN201
    from longlens.models.llm.generator import NativeGenerator

    gen = NativeGenerator()
    gen._llm = llm  # share the session's engine instead of loading another
    return gen


def test_native_generator_streams_chat(native, tokenizer, hf_model):  # noqa: ANN001
    import torch

    assert isinstance(native, Generator)
    assert 100_000_000 < native.parameter_count < 200_000_000  # SmolLM2-135M: ask quotes before paraphrasing
    messages = [{"role": "user", "content": "What is the capital of France?"}]
    pieces = list(native.stream(messages, GenerationParams(max_tokens=10)))
    assert pieces and all(pieces)
    ids = native.prompt_ids(messages)
    assert tokenizer.decode(ids).startswith("<|im_start|>")
    with torch.inference_mode():
        ref = hf_model.generate(torch.tensor([ids]), do_sample=False, max_new_tokens=10, pad_token_id=2)
    assert "".join(pieces) == tokenizer.decode(ref[0, len(ids):], skip_special_tokens=True)
    assert native.count_tokens("hello world") == 2 and native.context_window == 8192


def test_multibyte_characters_are_never_split(llm, tokenizer):  # noqa: ANN001
    """Feed the ids of text with emoji/CJK one token at a time through the detokenizer."""
    from longlens.models.llm.detokenizer import detokenize_incrementally
    from longlens.models.llm.sequence import SamplingParams, Sequence

    text = " naïve café 😀 日本語 ✓ done"
    ids = tokenizer.encode(text, add_special_tokens=False)
    prompt = tokenizer.encode("Say:", add_special_tokens=False)
    seq = Sequence("d", prompt, SamplingParams())
    pieces = []
    for t in ids:
        seq.token_ids.append(t)
        pieces.append(detokenize_incrementally(tokenizer, seq))
    assert "".join(pieces) == text and not any("\ufffd" in p for p in pieces)
