"""Words to keyword-search terms: lower case, accents folded, stopwords dropped, English Snowball stems.

One definition for the chunks and for the questions, so that "nesting" in a question finds "nests" in a
chunk. Stemming is cached per distinct word: a corpus has far fewer distinct words than tokens.
"""

from __future__ import annotations

import re
import threading
import unicodedata

import Stemmer

WORD = re.compile(r"\w+", re.UNICODE)
STOPWORDS = frozenset(
    "a an and are as at be by did do does for from has have how i in is it its of on or the this to was "
    "were what when where which who whom why will with you your".split()
)

MAX_WORD_CHARS = 64
"""Longer words are cut to this many characters: a text without spaces is one "word" per chunk, and keeping
each whole in the vocabulary held 100 MB for a 50 MB file; the cut is the same for questions, so a long token
(a hash, a URL) is still found by its first 64 characters."""

_local = threading.local()  # PyStemmer objects are not thread-safe: one per thread


def fold(word: str) -> str:
    """`word` without diacritics ("café" -> "cafe"); ASCII words are returned as they are."""
    if word.isascii():
        return word
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def stem(word: str) -> str:
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        stemmer = _local.stemmer = Stemmer.Stemmer("english")
    return stemmer.stemWord(word)


def words(text: str) -> list[str]:
    """The lower-cased, accent-folded words of `text`, stopwords included, in order."""
    return [fold(w) for w in clipped(WORD.findall(text.lower()))]


def clipped(found: list[str]) -> list[str]:
    """`found` with every word cut to `MAX_WORD_CHARS` (the same list when none is longer)."""
    if max(map(len, found), default=0) <= MAX_WORD_CHARS:
        return found
    return [w[:MAX_WORD_CHARS] for w in found]


def term(word: str) -> str | None:
    """The search term for one lower-cased, folded word; None for a stopword."""
    return None if word in STOPWORDS else stem(word)


def keyword_text(text: str, heading_path: str | None) -> str:
    """What keyword search indexes for a chunk: its section path, then its text."""
    return f"{heading_path}\n{text}" if heading_path else text


def query_terms(query: str) -> list[str]:
    """The distinct terms of a question, in order of first appearance."""
    seen: dict[str, None] = {}
    for w in words(query):
        t = term(w)
        if t is not None:
            seen.setdefault(t)
    return list(seen)
