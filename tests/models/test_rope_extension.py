"""NTK, PI and SelfExtend on tiny seeded RoPE encoders (NomicBert: bidirectional; Qwen2: causal, GQA)."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from longlens.models import selfextend
from longlens.models.embedder import Embedder
from longlens.models.long_embed import ntk_inv_freq, rotary_modules

_spec = importlib.util.spec_from_file_location("tiny_rope", Path(__file__).with_name("tiny_rope.py"))
tiny_rope = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tiny_rope)
TRAINED, TARGET = tiny_rope.TRAINED, 256
KINDS = ["nomic_bert", "qwen2"]
SHORT = ["hello there, a short query", "a second short one with a few more words in it"]
LONG = " ".join(f"item {i} is kept in box {i * 7 % 13}." for i in range(30))  # ~200 tokens


@pytest.fixture(scope="module")
def tiny_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("tiny_rope")
    return {k: str(tiny_rope.build_tiny(k, root / k)) for k in KINDS}


def _embedder(path: str, method: str | None = None, target: int | None = TARGET) -> Embedder:
    return Embedder(path, device="cpu", context_extension=method, target_length=target if method else None)


def _rotary(emb: Embedder) -> torch.nn.Module:
    return rotary_modules(emb.model[0].auto_model)[0]


def _cos(emb: Embedder, n: int, lengths: list[int] | None = None) -> torch.Tensor:
    hf = emb.model[0].auto_model
    hf._longlens_lengths.value = None if lengths is None else torch.tensor(lengths)
    try:
        x = torch.zeros(1 if lengths is None else len(lengths), n, 8)
        return _rotary(emb)(x, torch.arange(n)[None])[0]  # cos: [rows, n, rotary dim]
    finally:
        hf._longlens_lengths.value = None


def _expected_cos(pos: torch.Tensor, inv: torch.Tensor) -> torch.Tensor:
    f = pos[:, None].double() * inv[None, :].double()
    return torch.cat((f, f), -1).cos().float()


@pytest.mark.parametrize("kind", KINDS)
def test_ntk_scales_the_base(tiny_dirs: dict[str, str], kind: str) -> None:
    emb = _embedder(tiny_dirs[kind], "ntk:static")
    _ = emb.model
    base = emb.model[0].auto_model.config.rope_parameters["rope_theta"]
    d = 2 * _rotary(emb).inv_freq.numel()
    s = TARGET / TRAINED
    new_base = base * s ** (d / (d - 2))
    inv = 1.0 / new_base ** (torch.arange(0, d, 2, dtype=torch.float64) / d)
    torch.testing.assert_close(ntk_inv_freq(_rotary(emb).inv_freq, s).double(), inv, rtol=1e-5, atol=0)
    torch.testing.assert_close(
        _cos(emb, TARGET)[0], _expected_cos(torch.arange(TARGET), inv), atol=1e-5, rtol=0
    )
    assert math.isclose(emb.extension_report.details["rope_theta_at_target"], new_base)
    dyn = _embedder(tiny_dirs[kind], "ntk")
    _ = dyn.model
    cos = _cos(dyn, 100, [40, 100])  # row 0 fits the trained window: original base; row 1: s = 100 / 64
    torch.testing.assert_close(
        cos[0], _expected_cos(torch.arange(100), _rotary(dyn).inv_freq), atol=1e-5, rtol=0
    )
    s1 = 100 / TRAINED
    inv1 = 1.0 / (base * s1 ** (d / (d - 2))) ** (torch.arange(0, d, 2, dtype=torch.float64) / d)
    torch.testing.assert_close(cos[1], _expected_cos(torch.arange(100), inv1), atol=1e-5, rtol=0)


@pytest.mark.parametrize("kind", KINDS)
def test_pi_divides_positions(tiny_dirs: dict[str, str], kind: str) -> None:
    emb = _embedder(tiny_dirs[kind], "pi:static")
    _ = emb.model
    inv = _rotary(emb).inv_freq
    pos = torch.arange(TARGET) / (TARGET / TRAINED)
    torch.testing.assert_close(_cos(emb, TARGET)[0], _expected_cos(pos, inv), atol=1e-5, rtol=0)
    dyn = _embedder(tiny_dirs[kind], "pi")
    _ = dyn.model
    cos = _cos(dyn, 128, [50, 128])
    torch.testing.assert_close(cos[0], _expected_cos(torch.arange(128.0), inv), atol=1e-5, rtol=0)
    torch.testing.assert_close(cos[1], _expected_cos(torch.arange(128) / 2.0, inv), atol=1e-5, rtol=0)


def test_selfextend_positions_follow_the_formula() -> None:
    n, w, g = 40, 8, 3
    rel = selfextend.selfextend_positions(n, w, g)
    shift = w - w // g
    for i in range(n):
        for j in range(n):
            if abs(i - j) < w:
                want = i - j
            elif i > j:
                want = i // g + shift - j // g
            else:
                want = i // g - (j // g + shift)
            assert rel[i, j] == want
    assert torch.equal(rel, -rel.T)  # bidirectional: symmetric distances
    assert selfextend.selfextend_positions(10, 4, 2)[9, 0] == 6  # floor(9/2) + (4 - 2) - 0
    assert selfextend.default_selfextend_params(64, 256) == (32, 7)  # (256 - 32) / (64 - 32) = 7


def _rope(x: torch.Tensor, pos: torch.Tensor, inv: torch.Tensor) -> torch.Tensor:
    return selfextend.rotate(x, pos, inv)


@pytest.mark.parametrize("causal", [False, True])
def test_selfextend_attention_matches_reference(causal: bool) -> None:
    torch.manual_seed(0)
    b, hq, hkv, n, d, w, g = 2, 4, 2, 50, 16, 8, 3
    inv = 1.0 / 100.0 ** (torch.arange(0, d, 2).float() / d)
    q0, k0, v = torch.randn(b, hq, n, d), torch.randn(b, hkv, n, d), torch.randn(b, hkv, n, d)
    pos = torch.arange(n)
    module = torch.nn.Module()
    module.is_causal = causal
    module.longlens_selfextend = selfextend.SelfExtendParams(w, g, inv, trained_length=0)
    pad = torch.zeros(b, 1, n, n)
    pad[1, ..., 40:] = float("-inf")  # row 1 is padded after 40 tokens
    mask = pad if not causal else None
    out, _ = selfextend.selfextend_attention(module, _rope(q0, pos, inv), _rope(k0, pos, inv), v, mask, 0.25)

    rel = selfextend.selfextend_positions(n, w, g)
    kk, vv = k0.repeat_interleave(2, 1), v.repeat_interleave(2, 1)
    scores = torch.empty(b, hq, n, n)
    for i in range(n):  # q_i . R(rel) k_j: RoPE scores depend only on the relative position
        qi = _rope(q0[:, :, i : i + 1].expand(-1, -1, n, -1), rel[i], inv)
        scores[:, :, i] = (qi * kk).sum(-1) * 0.25
    if causal:
        scores = scores.masked_fill(pos[None, :] > pos[:, None], float("-inf"))
    else:
        scores = scores + pad
    ref = (scores.softmax(-1) @ vv).transpose(1, 2)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("kind", KINDS)
def test_selfextend_with_wide_window_is_the_plain_model(tiny_dirs: dict[str, str], kind: str) -> None:
    plain = _embedder(tiny_dirs[kind])
    plain.model.max_seq_length = TARGET  # RoPE itself has no hard limit: the unextended model reads it all
    ext = _embedder(tiny_dirs[kind], f"selfextend:window={TARGET},group=4")
    assert len(plain.model.tokenizer(LONG)["input_ids"]) > TRAINED
    np.testing.assert_allclose(ext.encode([LONG, SHORT[0]]), plain.encode([LONG, SHORT[0]]), atol=1e-5)
    assert ext.model[0].auto_model.config._attn_implementation == selfextend.ATTN_NAME


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("method", ["ntk", "pi", "selfextend", "window"])
def test_short_unchanged_long_runs(tiny_dirs: dict[str, str], kind: str, method: str) -> None:
    plain = _embedder(tiny_dirs[kind])
    ext = _embedder(tiny_dirs[kind], method)
    np.testing.assert_allclose(ext.encode(SHORT), plain.encode(SHORT), atol=1e-5)
    vecs = ext.encode([LONG, LONG + " " + LONG, SHORT[0]])  # mixed batch: padding and per-row scales
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(vecs[2], plain.encode(SHORT[:1])[0], atol=1e-5)
    if method != "window":
        assert ext.max_seq_length == TARGET and ext.extension_report.trained_length == TRAINED


def test_roformer_is_detected_but_refused(tmp_path: Path) -> None:
    path = str(tiny_rope.build_tiny("roformer", tmp_path / "roformer"))
    emb = _embedder(path, "ntk")
    with pytest.raises(NotImplementedError, match="no HF-native rotary module"):
        _ = emb.model
    np.testing.assert_allclose(
        np.linalg.norm(_embedder(path, "window").encode([LONG]), axis=1), 1.0, atol=1e-5
    )
