"""Which position scheme an HF config uses: it decides which training-free context extension applies.

LongEmbed's methods split on this: absolute learned tables get position interpolation; rotary models get
NTK base scaling, RoPE position interpolation or SelfExtend; window-and-pool works for anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Families whose learned table is indexed from 0 (BERT style). RoBERTa-style tables start at padding_idx + 1
# and are detected but not stretched (see `PositionScheme.supported`).
_ABSOLUTE_FROM_ZERO = {"bert", "distilbert", "electra", "albert", "megatron-bert", "mpnet", "xlm", "ernie"}
_ABSOLUTE_OFFSET = {"roberta", "xlm-roberta", "camembert", "longformer", "bge-m3", "mpnet-roberta"}
_ROPE_DECODERS = {
    "llama",
    "qwen2",
    "qwen3",
    "mistral",
    "gemma",
    "gemma2",
    "gemma3_text",
    "phi3",
    "olmo",
    "olmo2",
    "stablelm",
    "internlm2",
    "deepseek_v2",
    "granite",
    "smollm3",
}
_ROPE_ENCODERS = {"nomic_bert", "modernbert", "eurobert", "new", "roformer", "jina_embeddings_v3"}


@dataclass(frozen=True)
class PositionScheme:
    """What a model's positions look like, read from its config.

    kind: "absolute" (learned table), "rope", "alibi", "relative" (T5-style bias) or "unknown".
    max_positions: the length the model's positions were trained for (rope: the original window, which a
    config's own scaling block may name `original_max_position_embeddings`).
    """

    kind: str
    model_type: str
    max_positions: int | None = None
    rope_theta: float | None = None
    rotary_fraction: float = 1.0
    position_offset: int = 0  # RoBERTa family: first position id is padding_idx + 1
    source: str = ""  # the config keys the decision rests on, for error messages and reports
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def supported(self) -> bool:
        """True when long_embed can patch this scheme in place (window/truncate work for every scheme)."""
        return (self.kind == "absolute" and self.position_offset == 0) or self.kind == "rope"

    def describe(self) -> str:
        bits = [f"{self.kind} positions ({self.model_type or 'no model_type'})"]
        if self.max_positions:
            bits.append(f"trained for {self.max_positions}")
        if self.rope_theta:
            bits.append(f"rope theta {self.rope_theta:g}")
        if self.rotary_fraction != 1.0:
            bits.append(f"rotary fraction {self.rotary_fraction:g}")
        return ", ".join(bits) + (f" [from {self.source}]" if self.source else "")


def detect_position_scheme(config: Any) -> PositionScheme:
    """Read the position scheme from a transformers config object or a raw config.json dict.

    Never raises: an unrecognised config comes back as kind "unknown" with the keys that were looked at.
    """
    cfg = config if isinstance(config, dict) else config.to_dict()
    model_type = str(cfg.get("model_type") or "")
    pet = cfg.get("position_embedding_type")
    max_pos = _first_int(cfg, "max_trained_positions", "max_position_embeddings", "n_positions", "n_ctx")
    rope = cfg.get("rope_parameters") or cfg.get("rope_scaling") or {}
    theta = _first_float(cfg, "rope_theta", "rotary_emb_base", "global_rope_theta") or _first_float(
        rope, "rope_theta"
    )
    original = _first_int(rope, "original_max_position_embeddings")

    if pet == "alibi" or "alibi" in model_type or cfg.get("alibi") is True:
        return PositionScheme("alibi", model_type, max_pos, source="position_embedding_type=alibi")
    if "relative_attention_num_buckets" in cfg or (isinstance(pet, str) and pet.startswith("relative_key")):
        return PositionScheme("relative", model_type, max_pos, source="relative attention bias")
    if "rotary_emb_fraction" in cfg:  # nomic-bert remote code: rotary_emb_fraction / rotary_emb_base
        frac = float(cfg.get("rotary_emb_fraction") or 1.0)
        return PositionScheme(
            "rope", model_type, max_pos, theta or 10000.0, frac, source="rotary_emb_fraction (nomic-bert)"
        )
    if pet in ("rope", "rotary") or model_type in _ROPE_ENCODERS or model_type in _ROPE_DECODERS:
        frac = float(cfg.get("partial_rotary_factor") or rope.get("partial_rotary_factor") or 1.0)
        why = f"position_embedding_type={pet}" if pet in ("rope", "rotary") else f"model_type={model_type}"
        return PositionScheme("rope", model_type, original or max_pos, theta or 10000.0, frac, source=why)
    if theta is not None:  # an unlisted decoder that still names a rope theta
        return PositionScheme("rope", model_type, original or max_pos, theta, source="rope_theta")
    if pet == "absolute" or model_type in _ABSOLUTE_FROM_ZERO or model_type in _ABSOLUTE_OFFSET:
        offset = int(cfg.get("pad_token_id") or 0) + 1 if model_type in _ABSOLUTE_OFFSET else 0
        return PositionScheme(
            "absolute", model_type, max_pos, position_offset=offset, source=f"position_embedding_type={pet}"
        )
    return PositionScheme(
        "unknown",
        model_type,
        max_pos,
        source="no position_embedding_type, rope theta, rotary or alibi key; model_type not recognised",
    )


def _first_int(cfg: dict, *keys: str) -> int | None:
    for key in keys:
        if isinstance(cfg.get(key), int) and cfg[key] > 0:
            return int(cfg[key])
    return None


def _first_float(cfg: dict, *keys: str) -> float | None:
    for key in keys:
        if isinstance(cfg.get(key), (int, float)) and cfg[key] > 0:
            return float(cfg[key])
    return None
