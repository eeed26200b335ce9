"""Choosing what goes into the LLM's context, after "Long-Context LLMs Meet RAG" (Jin et al., 2024).

More retrieved passages can make a long-context answer worse: passages that score high but do not answer
(hard negatives) mislead the model, and models read the middle of a long context worst. So, in order:
drop near-duplicates, cut the tail relative to the best score, cap by the token budget, and reorder so
the strongest passages sit at the beginning and the end. Each step can be switched off, for measurement.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")
_WORD = re.compile(r"\w+")


@dataclass
class SelectionConfig:
    dedupe: bool = True
    dedupe_threshold: float = 0.8  # Jaccard similarity of word 3-shingles above which a passage is a copy
    tail_cut: bool = True
    min_relative_score: float = 0.3  # keep passages scoring at least this fraction of the best one
    token_budget: int | None = None  # tokens the passages may take in the prompt; None: no cap
    reorder: bool = True


def select_passages(
    items: Sequence[T],
    scores: Sequence[float],
    text_of: Callable[[T], str],
    count_tokens: Callable[[str], int],
    config: SelectionConfig,
) -> list[T]:
    """Apply the enabled steps to `items` (best first, with their scores) and return the context order."""
    ranked = sorted(zip(items, scores, strict=True), key=lambda pair: -pair[1])
    if config.dedupe:
        ranked = drop_near_duplicates(ranked, lambda pair: text_of(pair[0]), config.dedupe_threshold)
    if config.tail_cut:
        ranked = cut_tail(ranked, [s for _, s in ranked], config.min_relative_score)
    kept = [item for item, _ in ranked]
    if config.token_budget is not None:
        kept = cap_tokens(kept, lambda item: count_tokens(text_of(item)), config.token_budget)
    return reorder_for_long_context(kept) if config.reorder else kept


def shingles(text: str, n: int = 3) -> set[tuple[str, ...]]:
    words = _WORD.findall(text.lower())
    if len(words) < n:
        return {tuple(words)} if words else set()
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def drop_near_duplicates(items: Sequence[T], text_of: Callable[[T], str], threshold: float) -> list[T]:
    """Keep the first (best) of any group of passages whose word 3-shingles overlap above `threshold`."""
    kept: list[T] = []
    kept_shingles: list[set[tuple[str, ...]]] = []
    for item in items:
        sh = shingles(text_of(item))
        if any(_jaccard(sh, other) >= threshold for other in kept_shingles):
            continue
        kept.append(item)
        kept_shingles.append(sh)
    return kept


def _jaccard(a: set, b: set) -> float:
    if not a or not b:
        return 1.0 if a == b else 0.0
    return len(a & b) / len(a | b)


def cut_tail(items: Sequence[T], scores: Sequence[float], min_relative: float) -> list[T]:
    """Drop items scoring below `min_relative` × the best score (negative scores count as zero)."""
    if not items:
        return []
    best = max(max(scores), 0.0)
    if best == 0.0:
        return [items[0]]
    return [item for item, score in zip(items, scores, strict=True) if max(score, 0.0) >= min_relative * best]


def cap_tokens(items: Sequence[T], tokens_of: Callable[[T], int], budget: int) -> list[T]:
    """The longest prefix of `items` that fits in `budget` tokens (always at least the first item)."""
    kept: list[T] = []
    used = 0
    for item in items:
        cost = tokens_of(item)
        if kept and used + cost > budget:
            break
        kept.append(item)
        used += cost
    return kept


def reorder_for_long_context(items: Sequence[T]) -> list[T]:
    """Best first, second best last, and so on inwards: ranks [1..5] become [1, 3, 5, 4, 2]."""
    return list(items[0::2]) + list(items[1::2])[::-1]
