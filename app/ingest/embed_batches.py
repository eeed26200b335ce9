"""Batches for embedding many chunks: similar lengths together, and a cap on padded tokens per forward pass.

A fixed count of 32 texts of 256 tokens holds about 230 MB of attention scores at once on a CPU (MiniLM: 12
heads x 256 x 256 floats per text, twice), which is what pushed a 50 MB ingest past 1 GB; 8 texts of that
length embed as fast per text (measured on 2 cores, `bench/huge_text.py`), so the cap costs nothing. Short
texts still go 32 at a time.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence


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
