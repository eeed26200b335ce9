"""The Qwen2 family (Qwen2.5 incl. -1M): Llama with a bias on the Q/K/V projections, which
`ModelConfig.attention_bias` already turns on for qwen2 checkpoints; often tied embeddings."""

from __future__ import annotations

from longlens.models.llm.config import ModelConfig
from longlens.models.llm.llama import LlamaForCausalLM


class Qwen2ForCausalLM(LlamaForCausalLM):
    def __init__(self, cfg: ModelConfig, max_positions: int | None = None):
        cfg.attention_bias = True
        super().__init__(cfg, max_positions)
