"""Embedding batches: every chunk embedded once, similar lengths together, padded tokens capped."""

import random

import pytest

from longlens.config import Settings
from longlens.ingest.embed_batches import CPU_BATCH_ITEMS, CPU_BATCH_TOKENS, item_cap, length_batches, token_cap


def test_batches_cover_every_text_once_longest_first_within_the_token_cap():
    rng = random.Random(3)
    lengths = [rng.randint(1, 256) for _ in range(500)]
    batches = list(length_batches(lengths, max_items=32, max_tokens=2048))
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(500))
    assert [lengths[i] for i in flat] == sorted(lengths, reverse=True)
    for b in batches:
        assert len(b) <= 32
        assert len(b) * max(lengths[i] for i in b) <= 2048


def test_long_texts_go_in_small_batches_and_short_ones_by_count():
    lengths = [256] * 20 + [10] * 100
    sizes = [len(b) for b in length_batches(lengths, max_items=32, max_tokens=2048)]
    assert sizes[:3] == [8, 8, 8]  # 256-token texts: 8 to a batch, the 4 left with short ones after them
    assert max(sizes) == 32


def test_a_text_longer_than_the_cap_is_a_batch_of_its_own():
    assert list(length_batches([5000, 3000, 10], max_items=32, max_tokens=2048)) == [[0], [1], [2]]
    assert list(length_batches([], max_items=32, max_tokens=2048)) == []


def test_settings_refuse_a_negative_cap_and_zero_means_chosen_by_device(tmp_path):
    with pytest.raises(ValueError, match="embed_batch_tokens"):
        Settings(data_dir=tmp_path, embed_batch_tokens=-1)
    assert Settings(data_dir=tmp_path).embed_batch_tokens == 0
    assert token_cap(0, "cpu") == CPU_BATCH_TOKENS
    assert token_cap(0, "cuda") > 16 * CPU_BATCH_TOKENS  # a GPU is fed large passes
    assert token_cap(1024, "cuda") == 1024  # a setting wins on any device


def test_chunks_of_the_default_size_go_two_to_a_pass_on_a_cpu():
    lengths = [Settings.chunk_tokens + 20] * 6  # a default chunk with its title line
    assert [len(b) for b in length_batches(lengths, 32, CPU_BATCH_TOKENS)] == [2, 2, 2]


def test_a_gpu_takes_hundreds_of_short_texts_a_pass_and_a_cpu_32(tmp_path):
    with pytest.raises(ValueError, match="embed_batch_size"):
        Settings(data_dir=tmp_path, embed_batch_size=-1)
    assert item_cap(0, "cpu") == CPU_BATCH_ITEMS == 32
    lengths = [100] * 1000
    gpu = list(length_batches(lengths, item_cap(0, "cuda"), token_cap(0, "cuda")))
    assert len(gpu[0]) >= 256 and sorted(i for b in gpu for i in b) == list(range(1000))
    assert item_cap(64, "cuda") == 64


def test_ingest_embeds_each_batch_in_one_forward_pass(tmp_path, embedder, monkeypatch):
    """The embedder must not split a batch the ingest sized (on a GPU: 512 texts, not 32 at a time)."""
    from longlens import LongLens

    seen: list[tuple[int, int | None]] = []
    real = type(embedder).encode

    def encode(self, texts, **kw):  # noqa: ANN001, ANN202
        seen.append((len(texts), kw.get("batch_size")))
        return real(self, texts, **kw)

    monkeypatch.setattr(type(embedder), "encode", encode)
    doc = tmp_path / "notes.md"
    doc.write_text("\n\n".join(f"Paragraph {i} about herons and the river bank." for i in range(80)))
    with LongLens(tmp_path / "data", workers=1, embed_batch_size=48, embed_batch_tokens=100_000) as ll:
        ll.embedder = embedder
        assert not ll.ingest([doc]).failed
    ingest_calls = [call for call in seen if call[1] is not None]
    assert ingest_calls and all(n == size for n, size in ingest_calls)
