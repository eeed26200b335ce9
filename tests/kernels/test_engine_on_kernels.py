"""The whole engine with every op on the Triton kernels (interpreter on CPU) gives transformers' tokens."""

from __future__ import annotations

import pytest
import torch

pytestmark = pytest.mark.usefixtures("force_triton")


def test_engine_on_triton_kernels_matches_transformers(tiny_qwen2):  # noqa: ANN001
    from longlens.models.llm import LLM, SamplingParams

    model, path = tiny_qwen2
    prompts = [[7], list(range(1, 8)), [(i * 37) % 250 for i in range(40)]]  # decode crosses 16-slot blocks
    refs = []
    for ids in prompts:
        out = model.generate(torch.tensor([ids]), do_sample=False, max_new_tokens=12, pad_token_id=255,
                             eos_token_id=None)
        refs.append(out[0, len(ids):].tolist())
    assert len({tuple(r) for r in refs}) == 3 and all(len(set(r)) > 1 for r in refs)
    llm = LLM(path, kv_cache_tokens=512, block_size=16, dtype="float32",
              device="cuda" if torch.cuda.is_available() else "cpu")
    try:
        outs = llm.generate(prompts, SamplingParams(max_tokens=12, ignore_eos=True))  # batched
    finally:
        llm.close()
    assert [o.outputs[0].token_ids for o in outs] == refs
