"""Keyword index: BM25 over numpy postings, keyed by chunk id, persisted atomically.

Why not rank inside the database: SQLite FTS5 finds the matches of a question over 100k chunks in a few
ms, but its bm25() ranking of them costs ~40 ms. Here each posting carries its precomputed BM25 weight, so a
question is a few array slices and one `bincount`. Like the FAISS index, this is a cache of the database:
keyed by chunk id, reconciled against it by id, rebuilt from it when its file is missing or unreadable.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from longlens.retrieval.terms import WORD, clipped, fold, query_terms, term

K1 = 1.2
B = 0.75
IDF_FLOOR = 1e-6
FORMAT = 1
TOKENIZE_SLICE = 1024


@dataclass(frozen=True)
class _Postings:
    """Documents and (term, document, tf) postings grouped by term; immutable once built."""

    chunk_ids: np.ndarray  # int64, sorted: a document's number is its position here
    doc_len: np.ndarray  # int32: indexed terms per document
    term_of: np.ndarray  # int32, grouped by term
    doc_of: np.ndarray  # int32 document number of each posting
    tf: np.ndarray  # int32 term frequency of each posting
    offsets: np.ndarray  # int64 [n_terms + 1]: postings of term t are offsets[t]:offsets[t + 1]
    weight: np.ndarray  # float32 BM25 weight of each posting (idf x saturated, length-normalised tf)

    @property
    def n_terms(self) -> int:
        return len(self.offsets) - 1

    @classmethod
    def build(cls, chunk_ids: np.ndarray, doc_len: np.ndarray, term_of: np.ndarray, doc_of: np.ndarray,
              tf: np.ndarray, n_terms: int) -> _Postings:
        order = np.argsort(term_of, kind="stable")
        term_of, doc_of, tf = term_of[order], doc_of[order], tf[order]
        df = np.bincount(term_of, minlength=n_terms)
        offsets = np.zeros(n_terms + 1, dtype=np.int64)
        np.cumsum(df, out=offsets[1:])
        n = len(chunk_ids)
        # Robertson-Sparck Jones idf, floored as SQLite FTS5 does: a term in half the chunks or more adds
        # almost nothing (on the evaluation set this ranks better than Lucene's always-positive variant)
        idf = np.maximum(np.log((n - df + 0.5) / (df + 0.5)), IDF_FLOOR)
        avg_len = float(doc_len.mean()) if n and doc_len.any() else 1.0
        # idf x tf (k1 + 1) / (tf + k1 (1 - b + b len / avg)), in place in float32: a 50 MB document has
        # millions of postings, and each float64 temporary of the plain expression would cost tens of MB
        tf_f = tf.astype(np.float32)
        denom = doc_len[doc_of].astype(np.float32)
        denom *= np.float32(K1 * B / avg_len)
        denom += np.float32(K1 * (1.0 - B))
        denom += tf_f
        weight = tf_f
        weight *= np.float32(K1 + 1.0)
        weight /= denom
        del denom
        weight *= idf.astype(np.float32)[term_of]
        return cls(chunk_ids, doc_len, term_of, doc_of, tf, offsets, weight)

    @classmethod
    def empty(cls) -> _Postings:
        i32 = np.zeros(0, dtype=np.int32)
        return cls.build(np.zeros(0, dtype=np.int64), i32, i32, i32, i32, 0)


@dataclass(frozen=True)
class _Batch:
    """Tokenized documents not yet merged into the postings (document numbers local to the batch)."""

    chunk_ids: np.ndarray
    doc_len: np.ndarray
    term_of: np.ndarray
    doc_of: np.ndarray
    tf: np.ndarray

    def without(self, ids: np.ndarray) -> _Batch:
        keep = ~np.isin(self.chunk_ids, ids)
        renumber = np.cumsum(keep) - 1
        kept_postings = keep[self.doc_of]
        return _Batch(self.chunk_ids[keep], self.doc_len[keep], self.term_of[kept_postings],
                      renumber[self.doc_of[kept_postings]].astype(np.int32), self.tf[kept_postings])


class BM25Index:
    """BM25 (k1 = 1.2, b = 0.75) over the chunks of one collection; any query term may match (OR).

    `add` tokenizes at once; merging into the postings waits for the next search or save, so a
    reconcile that removes and adds pays for one merge.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self._lock = threading.RLock()
        self._vocab: dict[str, int] = {}  # term -> term id
        self._word_ids: dict[str, int] = {}  # lower-cased word -> term id, -1 for a stopword (a cache)
        self._postings = _Postings.empty()
        self._batches: list[_Batch] = []
        self._removed: list[np.ndarray] = []  # ids to drop from the merged postings at the next merge
        self.dirty = False
        if self.path is not None and self.path.exists():
            self._load(self.path)

    # reading ------------------------------------------------------------------------------------

    @property
    def ntotal(self) -> int:
        return len(self.ids())

    def ids(self) -> np.ndarray:
        with self._lock:
            merged = self._postings.chunk_ids
            if self._removed:
                merged = merged[~np.isin(merged, np.concatenate(self._removed))]
            return np.concatenate([merged, *(b.chunk_ids for b in self._batches)])

    def search(self, query: str, k: int, allowed_ids: np.ndarray | None = None) -> list[tuple[int, float]]:
        """Top-k (chunk id, BM25 score) for `query`, best first, ties by chunk id; among `allowed_ids`."""
        with self._lock:
            self._merge()
            p = self._postings
        term_ids = [t for t in (self._vocab.get(q) for q in query_terms(query)) if t is not None and t < p.n_terms]
        n = len(p.chunk_ids)
        if not term_ids or n == 0 or k <= 0:
            return []
        spans = [slice(p.offsets[t], p.offsets[t + 1]) for t in term_ids]
        docs = np.concatenate([p.doc_of[s] for s in spans])
        weights = np.concatenate([p.weight[s] for s in spans])
        scores = np.bincount(docs, weights=weights, minlength=n)
        if allowed_ids is not None:
            allowed = np.asarray(allowed_ids, dtype=np.int64)
            pos = np.searchsorted(p.chunk_ids, allowed)
            found_at = pos < n
            found_at[found_at] = p.chunk_ids[pos[found_at]] == allowed[found_at]
            mask = np.zeros(n, dtype=bool)
            mask[pos[found_at]] = True
            scores[~mask] = 0.0
        found = np.flatnonzero(scores > 0)
        if len(found) > k:
            found = found[np.argpartition(-scores[found], k - 1)[:k]]
        found = found[np.lexsort((found, -scores[found]))]
        return [(int(p.chunk_ids[d]), float(scores[d])) for d in found]

    def rarity(self, query: str) -> dict[str, float]:
        """The idf BM25 gives each of the query's terms here; a term no chunk holds is the rarest of all
        (df = 0). Uniform (1.0) while the index is empty."""
        with self._lock:
            self._merge()
            p = self._postings
        n = len(p.chunk_ids)
        out = {}
        for t in query_terms(query):
            tid = self._vocab.get(t)
            df = int(p.offsets[tid + 1] - p.offsets[tid]) if tid is not None and tid < p.n_terms else 0
            out[t] = max(float(np.log((n - df + 0.5) / (df + 0.5))), IDF_FLOOR) if n else 1.0
        return out

    # writing ------------------------------------------------------------------------------------

    def add(self, ids: np.ndarray, texts: list[str]) -> None:
        """Index `texts` under chunk `ids` (an id already indexed is replaced)."""
        ids = np.asarray(ids, dtype=np.int64)
        if len(ids) != len(texts):
            raise ValueError(f"{len(ids)} ids for {len(texts)} texts")
        if len(ids) == 0:
            return
        batch = self._tokenize(ids, texts)
        with self._lock:
            self._forget(ids)
            self._batches.append(batch)
            self.dirty = True

    def remove(self, ids: np.ndarray) -> int:
        ids = np.asarray(ids, dtype=np.int64)
        if len(ids) == 0:
            return 0
        with self._lock:
            before = self.ntotal
            self._forget(ids)
            self.dirty = True
            return before - self.ntotal

    def save(self) -> None:
        """Write the index to a temporary file and rename it over the old one (crash-safe)."""
        if self.path is None:
            return
        with self._lock:
            self._merge()
            p = self._postings
            terms = sorted(self._vocab, key=self._vocab.__getitem__)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(self.path.name + ".tmp")
            with open(tmp, "wb") as fh:
                np.savez(fh, format=np.int64(FORMAT), chunk_ids=p.chunk_ids, doc_len=p.doc_len, term_of=p.term_of,
                         doc_of=p.doc_of, tf=p.tf, terms=np.frombuffer("\n".join(terms).encode(), dtype=np.uint8))
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
            self.dirty = False

    # internals ----------------------------------------------------------------------------------

    def _term_id(self, word: str) -> int:
        """The term id of a lower-cased word, learning its term if new; -1 for a stopword."""
        t = term(fold(word))
        tid = -1 if t is None else self._vocab.setdefault(t, len(self._vocab))
        self._word_ids[word] = tid
        return tid

    def _tokenize(self, ids: np.ndarray, texts: list[str]) -> _Batch:
        """Count each (term, document) pair, `TOKENIZE_SLICE` texts at a time: a Python list of every token
        of a 50 MB document would take gigabytes, one slice's takes a few MB."""
        lengths = np.zeros(len(texts), dtype=np.int32)
        terms, docs, tfs = [], [], []
        for first in range(0, len(texts), TOKENIZE_SLICE):
            flat: list[int] = []
            with self._lock:  # the vocabulary grows here
                for i, text in enumerate(texts[first : first + TOKENIZE_SLICE], start=first):
                    tids = self._term_ids(text)
                    flat.extend(tids)
                    lengths[i] = len(tids)
                n_terms = max(len(self._vocab), 1)
            local = np.repeat(np.arange(len(texts[first : first + TOKENIZE_SLICE]), dtype=np.int64),
                              lengths[first : first + TOKENIZE_SLICE])
            pairs, tf = np.unique(local * n_terms + np.asarray(flat, dtype=np.int64), return_counts=True)
            terms.append((pairs % n_terms).astype(np.int32))
            docs.append((pairs // n_terms + first).astype(np.int32))
            tfs.append(tf.astype(np.int32))
        joined = [np.concatenate(x) if x else np.zeros(0, dtype=np.int32) for x in (terms, docs, tfs)]
        return _Batch(ids, lengths, *joined)

    def _term_ids(self, text: str) -> list[int]:
        """The term ids of `text`'s words, stopwords left out (caller holds the lock)."""
        found = clipped(WORD.findall(text.lower()))
        tids = list(map(self._word_ids.get, found))
        if None in tids:  # words seen for the first time
            tids = [self._term_id(w) if t is None else t for w, t in zip(found, tids, strict=True)]
        if -1 in tids:  # stopwords
            tids = [t for t in tids if t >= 0]
        return tids

    def _forget(self, ids: np.ndarray) -> None:
        """Drop `ids` from the merged postings (at the next merge) and from pending batches."""
        self._removed.append(ids)
        self._batches = [b.without(ids) for b in self._batches]

    def _merge(self) -> None:
        """Fold pending removals and batches into new postings (caller holds the lock)."""
        if not self._batches and not self._removed:
            return
        old = self._postings
        keep = np.ones(len(old.chunk_ids), dtype=bool)
        if self._removed:
            keep = ~np.isin(old.chunk_ids, np.concatenate(self._removed))
        kept = keep[old.doc_of]
        parts = [_Batch(old.chunk_ids[keep], old.doc_len[keep], old.term_of[kept],
                        (np.cumsum(keep) - 1)[old.doc_of[kept]].astype(np.int32), old.tf[kept]), *self._batches]
        first_doc = np.cumsum([0] + [len(b.chunk_ids) for b in parts])
        chunk_ids = np.concatenate([b.chunk_ids for b in parts])
        order = np.argsort(chunk_ids, kind="stable")
        number = np.empty(len(order), dtype=np.int32)
        number[order] = np.arange(len(order), dtype=np.int32)
        local = [b.doc_of.astype(np.int64) + first for b, first in zip(parts, first_doc[:-1], strict=True)]
        doc_of = number[np.concatenate(local)]
        self._postings = _Postings.build(
            chunk_ids[order],
            np.concatenate([b.doc_len for b in parts])[order],
            np.concatenate([b.term_of for b in parts]),
            doc_of,
            np.concatenate([b.tf for b in parts]),
            len(self._vocab),
        )
        self._batches, self._removed = [], []

    def _load(self, path: Path) -> None:
        with np.load(path, allow_pickle=False) as z:
            if int(z["format"]) != FORMAT:
                raise ValueError(f"{path}: keyword index format {int(z['format'])}, expected {FORMAT}")
            raw = z["terms"].tobytes().decode()
            terms = raw.split("\n") if raw else []
            self._vocab = {t: i for i, t in enumerate(terms)}
            self._postings = _Postings.build(z["chunk_ids"], z["doc_len"], z["term_of"], z["doc_of"], z["tf"],
                                             len(terms))
