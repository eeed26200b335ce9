"""Judge-free measures for real questions: evidence recall at a word budget, token F1, ROUGE-L, MC letters.

Shared by `bench/eval_real.py` and its test slice so that the figures in the README are computed by code
the test suite runs. Systems are compared at the same budget of retrieved words, never at the same k,
since their chunks differ in size.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

_WORD = re.compile(r"[a-z0-9]+")
# Common English function words: they say nothing about whether the evidence was found. Kept apart from
# retrieval.terms.STOPWORDS on purpose: the judge must not move when retrieval's list is tuned.
EVAL_STOPWORDS = frozenset(
    "a about above after again against all am an and any are as at be because been before being below between "
    "both but by can could did do does doing down during each few for from further had has have having he her "
    "here hers herself him himself his how i if in into is it its itself just me more most my myself no nor not "
    "now of off on once only or other our ours ourselves out over own same she should so some such than that the "
    "their theirs them themselves then there these they this those through to too under until up very was we "
    "were what when where which while who whom why will with would you your yours yourself yourselves also "
    "s t d ll m re ve".split()
)


def words(text: str) -> list[str]:
    """Lower-cased alphanumeric words."""
    return _WORD.findall(text.lower())


def content_words(text: str) -> set[str]:
    """The distinct words of `text` that carry content (stopwords removed)."""
    return {w for w in words(text) if w not in EVAL_STOPWORDS}


def take_words(passages: Sequence[str], budget: int) -> str:
    """The passages, best first, joined and cut at `budget` words (the last one may be cut short)."""
    out: list[str] = []
    left = budget
    for text in passages:
        if left <= 0:
            break
        parts = text.split()
        out.extend(parts[:left])
        left -= len(parts[:left])
    return " ".join(out)


def evidence_recall(reference: str, retrieved: str) -> float:
    """Share of the reference answer's content words that appear in the retrieved text (1.0 if it has none)."""
    wanted = content_words(reference)
    if not wanted:
        return 1.0
    return len(wanted & set(words(retrieved))) / len(wanted)


def token_f1(prediction: str, reference: str) -> float:
    """SQuAD-style token F1 over content words (multiset overlap)."""
    pred = [w for w in words(prediction) if w not in EVAL_STOPWORDS]
    ref = [w for w in words(reference) if w not in EVAL_STOPWORDS]
    if not pred or not ref:
        return float(pred == ref)
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def rouge_l(prediction: str, reference: str) -> float:
    """ROUGE-L F-measure: longest common subsequence of words, over all words."""
    pred, ref = words(prediction), words(reference)
    if not pred or not ref:
        return 0.0
    prev = [0] * (len(ref) + 1)
    for p in pred:
        cur = [0]
        for j, r in enumerate(ref, start=1):
            cur.append(prev[j - 1] + 1 if p == r else max(prev[j], cur[-1]))
        prev = cur
    lcs = prev[-1]
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(pred), lcs / len(ref)
    return 2 * precision * recall / (precision + recall)


_LETTERS = re.compile(r"\b([A-D])\b")


def letters(text: str) -> set[str]:
    """The option letters an answer names ("B", "A and C", "(D)"); the reference format is "AC" or "B"."""
    text = text.strip()
    if re.fullmatch(r"[A-D]+", text):
        return set(text)
    return set(_LETTERS.findall(text))


def option_text(question: str, letter: str) -> str:
    """The text of option `letter` in a multiple-choice question written one option per line ("B. ...")."""
    match = re.search(rf"^\s*{letter}[.)]\s*(.+)$", question, re.MULTILINE)
    return match.group(1).strip() if match else ""
