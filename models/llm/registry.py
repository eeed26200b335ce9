"""Model classes by the `architectures` name in config.json."""

from __future__ import annotations

from torch import nn

from longlens.models.llm.config import ModelConfig
from longlens.models.llm.llama import LlamaForCausalLM
from longlens.models.llm.qwen2 import Qwen2ForCausalLM

MODELS: dict[str, type[nn.Module]] = {
    "LlamaForCausalLM": LlamaForCausalLM,
    "Qwen2ForCausalLM": Qwen2ForCausalLM,
}


def model_class(cfg: ModelConfig) -> type[nn.Module]:
    try:
        return MODELS[cfg.architecture]
    except KeyError:
        raise ValueError(f"unsupported architecture {cfg.architecture!r}; supported: {sorted(MODELS)}") from None
