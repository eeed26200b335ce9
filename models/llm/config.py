"""Model and engine settings: the model's shape read from an HF `config.json`, the engine's knobs."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from longlens.kernels.dual_chunk import DualChunkConfig


def normalize_rope_scaling(scaling: dict[str, Any] | None) -> dict[str, Any] | None:
    """HF `rope_scaling` / `rope_parameters` block -> a dict with `rope_type`, or None for plain RoPE."""
    if not scaling:
        return None
    out = {k: v for k, v in dict(scaling).items() if k != "rope_theta"}
    out.setdefault("rope_type", out.get("type", "default"))
    return None if out["rope_type"] == "default" else out


@dataclass
class ModelConfig:
    """What the engine needs of a Llama/Qwen2-family checkpoint, independent of the transformers version."""

    architecture: str
    hidden_size: int
    num_attention_heads: int
    num_key_value_heads: int
    head_dim: int
    num_hidden_layers: int
    intermediate_size: int
    rms_norm_eps: float
    rope_theta: float
    rope_scaling: dict[str, Any] | None
    tie_word_embeddings: bool
    attention_bias: bool
    vocab_size: int
    max_position_embeddings: int
    eos_token_ids: list[int] = field(default_factory=list)
    dual_chunk_attention: DualChunkConfig | None = None  # Qwen2.5-1M's `dual_chunk_attention_config`

    @classmethod
    def from_dict(cls, cfg: dict[str, Any]) -> ModelConfig:
        arch = (cfg.get("architectures") or ["LlamaForCausalLM"])[0]
        heads = int(cfg["num_attention_heads"])
        # transformers 5 folds rope_theta/rope_scaling into `rope_parameters`; older configs keep them apart
        rope = dict(cfg.get("rope_parameters") or {})
        theta = float(cfg.get("rope_theta") or rope.pop("rope_theta", None) or 10000.0)
        rope.pop("rope_theta", None)
        scaling = normalize_rope_scaling(cfg.get("rope_scaling") or rope)
        dca = cfg.get("dual_chunk_attention_config")
        eos = cfg.get("eos_token_id")
        eos_ids = [] if eos is None else ([int(eos)] if isinstance(eos, int) else [int(e) for e in eos])
        # Qwen2 always has QKV bias; Llama only when attention_bias says so
        bias = bool(cfg.get("attention_bias", False)) or cfg.get("model_type") == "qwen2" or arch.startswith("Qwen2")
        return cls(
            architecture=arch,
            hidden_size=int(cfg["hidden_size"]),
            num_attention_heads=heads,
            num_key_value_heads=int(cfg.get("num_key_value_heads") or heads),
            head_dim=int(cfg.get("head_dim") or cfg["hidden_size"] // heads),
            num_hidden_layers=int(cfg["num_hidden_layers"]),
            intermediate_size=int(cfg["intermediate_size"]),
            rms_norm_eps=float(cfg.get("rms_norm_eps", 1e-6)),
            rope_theta=theta,
            rope_scaling=scaling,
            tie_word_embeddings=bool(cfg.get("tie_word_embeddings", False)),
            attention_bias=bias,
            vocab_size=int(cfg["vocab_size"]),
            max_position_embeddings=int(cfg.get("max_position_embeddings", 4096)),
            eos_token_ids=eos_ids,
            dual_chunk_attention=DualChunkConfig.from_dict(dca) if dca else None,
        )

    def max_context_len(self) -> int:
        """Longest context the rope scaling is meant for: factor x the pretrained window for linear, dynamic
        and YaRN (Qwen's recipe keeps max_position_embeddings at the pretrained 32k and adds YaRN x4).
        Dual chunk attention never rotates past chunk_size, so only the KV cache bounds it."""
        if self.dual_chunk_attention is not None:
            return sys.maxsize
        rs = self.rope_scaling or {}
        if rs.get("rope_type") not in ("linear", "dynamic", "yarn") or not rs.get("factor"):
            return self.max_position_embeddings
        orig = int(rs.get("original_max_position_embeddings") or self.max_position_embeddings)
        return max(self.max_position_embeddings, int(orig * float(rs["factor"])))

    def default_max_model_len(self) -> int:
        """Dynamic NTK stays unscaled unless a longer max_model_len is asked for (then it is scaled for that
        length, as vLLM does); the static scalings apply at every length, so they default to their reach."""
        rs = self.rope_scaling or {}
        if rs.get("rope_type") == "dynamic" or self.dual_chunk_attention is not None:
            return self.max_position_embeddings
        return self.max_context_len()

    @classmethod
    def from_pretrained(cls, path: str | Path) -> ModelConfig:
        cfg = json.loads((Path(path) / "config.json").read_text())
        gen = Path(path) / "generation_config.json"
        model = cls.from_dict(cfg)
        if gen.exists():  # generation_config may list extra EOS ids (e.g. Llama 3's <|eot_id|>)
            eos = json.loads(gen.read_text()).get("eos_token_id")
            extra = [] if eos is None else ([eos] if isinstance(eos, int) else list(eos))
            model.eos_token_ids = sorted(set(model.eos_token_ids) | {int(e) for e in extra})
        return model


@dataclass
class EngineConfig:
    """Engine knobs. `kv_cache_tokens` sizes the CPU KV cache; on CUDA it is sized from free memory."""

    block_size: int = 16
    max_num_seqs: int = 64
    max_num_batched_tokens: int = 2048  # chunked prefill: no step processes more tokens than this
    max_model_len: int | None = None  # defaults to the model's max_position_embeddings
    gpu_memory_utilization: float = 0.9
    kv_cache_tokens: int | None = None  # None: 32k tokens on CPU, from free memory on CUDA
    dtype: str = "auto"  # auto: float32 on CPU (bf16 is ~7x slower there), bfloat16 on CUDA
    device: str = "auto"
    enforce_eager: bool = False  # CUDA graphs for decode on GPU unless set; always eager on CPU
    seed: int = 0
    # long prefill: vertical-slash sparse attention (kernels/vertical_slash.py) once a prefill chunk attends
    # to at least `sparse_prefill_threshold` keys; shorter prompts stay dense (sparse loses at a few k tokens).
    # 32768 until a GPU run of bench/bench_sparse_prefill.py measures the crossover.
    sparse_prefill: bool = True
    sparse_prefill_threshold: int = 32768
    sparse_pattern: dict[str, Any] | None = None  # VerticalSlashConfig overrides: budgets, last_q, sink, local
    rope_scaling: dict[str, Any] | None = None  # replaces the checkpoint's rope_scaling, e.g. YaRN x4
    # Dual chunk attention (kernels/dual_chunk.py): None follows the checkpoint's
    # `dual_chunk_attention_config`, False turns it off, a dict (chunk_size, local_size and optionally
    # original_max_position_embeddings) turns it on. It replaces sparse prefill and decode CUDA graphs.
    dual_chunk_attention: dict[str, Any] | bool | None = None

    def resolved_device(self) -> str:
        import torch

        if self.device == "auto":
            return "cuda" if torch.cuda.is_available() else "cpu"
        return self.device

    def resolved_dtype(self):  # noqa: ANN201 - torch.dtype
        import torch

        if self.dtype == "auto":
            return torch.bfloat16 if self.resolved_device().startswith("cuda") else torch.float32
        return getattr(torch, self.dtype) if isinstance(self.dtype, str) else self.dtype
