"""Shared, session-scoped: the packaged SmolLM2 folder, its HF model, our LLM, and HF greedy references,
so that the whole engine suite loads each model once."""

from __future__ import annotations

import pytest
import torch

NEW_TOKENS = 8


def long_prompt(n_items: int, seed: int) -> str:
    """A deterministic long document with planted facts and a question at the end."""
    lines = [f"Record {i}: the courier from town {(i * 7 + seed) % 53} delivered {(i * 31 + seed) % 997} parcels."
             for i in range(n_items)]
    return "\n".join(lines) + f"\nQuestion: how many parcels were delivered in record {n_items // 2}? Answer:"


PROMPTS: list[str] = [
    "Hi",
    "The capital of France is",
    "Once upon a time, there was a",
    "def fibonacci(n):",
    "1, 2, 3, 4, 5,",
    "Translate to French: I love reading books.",
    "Q: What is the boiling point of water in Celsius?\nA:",
    "Write a haiku about the ocean.",
    "import numpy as np\nx = np.arange(10)\n",
    "Les mots en français: été, château, naïve,",
    "The quick brown fox jumps over the lazy dog. " * 8,
    "Here is a list of fruits: apple, banana,",
    "In 1969, the first humans landed on",
    "<html><body><h1>Title</h1>",
    "Summarize: The meeting covered budget, hiring and the new office. " * 20,
    "Alice has 3 apples and Bob has 5. Together they have",
    "Dear team, please find the quarterly report attached.",
    long_prompt(12, 1),
    long_prompt(45, 2),
    long_prompt(95, 3),
]


@pytest.fixture(scope="session")
def kernels_ready() -> None:
    pytest.importorskip("longlens.kernels.ops")
    pytest.importorskip("longlens.kernels.rotary")


@pytest.fixture(scope="session")
def model_path(kernels_ready):  # noqa: ANN001, ANN201
    from longlens.models.packaged import packaged_llm_path

    return packaged_llm_path()


@pytest.fixture(scope="session")
def tokenizer(model_path):  # noqa: ANN001, ANN201
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(model_path))


@pytest.fixture(scope="session")
def hf_model(model_path):  # noqa: ANN001, ANN201
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(str(model_path), dtype=torch.float32).eval()


@pytest.fixture(scope="session")
def prompts() -> list[str]:
    return PROMPTS


@pytest.fixture(scope="session")
def prompt_ids(tokenizer) -> list[list[int]]:  # noqa: ANN001
    return [tokenizer.encode(p, add_special_tokens=False) for p in PROMPTS]


@pytest.fixture(scope="session")
def hf_greedy(hf_model, prompt_ids) -> list[list[int]]:  # noqa: ANN001
    """HF transformers greedy continuations, one prompt at a time (no padding), cut after EOS."""
    eos = hf_model.generation_config.eos_token_id
    refs = []
    with torch.inference_mode():
        for ids in prompt_ids:
            out = hf_model.generate(torch.tensor([ids]), do_sample=False, max_new_tokens=NEW_TOKENS,
                                    pad_token_id=eos)[0, len(ids):].tolist()
            if eos in out:
                out = out[: out.index(eos) + 1]
            refs.append(out)
    return refs


@pytest.fixture(scope="session")
def llm(model_path, tokenizer):  # noqa: ANN001, ANN201
    from longlens.models.llm import LLM

    engine = LLM(model_path, tokenizer=tokenizer, kv_cache_tokens=16384, max_num_batched_tokens=2048)
    yield engine
    engine.close()
