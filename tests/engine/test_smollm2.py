"""Our engine on the real packaged SmolLM2 (fp32, CPU) against HF transformers, token for token."""

from __future__ import annotations

import threading

import pytest
import torch

from longlens.models.llm import LLM, SamplingParams

NEW_TOKENS = 8  # as in conftest's HF references
GREEDY = SamplingParams(max_tokens=NEW_TOKENS)


def _tokens(outputs) -> list[list[int]]:  # noqa: ANN001
    return [o.outputs[0].token_ids for o in outputs]


def test_prompt_set_is_varied(prompt_ids):  # noqa: ANN001
    lengths = sorted(len(p) for p in prompt_ids)
    assert len(lengths) >= 20 and lengths[0] <= 3 and 1500 <= lengths[-1] <= 2100, lengths


def test_prefill_logits_match_transformers(llm, hf_model, prompt_ids):  # noqa: ANN001
    worst = 0.0
    for ids in [prompt_ids[1], prompt_ids[-1]]:
        keep = [0, len(ids) // 2, len(ids) - 1]
        ours = llm.engine.runner.prefill_logits(ids, keep)
        with torch.inference_mode():
            ref = hf_model(torch.tensor([ids])).logits[0, keep].float()
        scale = ref.abs().max().item()
        worst = max(worst, (ours - ref).abs().max().item() / scale)
    assert worst < 1e-3, worst


def test_batched_greedy_matches_transformers(llm, prompts, prompt_ids, hf_greedy):  # noqa: ANN001
    outs = llm.generate(prompt_ids, GREEDY)
    mismatched = [i for i, (a, b) in enumerate(zip(_tokens(outs), hf_greedy, strict=True)) if a != b]
    assert not mismatched, [(prompts[i][:30], _tokens(outs)[i], hf_greedy[i]) for i in mismatched]
    for o, ids in zip(outs, prompt_ids, strict=True):
        assert o.prompt_token_ids == ids and o.finished


def test_one_by_one_equals_batched(llm, prompt_ids, hf_greedy):  # noqa: ANN001
    for i in [0, 3, 18]:
        assert _tokens(llm.generate([prompt_ids[i]], GREEDY)) == [hf_greedy[i]]


def test_text_prompts_and_text_output(llm, prompts, tokenizer, hf_greedy):  # noqa: ANN001
    out = llm.generate(prompts[1], GREEDY)[0]
    assert out.outputs[0].token_ids == hf_greedy[1]
    assert out.outputs[0].text == tokenizer.decode(hf_greedy[1], skip_special_tokens=True)
    assert out.prompt == prompts[1]


def test_chunked_prefill_and_preemption_give_same_tokens(model_path, tokenizer, prompt_ids, hf_greedy):  # noqa: ANN001
    """Chunks of 64 tokens; then a KV budget so small that sequences must be preempted and recomputed."""
    pick = [2, 14, 18, 19]
    chunked = LLM(model_path, tokenizer=tokenizer, kv_cache_tokens=4096, max_num_batched_tokens=64)
    try:
        assert _tokens(chunked.generate([prompt_ids[i] for i in pick], GREEDY)) == [hf_greedy[i] for i in pick]
        # 1 KV block more than the longest sequence: batch-mates preempt each other
        need = max(len(prompt_ids[i]) for i in pick) + NEW_TOKENS
        tight = LLM(model_path, tokenizer=tokenizer, kv_cache_tokens=need + 32, max_num_batched_tokens=256)
        try:
            outs = tight.generate([prompt_ids[i] for i in pick], GREEDY)
            assert _tokens(outs) == [hf_greedy[i] for i in pick]
            assert sum(o.num_preemptions for o in outs) > 0
        finally:
            tight.close()
    finally:
        chunked.close()


def test_max_tokens_and_stop_strings(llm, tokenizer, hf_greedy, prompt_ids):  # noqa: ANN001
    out = llm.generate([prompt_ids[2]], SamplingParams(max_tokens=3))[0].outputs[0]
    assert out.token_ids == hf_greedy[2][:3] and out.finish_reason == "length"
    full = tokenizer.decode(hf_greedy[2], skip_special_tokens=True)  # " small town nestled in the heart ..."
    stop = full.split()[2]
    out = llm.generate([prompt_ids[2]], SamplingParams(max_tokens=NEW_TOKENS, stop=[stop]))[0].outputs[0]
    assert out.finish_reason == "stop" and out.text == full[: full.index(stop)]
    streamed = "".join(llm.stream(prompt_ids[2], SamplingParams(max_tokens=NEW_TOKENS, stop=[stop])))
    assert streamed == out.text


def test_concurrent_streams_each_get_their_own_output(llm, prompt_ids, hf_greedy, tokenizer):  # noqa: ANN001
    pick = [1, 2, 3, 5, 12, 18]
    results: dict[int, str] = {}
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            results[i] = "".join(llm.stream(prompt_ids[i], GREEDY))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in pick]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors
    for i in pick:
        assert results[i] == tokenizer.decode(hf_greedy[i], skip_special_tokens=True)


def test_abandoned_stream_is_aborted(llm, prompt_ids):  # noqa: ANN001
    it = llm.stream(prompt_ids[2], SamplingParams(max_tokens=50))
    next(it)
    it.close()
    assert llm.generate([prompt_ids[1]], SamplingParams(max_tokens=2))[0].finished
    assert not llm.engine.seqs


def test_seeded_sampling_is_reproducible(llm, prompt_ids):  # noqa: ANN001
    sp = SamplingParams(max_tokens=8, temperature=0.9, top_p=0.9, top_k=50, seed=123)
    a = llm.generate([prompt_ids[6]] * 2, [sp, sp])
    b = llm.generate([prompt_ids[6]], sp)
    assert _tokens(a)[0] == _tokens(a)[1] == _tokens(b)[0]


@pytest.mark.parametrize("bad", [[], "x" * 0])
def test_empty_prompt_is_a_clear_error(llm, bad):  # noqa: ANN001
    with pytest.raises(ValueError, match="empty"):
        llm.generate([bad] if bad == [] else bad, GREEDY)
