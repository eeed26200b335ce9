"""Fusing the dense and keyword lists into one ranking.

`standardised_score_fusion` is the default: it keeps how far apart the scores are, which ranks alone throw
away (a passage the embedder is sure of, far above the rest, is not outvoted by one the keyword side ranks a
hair higher). `reciprocal_rank_fusion` (Cormack et al., 2009) stays for lists whose scores mean nothing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def standardised_score_fusion(
    lists: Sequence[Sequence[tuple[int, float]]], weights: Sequence[float] | None = None
) -> list[tuple[int, float]]:
    """Fuse (id, score) lists, each best first, into (id, fused score) pairs, best first.

    Over the union of candidates, each list's scores are standardised (minus their mean, over their standard
    deviation); an id a list does not hold gets that list's lowest score (it ranked below all of them), an
    empty list adds nothing. The weighted sum of the standardised scores is mapped into (0, 1) by the
    logistic function, so a fused score reads like a probability and a cut relative to the best one keeps
    its meaning. Ties keep the order in which ids were first seen, so the result is deterministic.
    """
    weights = list(weights) if weights is not None else [1.0] * len(lists)
    if len(weights) != len(lists):
        raise ValueError("one weight per list")
    ids = list(dict.fromkeys(i for scored in lists for i, _ in scored))
    total = dict.fromkeys(ids, 0.0)
    for scored, weight in zip(lists, weights, strict=True):
        if not scored:
            continue
        own = dict(scored)
        floor = min(own.values())
        values = [own.get(i, floor) for i in ids]
        mean = sum(values) / len(values)
        sd = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values)) or 1.0
        for i, v in zip(ids, values, strict=True):
            total[i] += weight * (v - mean) / sd
    return sorted(((i, 1.0 / (1.0 + math.exp(-s))) for i, s in total.items()), key=lambda pair: -pair[1])


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[int]], k: int = 60, weights: Sequence[float] | None = None
) -> list[tuple[int, float]]:
    """Fuse lists of ids (best first) into (id, score) pairs, best first.

    Each list adds weight / (k + rank) to the ids it holds (rank from 1): an id ranked well by either
    retriever rises, one ranked well by both rises most. Ties keep the order in which ids were first seen.
    """
    weights = list(weights) if weights is not None else [1.0] * len(rankings)
    if len(weights) != len(rankings):
        raise ValueError("one weight per ranking")
    scores: dict[int, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
    return sorted(scores.items(), key=lambda pair: -pair[1])
