"""Reciprocal rank fusion: merge ranked lists whose scores are not comparable (cosine vs BM25)."""

from __future__ import annotations

from collections.abc import Sequence


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[int]], k: int = 60, weights: Sequence[float] | None = None
) -> list[tuple[int, float]]:
    """Fuse lists of ids (best first) into (id, score) pairs, best first.

    Each list adds weight / (k + rank) to the ids it holds (rank from 1), as in Cormack et al. (2009):
    an id ranked well by either retriever rises, one ranked well by both rises most. Ties keep the order
    in which ids were first seen, so the result is deterministic.
    """
    weights = list(weights) if weights is not None else [1.0] * len(rankings)
    if len(weights) != len(rankings):
        raise ValueError("one weight per ranking")
    scores: dict[int, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
    return sorted(scores.items(), key=lambda pair: -pair[1])
