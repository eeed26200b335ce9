"""Vectors an ingest need not compute again.

Embedding is nearly all of an ingest's time. When an edited file is ingested again, most of its chunks are
the ones its stored version already has: their vectors are taken from the store, and only the chunks whose
embedded text changed go to the embedder. A text that repeats inside one file (a running header, a
disclaimer on every page) is embedded once. Texts are compared by a 16-byte digest of exactly what the
embedder would read (the chunk with its section path), so a changed heading embeds the chunk again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np


def text_key(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


@dataclass
class EmbedPlan:
    """Per chunk position: embed it, take a stored vector, or copy the vector of an earlier position."""

    embed: list[int] = field(default_factory=list)
    stored: dict[int, np.ndarray] = field(default_factory=dict)
    repeats: dict[int, int] = field(default_factory=dict)  # position -> the earlier position with its text

    @property
    def reused(self) -> int:
        return len(self.stored) + len(self.repeats)


def plan_embedding(keys: Iterable[bytes], known: Mapping[bytes, np.ndarray]) -> EmbedPlan:
    """What to embed among chunks whose embedded texts have `keys`, given the vectors already `known`."""
    plan = EmbedPlan()
    first: dict[bytes, int] = {}
    for i, key in enumerate(keys):
        if key in known:
            plan.stored[i] = known[key]
        elif key in first:
            plan.repeats[i] = first[key]
        else:
            first[key] = i
            plan.embed.append(i)
    return plan
