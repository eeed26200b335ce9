"""Whether the retrieved passages can answer a question, decided on both retrievers' evidence.

A dense-cosine floor alone says "could not find" for short follow-ups ("I have a FFEL loan.") and for names
and codes the embedder does not know, while keyword search finds them word for word. So a question counts
as answerable when either side is confident: the best passage's cosine with the question, or the share of
the question's terms (each weighed by its idf, so rare words count most and a word the collection never
holds counts most of all) that one passage holds. Thresholds were chosen on the even-numbered documents of
the real sets, with the other set's questions as the ones whose answer is absent (`bench/real_relevance.py`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from longlens.retrieval.terms import term, words

DENSE_FLOOR = 0.2
"""Best cosine (packaged MiniLM) at or above which the passages are taken to hold the answer."""
KEYWORD_FLOOR = 0.5
"""Idf-weighted share of the question's terms one passage must hold to count as evidence by itself."""


@dataclass
class Evidence:
    """Per retrieved passage (in retrieval order): its cosine with the question and its keyword coverage."""

    cosine: list[float]
    keyword: list[float]

    @property
    def best_cosine(self) -> float:
        return max(self.cosine, default=0.0)

    @property
    def best_keyword(self) -> float:
        return max(self.keyword, default=0.0)

    def answerable(self, dense_floor: float = DENSE_FLOOR, keyword_floor: float = KEYWORD_FLOOR) -> bool:
        return self.best_cosine >= dense_floor or self.best_keyword >= keyword_floor


def keyword_coverage(weights: Mapping[str, float], text: str) -> float:
    """The idf-weighted share of the question's terms (`weights`: term -> idf) that `text` holds."""
    total = sum(weights.values())
    if total <= 0.0:
        return 0.0
    present = {t for t in (term(w) for w in words(text)) if t is not None}
    return sum(v for t, v in weights.items() if t in present) / total


def keyword_evidence(weights: Mapping[str, float], texts: Sequence[str]) -> list[float]:
    return [keyword_coverage(weights, text) for text in texts]
