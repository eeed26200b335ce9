"""The native LLM engine: paged KV cache, continuous batching, chunked prefill, streaming.

`from longlens.models.llm import LLM, SamplingParams`; imports are lazy so that importing this package
(e.g. for the GGUF conversion) does not build the engine."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from longlens.models.llm.llm import LLM
    from longlens.models.llm.sequence import SamplingParams

__all__ = ["LLM", "SamplingParams"]


def __getattr__(name: str) -> Any:
    if name == "LLM":
        from longlens.models.llm.llm import LLM

        return LLM
    if name == "SamplingParams":
        from longlens.models.llm.sequence import SamplingParams

        return SamplingParams
    raise AttributeError(name)
