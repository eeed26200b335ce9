"""The interface every answer generator implements (transformers, native engine, OpenAI-compatible HTTP)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


@dataclass
class GenerationParams:
    """Sampling settings for one answer; temperature 0 means greedy."""

    max_tokens: int = 512
    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0
    repetition_penalty: float = 1.0
    stop: list[str] = field(default_factory=list)
    seed: int | None = None


@runtime_checkable
class Generator(Protocol):
    """Turns a chat (list of {"role", "content"} messages) into streamed text pieces."""

    name: str
    context_window: int

    def count_tokens(self, text: str) -> int:
        """Tokens `text` takes in this model's prompt (used to fit passages into the context)."""
        ...

    def stream(self, messages: list[dict[str, str]], params: GenerationParams) -> Iterator[str]:
        """Yield the answer as it is produced, piece by piece."""
        ...
