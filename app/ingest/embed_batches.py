"""Batches for embedding many chunks: similar lengths together, and a cap on padded tokens per forward pass.

A fixed count of 32 texts of 256 tokens holds about 230 MB of attention scores at once on a CPU (MiniLM: 12
heads x 256 x 256 floats per text, twice), which is what pushed a 50 MB ingest past 1 GB. On a CPU, 2 texts of
that length embed as fast per text as 32 (measured on 2 cores, `bench/huge_text.py`), and the smaller the
passes the less the allocator keeps between them: 512 padded tokens a pass peaked 74 MB lower than 2,048 on a
2 MB ingest. Short texts still go 32 at a time. A GPU wants large passes, so there both caps are far higher.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

CPU_BATCH_TOKENS = 512
GPU_BATCH_TOKENS = 65_536
CPU_BATCH_ITEMS = 32
GPU_BATCH_ITEMS = 512


def token_cap(setting: int, device: str) -> int:
    """Padded tokens per forward pass: the setting when given, else the device's default."""
    if setting:
        return setting
    return CPU_BATCH_TOKENS if device == "cpu" else GPU_BATCH_TOKENS


def item_cap(setting: int, device: str) -> int:
    """Texts per forward pass at most: the setting when given, else the device's default."""
    if setting:
        return setting
    return CPU_BATCH_ITEMS if device == "cpu" else GPU_BATCH_ITEMS


def length_batches(lengths: Sequence[int], max_items: int, max_tokens: int) -> Iterator[list[int]]:
    """Indices into `lengths`, longest first, in batches of at most `max_items` whose padded size (count x
    the batch's longest) stays within `max_tokens`; a single text longer than `max_tokens` is a batch alone."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    start = 0
    while start < len(order):
        longest = max(1, lengths[order[start]])
        size = max(1, min(max_items, max_tokens // longest))
        yield order[start : start + size]
        start += size
