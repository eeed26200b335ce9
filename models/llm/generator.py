"""`NativeGenerator`: the `Generator` protocol on our own engine, with the model's chat template."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from longlens.models.generation import GenerationParams
from longlens.models.hf_generator import PACKAGED_LLM, resolve_llm_path
from longlens.models.llm.sequence import SamplingParams


class NativeGenerator:
    """Streams answers from one shared `LLM` (loaded on first use); many callers batch together."""

    def __init__(self, model: str = PACKAGED_LLM, **engine_kwargs: Any):
        self.name = model
        self.engine_kwargs = engine_kwargs
        self._llm = None
        self._lock = threading.Lock()

    @property
    def llm(self):  # noqa: ANN201 - LLM, imported lazily
        with self._lock:
            if self._llm is None:
                from longlens.models.llm.llm import LLM

                self._llm = LLM(resolve_llm_path(self.name), **self.engine_kwargs)
            return self._llm

    @property
    def context_window(self) -> int:
        return int(self.llm.engine.max_model_len)

    @property
    def parameter_count(self) -> int:
        """Weights in the model: below a size it trusts, the answer pipeline quotes before paraphrasing."""
        return sum(p.numel() for p in self.llm.engine.runner.model.parameters())

    def count_tokens(self, text: str) -> int:
        return len(self.llm.tokenizer.encode(text, add_special_tokens=False))

    def prompt_ids(self, messages: list[dict[str, str]]) -> list[int]:
        tok = self.llm.tokenizer
        text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return tok.encode(text, add_special_tokens=False)

    def stream(self, messages: list[dict[str, str]], params: GenerationParams) -> Iterator[str]:
        ids = self.prompt_ids(messages)
        room = self.llm.engine.max_model_len - len(ids)
        if room < 1:
            raise ValueError(f"prompt of {len(ids)} tokens leaves no room in a {self.context_window}-token context")
        sp = SamplingParams(
            max_tokens=max(1, min(params.max_tokens, room)), temperature=params.temperature, top_p=params.top_p,
            top_k=params.top_k, repetition_penalty=params.repetition_penalty, stop=list(params.stop),
            seed=params.seed,
        )
        yield from self.llm.stream(ids, sp)

    def close(self) -> None:
        if self._llm is not None:
            self._llm.close()
