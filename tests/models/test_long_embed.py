"""Context extension on the real packaged all-MiniLM-L6-v2 (learned absolute positions: 512, 256 used)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from longlens.models.embedder import Embedder
from longlens.models.long_embed import parse_extension, stretch_position_table
from longlens.models.window_pool import embed_token_windows, split_windows, window_token_ids

TARGET = 2048
SHORT = [
    "The quick brown fox jumps over the lazy dog.",
    "Retrieval over long documents needs embeddings that read the whole text. " * 8,
]


def _long_text(n_sentences: int = 215, tail: str = "") -> str:
    words = ["river", "granite", "lantern", "orchard", "copper", "meadow", "harbor", "violet", "thunder"]
    body = " ".join(
        f"Sentence {i} talks about the {words[i % 9]} near {words[(i * 4) % 9]}." for i in range(n_sentences)
    )
    return body + tail


@pytest.fixture(scope="module")
def extended(embedder: Embedder) -> dict[str, Embedder]:
    """One patched embedder per method (loading MiniLM again costs ~1 s each)."""
    methods = ["truncate", "window", "window:overlap=32", "pi"]
    return {m: Embedder(context_extension=m, target_length=TARGET, device="cpu") for m in methods}


def test_defaults_are_the_plain_model(embedder: Embedder) -> None:
    plain = Embedder(device="cpu")
    assert plain.context_extension is None and plain.max_seq_length == 256
    np.testing.assert_array_equal(plain.encode(SHORT), embedder.encode(SHORT))
    assert plain.extension_report is None


def test_stretched_table_keeps_original_points(embedder: Embedder, extended: dict[str, Embedder]) -> None:
    original = embedder.model[0].auto_model.embeddings.position_embeddings.weight.detach()
    pi = extended["pi"]
    bert = pi.model[0].auto_model
    table = bert.embeddings.position_embeddings.weight.detach()
    scale = TARGET // original.shape[0]
    assert table.shape == (TARGET, original.shape[1])
    assert torch.equal(table[::scale], original)  # index i * scale is exactly original row i
    mid = table[1::scale][:-1]  # between original rows: the linear blend at 1 / scale
    torch.testing.assert_close(mid, original[:-1] + (original[1:] - original[:-1]) / scale)
    assert bert.config.max_position_embeddings == TARGET
    assert bert.embeddings.position_ids.shape == (1, TARGET)
    assert torch.equal(bert.embeddings.position_ids[0], torch.arange(TARGET))
    assert bert.embeddings.token_type_ids.shape == (1, TARGET)
    assert pi.model.tokenizer.model_max_length == TARGET and pi.model.max_seq_length == TARGET
    assert pi.extension_report.trained_length == 256 and pi.extension_report.scheme.kind == "absolute"


def test_stretch_non_integer_scale_keeps_points() -> None:
    table = torch.randn(4, 3, dtype=torch.float64)
    out = stretch_position_table(table, 10)  # scale 2.5: rows 0, 5 are original rows 0, 2
    assert out.shape == (10, 3)
    assert torch.equal(out[0], table[0]) and torch.equal(out[5], table[2])
    torch.testing.assert_close(out[1], table[0] + 0.4 * (table[1] - table[0]))


@pytest.mark.parametrize("method", ["truncate", "window", "window:overlap=32", "pi"])
def test_short_inputs_unchanged(embedder: Embedder, extended: dict[str, Embedder], method: str) -> None:
    ref = embedder.encode(SHORT)
    got = extended[method].encode(SHORT)
    np.testing.assert_allclose(got, ref, atol=1e-5)
    if method == "pi":  # batched with a long text, a short one still sees its trained positions
        mixed = extended[method].encode([SHORT[0], _long_text()])
        np.testing.assert_allclose(mixed[0], ref[0], atol=1e-5)


def test_pi_inside_the_learned_table_is_the_plain_model(extended: dict[str, Embedder]) -> None:
    """MiniLM is used at 256 tokens but learned 512 positions: up to 512 tokens PI changes nothing."""
    plain = Embedder(device="cpu", max_seq_length=512)
    text = _long_text(45)
    assert 300 < len(plain.model.tokenizer(text)["input_ids"]) <= 512
    np.testing.assert_allclose(extended["pi"].encode([text]), plain.encode([text]), atol=1e-5)
    assert extended["pi"].extension_report.max_scale == TARGET / 512


@pytest.mark.parametrize("method", ["truncate", "window", "pi"])
def test_long_inputs_give_unit_vectors(extended: dict[str, Embedder], method: str) -> None:
    emb = extended[method]
    text = _long_text()
    assert 1800 < len(emb.model.tokenizer(text, verbose=False)["input_ids"]) <= TARGET
    vecs = emb.encode([text, _long_text(tail=" The vault code is 4417 and the courier is Ingrid.")])
    assert vecs.shape == (2, 384) and np.isfinite(vecs).all()
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    changed = not np.allclose(vecs[0], vecs[1], atol=1e-6)
    assert changed == (method != "truncate")  # extension reads the tail; truncation cannot


def test_window_pool_is_weighted_mean_of_windows(embedder: Embedder, extended: dict[str, Embedder]) -> None:
    st = embedder.model
    text = _long_text(120)
    windows = window_token_ids(st.tokenizer, [text], 256, overlap=32)[0]
    assert len(windows) >= 3 and all(len(w) <= 256 for w in windows)
    each = np.stack([embed_token_windows(st, [w])[0] for w in windows])  # one at a time: no padding
    weights = np.array([len(w) - 2 for w in windows], dtype=np.float64)
    manual = (each * weights[:, None]).sum(0) / weights.sum()
    manual /= np.linalg.norm(manual)
    got = extended["window:overlap=32"].encode([text])[0]
    np.testing.assert_allclose(got, manual, atol=1e-5)


def test_split_windows_covers_with_overlap() -> None:
    assert split_windows(5, 8) == [(0, 5)]
    spans = split_windows(20, 8, overlap=2)
    assert spans == [(0, 8), (6, 14), (12, 20)]
    with pytest.raises(ValueError):
        split_windows(10, 4, overlap=4)


def test_bad_configs_fail_clearly() -> None:
    with pytest.raises(ValueError, match="unknown context extension"):
        Embedder(context_extension="yarn")
    with pytest.raises(ValueError, match="unknown option"):
        parse_extension("window:stride=3")
    assert parse_extension("selfextend:window=128,group=4,static").dynamic is False
    with pytest.raises(ValueError, match="needs RoPE"):
        _ = Embedder(context_extension="ntk", target_length=1024, device="cpu").model
    with pytest.raises(ValueError, match="needs a target_length"):
        _ = Embedder(context_extension="pi", device="cpu").model


def test_settings_stretch_the_embedder_for_long_chunks(tmp_path) -> None:
    """LONGLENS_EMBEDDER_EXTENSION / _MAX_TOKENS reach the embedder; a 1,000-token chunk is embedded whole."""
    from longlens import LongLens
    from longlens.schema import LongLensError

    doc = tmp_path / "long.txt"
    doc.write_text(_long_text(100, tail=" The vault code of the eastern tower is 48213."))
    with LongLens(tmp_path / "data", workers=1, embedder_extension="pi", embedder_max_tokens=1536,
                  chunk_tokens=1500, chunk_overlap=0) as ll:
        assert ll.embedder.max_seq_length == 1536
        report = ll.ingest([doc], collection="long")
        assert report.ok == [str(doc)]
        (row,) = ll.documents(collection="long")
        assert row.chunk_count == 1  # one chunk past MiniLM's 256/512 limits
        assert ll.embedder.extension_report.method == "pi"
        hits = ll.search("vault code of the eastern tower", collection="long", mode="dense")
        assert "48213" in hits[0].text
        assert [c.embedder for c in ll.collections()] == [ll.embedder.name] and "pi" in ll.embedder.name
    other = tmp_path / "other.txt"
    other.write_text("A short note about the western tower.")
    with LongLens(tmp_path / "data", workers=1) as plain, pytest.raises(LongLensError, match="built with embedder"):
        plain.ingest([other], collection="long")  # plain MiniLM vectors must not mix with stretched ones


def test_settings_refuse_chunks_longer_than_the_stretched_embedder(tmp_path) -> None:
    from longlens.config import Settings

    with pytest.raises(ValueError, match="needs embedder_max_tokens"):
        Settings(tmp_path, embedder_extension="pi")
    with pytest.raises(ValueError, match="longer than embedder_max_tokens"):
        Settings(tmp_path, embedder_extension="pi", embedder_max_tokens=512, chunk_tokens=1024)
