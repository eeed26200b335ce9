"""Position-scheme detection from HF configs (objects built offline, and raw config.json dicts)."""

from __future__ import annotations

import pytest
import transformers as tf

from longlens.models.position_schemes import detect_position_scheme

TINY = dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=4, intermediate_size=64)


@pytest.mark.parametrize(
    ("config", "kind", "max_positions", "theta"),
    [
        (tf.BertConfig(max_position_embeddings=512, **TINY), "absolute", 512, None),
        (tf.NomicBertConfig(max_position_embeddings=2048, **TINY), "rope", 2048, 1000.0),
        (tf.Qwen2Config(max_position_embeddings=32768, rope_theta=1e6, **TINY), "rope", 32768, 1e6),
        (tf.LlamaConfig(max_position_embeddings=8192, **TINY), "rope", 8192, 10000.0),
        (tf.RoFormerConfig(max_position_embeddings=1536, **TINY), "rope", 1536, 10000.0),
        (tf.T5Config(d_model=32, num_layers=1, num_heads=4), "relative", None, None),
    ],
)
def test_detects_config_objects(
    config: object, kind: str, max_positions: int | None, theta: float | None
) -> None:
    scheme = detect_position_scheme(config)
    assert scheme.kind == kind, scheme.describe()
    assert scheme.max_positions == max_positions
    assert scheme.rope_theta == theta


def test_detects_raw_dicts() -> None:
    nomic_remote = {
        "model_type": "nomic_bert",
        "rotary_emb_fraction": 0.5,
        "rotary_emb_base": 1000,
        "n_positions": 8192,
        "max_trained_positions": 2048,
    }
    s = detect_position_scheme(nomic_remote)
    assert (s.kind, s.max_positions, s.rope_theta, s.rotary_fraction) == ("rope", 2048, 1000.0, 0.5)
    assert "rotary_emb_fraction" in s.source and s.supported
    gte = {
        "model_type": "new",
        "position_embedding_type": "rope",
        "rope_theta": 160000,
        "max_position_embeddings": 8192,
    }
    assert detect_position_scheme(gte).kind == "rope"
    yarn = {
        "model_type": "qwen2",
        "max_position_embeddings": 131072,
        "rope_parameters": {
            "rope_type": "yarn",
            "rope_theta": 1e6,
            "original_max_position_embeddings": 32768,
        },
    }
    assert detect_position_scheme(yarn).max_positions == 32768
    jina = {"model_type": "bert", "position_embedding_type": "alibi", "max_position_embeddings": 8192}
    assert detect_position_scheme(jina).kind == "alibi" and not detect_position_scheme(jina).supported
    roberta = detect_position_scheme(
        {"model_type": "xlm-roberta", "pad_token_id": 1, "max_position_embeddings": 514}
    )
    assert roberta.kind == "absolute" and roberta.position_offset == 2 and not roberta.supported


def test_unknown_is_reported_not_raised() -> None:
    scheme = detect_position_scheme({"model_type": "mystery", "hidden_size": 8})
    assert scheme.kind == "unknown" and not scheme.supported
    assert "not recognised" in scheme.source and "mystery" in scheme.describe()
