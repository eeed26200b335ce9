"""Rerankers: score (question, passage) pairs more carefully than the first-stage retrievers can.

Scores are probabilities in [0, 1] so that a tail cut relative to the best score means the same thing
whichever reranker produced them.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Protocol, runtime_checkable


@runtime_checkable
class Reranker(Protocol):
    name: str

    def score(self, query: str, passages: Sequence[str]) -> list[float]:
        """Relevance of each passage to `query`, in [0, 1], higher is better."""
        ...


class CrossEncoderReranker:
    """Any sentence-transformers / HF cross-encoder (e.g. a BGE or MiniLM reranker) by name or path."""

    def __init__(self, model: str, *, device: str | None = None, batch_size: int = 16, max_length: int = 512):
        self.name = model
        self.device = device or "cpu"
        self.batch_size = batch_size
        self.max_length = max_length
        self._lock = threading.Lock()

    @cached_property
    def model(self):  # noqa: ANN201 - sentence_transformers.CrossEncoder
        from sentence_transformers import CrossEncoder

        return CrossEncoder(
            self.name, device=self.device, max_length=self.max_length, local_files_only=Path(self.name).exists()
        )

    def score(self, query: str, passages: Sequence[str]) -> list[float]:
        if not passages:
            return []
        with self._lock:
            raw = self.model.predict(
                [(query, p) for p in passages], batch_size=self.batch_size, show_progress_bar=False
            )
        values = [float(v) for v in (raw.tolist() if hasattr(raw, "tolist") else raw)]
        if all(0.0 <= v <= 1.0 for v in values):
            return values
        return [1.0 / (1.0 + math.exp(-v)) for v in values]  # logits → probabilities


class LLMYesNoReranker:
    """Asks a causal LM "does this passage answer the question?" and scores P(yes) / (P(yes) + P(no)).

    Slower than a cross-encoder (one LLM forward pass per passage) but needs no extra model: it can reuse
    the answering model.
    """

    PROMPT = (
        "Passage:\n{passage}\n\nQuestion: {query}\n"
        "Does the passage contain the answer to the question? Answer yes or no."
    )

    def __init__(self, model_path: str | Path, *, device: str = "cpu", max_passage_tokens: int = 384):
        self.name = f"llm-yes-no:{model_path}"
        self.model_path = str(model_path)
        self.device = device
        self.max_passage_tokens = max_passage_tokens
        self._lock = threading.Lock()

    @cached_property
    def _model(self):  # noqa: ANN202 - (model, tokenizer, yes ids, no ids)
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tok = AutoTokenizer.from_pretrained(self.model_path)
        model = AutoModelForCausalLM.from_pretrained(self.model_path, dtype=torch.float32).to(self.device).eval()
        yes = sorted({tok.encode(w, add_special_tokens=False)[0] for w in ("yes", " yes", "Yes", " Yes")})
        no = sorted({tok.encode(w, add_special_tokens=False)[0] for w in ("no", " no", "No", " No")})
        return model, tok, yes, no

    def score(self, query: str, passages: Sequence[str]) -> list[float]:
        import torch

        model, tok, yes, no = self._model
        out = []
        with self._lock, torch.inference_mode():
            for passage in passages:
                ids = tok.encode(passage, add_special_tokens=False)[: self.max_passage_tokens]
                content = self.PROMPT.format(passage=tok.decode(ids), query=query)
                prompt = tok.apply_chat_template(
                    [{"role": "user", "content": content}], tokenize=False, add_generation_prompt=True
                )
                batch = tok(prompt, return_tensors="pt").to(self.device)
                logits = model(**batch).logits[0, -1].float()
                p_yes = torch.logsumexp(logits[yes], 0)
                p_no = torch.logsumexp(logits[no], 0)
                out.append(float(torch.sigmoid(p_yes - p_no)))
        return out


def make_reranker(spec: str | None, *, device: str | None = None) -> Reranker | None:
    """`None`/"none" → no reranking; "llm:PATH" → LLM yes/no scorer; anything else → a cross-encoder."""
    if not spec or spec.lower() == "none":
        return None
    if spec.startswith("llm:"):
        return LLMYesNoReranker(spec.removeprefix("llm:"), device=device or "cpu")
    return CrossEncoderReranker(spec, device=device)
