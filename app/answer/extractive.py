"""Extractive answers: the passage sentence that answers the question, quoted with its source.

When the generator cannot be trusted to state a fact (the packaged 135M model states the right value for a
tenth of real factual questions) or says nothing the passages support, the answer is a quotation: the
sentence of the retrieved passages that best answers the question, labelled as a quote with its file and
page or time, e.g. `From report.pdf, p. 4: "Revenue rose 12%." [1]`.

A sentence is scored on what the question asks: the idf-weighted share of the question's terms it holds (rare
terms decide: "archive room" against a near-miss about the "annex room"), its meaning (the embedder's cosine,
and word by word: each question word's best match among the sentence's), whether it holds the kind of thing
asked for (a year for "when", a number for "how many", a name for "who"), whether its passage's title and
section are about the question's subject (a report's own figure, not another report's mention of it), and, a
little, the rank of its passage. A second sentence is quoted only when it scores nearly as well and is not a
variant of the first (a near-miss differs from the needle in one word and would bring in a wrong value).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from longlens.answer.grounding import content_terms, says_not_found, split_sentences
from longlens.answer.locations import location
from longlens.answer.relevance import keyword_coverage
from longlens.schema import Hit

EmbedFn = Callable[[list[str]], np.ndarray]  # texts -> L2-normalised vectors, one row each
TokenEmbedFn = Callable[[list[str]], tuple[np.ndarray, list[np.ndarray]]]  # + each text's unit word-piece vectors

KEYWORD_WEIGHT = 0.5
COSINE_WEIGHT = 0.35
KIND_WEIGHT = 0.1
RANK_WEIGHT = 0.05
HEADING_WEIGHT = 0.1  # the passage's title and section path hold the question's terms: it is about its subject
WORD_MATCH_WEIGHT = 0.2  # each question word's best match among the sentence's words, averaged (late interaction)
SECOND_QUOTE_RATIO = 0.8  # a second sentence is quoted when it scores this close to the best...
VARIANT_OVERLAP = 0.5  # ...and shares less than this of its terms with the first (else it is a variant)
MIN_WORDS = 6  # shorter lines are headings and labels more often than answers
ON_TOPIC = 0.3  # a generated sentence after a quote holds this much of the question's idf weight, or goes
MAX_QUOTE_WORDS = 80
RUN_ON_WORDS = 60  # a "sentence" longer than this is unpunctuated text (a raw transcript): quote windows of it
WINDOW_WORDS = 30  # ...of this many words, each starting half a window after the one before
SHARED_RUN_WORDS = 8  # a second quote sharing this many words in a row with the first repeats it

_YEAR_OR_DATE = re.compile(
    r"\b(1[5-9]\d\d|20\d\d)\b|\b(January|February|March|April|May|June|July|August|September|October|"
    r"November|December)\b", re.IGNORECASE)
_NUMBER = re.compile(r"\d")
_ASKS = (
    (re.compile(r"^\s*(when|what year|which year|what date)\b", re.IGNORECASE), "date"),
    (re.compile(r"\b(how (many|much|long|old|far|large|big)|what (percentage|percent|number|amount))\b",
                re.IGNORECASE), "number"),
    (re.compile(r"^\s*(who|whom|whose|where)\b|\b(what|which) (is|was) the name\b|^\s*(in )?which (country|city|"
                r"state|town|company|team|person|river|island)\b", re.IGNORECASE), "name"),
)


QUOTATION = re.compile(r"From [^\n\u201c]*: \u201c[^\u201d]*\u201d \[\d+\]\s*")
"""A quotation as `quotation` writes it: verbatim passage text, so the support check has nothing to check."""


def without_quotations(text: str) -> str:
    return QUOTATION.sub("", text).strip()


@dataclass
class Quote:
    passage: int  # 1-based: the marker number of the passage it comes from
    sentence: str
    score: float


def asked_kind(question: str) -> str | None:
    """What kind of thing the question asks for: "date", "number", "name", or None."""
    for pattern, kind in _ASKS:
        if pattern.search(question):
            return kind
    return None


def holds_kind(sentence: str, kind: str | None, question: str) -> bool:
    if kind == "date":
        return bool(_YEAR_OR_DATE.search(sentence))
    if kind == "number":
        return bool(_NUMBER.search(sentence))
    if kind == "name":  # a person or a place: a capitalised word past the first that the question does not hold
        asked = {w.strip(".,;:!?\"'()").lower() for w in question.split()}
        return any(w[:1].isupper() and w.strip(".,;:!?\"'()").lower() not in asked for w in sentence.split()[1:])
    return False


@dataclass
class Candidates:
    """The quotable sentences of the passages and what each is scored on (one array entry per sentence)."""

    passage: list[int]  # 1-based marker number of the sentence's passage
    sentence: list[str]
    features: dict[str, np.ndarray]


FEATURE_WEIGHTS = {
    "keyword": KEYWORD_WEIGHT, "cosine": COSINE_WEIGHT, "kind": KIND_WEIGHT, "rank": RANK_WEIGHT,
    "heading": HEADING_WEIGHT, "word_match": WORD_MATCH_WEIGHT,
}


def candidate_sentences(
    question: str,
    passages: Sequence[Hit],
    weights: Mapping[str, float],
    embed: EmbedFn | None,
    embed_tokens: TokenEmbedFn | None = None,
) -> Candidates:
    """Every sentence of `passages` that could answer `question`, with its features (see the module doc).
    `embed_tokens`, when given, gives both the cosine and the word match in one forward pass."""
    question_terms = set(content_terms(question))
    pairs = [
        (n, s) for n, hit in enumerate(passages, start=1) for s in quotable_pieces(hit.text)
        if len(s.split()) >= MIN_WORDS and not s.rstrip().endswith("?") and set(content_terms(s)) - question_terms
    ]  # a question answers nothing
    found = Candidates([n for n, _ in pairs], [s for _, s in pairs], {})
    if not pairs:
        return found
    kind = asked_kind(question)
    weights = local_weights(weights, passages)
    cosine = word_match = np.zeros(len(pairs))
    if embed_tokens is not None:
        vectors, tokens = embed_tokens([question] + found.sentence)
        cosine = np.clip(vectors[1:] @ vectors[0], 0.0, 1.0)
        word_match = np.array([max_sim(tokens[0], t) for t in tokens[1:]])
    elif embed is not None:
        vectors = embed([question] + found.sentence)
        cosine = np.clip(vectors[1:] @ vectors[0], 0.0, 1.0)
    headings = [keyword_coverage(weights, f"{h.title}\n{h.heading_path}") for h in passages]
    found.features = {
        "keyword": np.array([keyword_coverage(weights, s) for s in found.sentence]),
        "cosine": cosine,
        "kind": np.array([float(holds_kind(s, kind, question)) for s in found.sentence]),
        "heading": np.array([headings[n - 1] for n in found.passage]),
        "rank": np.array([1.0 / n for n in found.passage]),
        "word_match": word_match,
    }
    return found


def max_sim(question: np.ndarray, sentence: np.ndarray) -> float:
    """Late interaction (ColBERT's MaxSim): each question word-piece's best cosine among the sentence's, averaged.
    A sentence that says "China" for the question's "Chinese", or "earned" for "revenue", still matches word by
    word, where a single sentence vector blurs what the question asks with the words around it."""
    if not len(question) or not len(sentence):
        return 0.0
    return float(np.clip(question @ sentence.T, 0.0, 1.0).max(axis=1).mean())


def quotable_pieces(text: str) -> list[str]:
    """The sentences of a passage that can stand alone as a quote. In text with capitals, one that starts in
    lower case is left out (the tail of a sentence the chunk cut, or a fragment). A run-on piece of
    unpunctuated text (a transcript without sentence ends, often all lower case) becomes overlapping windows
    of WINDOW_WORDS words."""
    out = []
    cased = any(c.isupper() for c in text)
    for sentence in split_sentences(_join_wrapped(text)):
        words = sentence.split()
        if len(words) > RUN_ON_WORDS:
            step = WINDOW_WORDS // 2
            out.extend(" ".join(words[j : j + WINDOW_WORDS]) for j in range(0, len(words) - step, step))
        elif not (cased and sentence[:1].islower()):
            out.append(sentence)
    return out


def choose_quotes(
    found: Candidates, score: np.ndarray, limit: int = 2, ratio: float = SECOND_QUOTE_RATIO
) -> list[Quote]:
    """The best-scoring sentence, and up to `limit - 1` more that score close to it and are not variants."""
    if not found.sentence:
        return []
    order = np.argsort(-score, kind="stable")
    top = int(order[0])
    quotes = [Quote(found.passage[top], found.sentence[top], float(score[top]))]
    first_terms = set(content_terms(found.sentence[top]))
    for i in order[1:]:
        if len(quotes) >= limit or score[i] < ratio * score[top]:
            break
        terms = set(content_terms(found.sentence[i]))
        if terms and len(terms & first_terms) / len(terms) >= VARIANT_OVERLAP:
            continue  # a variant of the first: a near-miss, or the same fact again
        if shared_run(found.sentence[i], found.sentence[top]) >= SHARED_RUN_WORDS:
            continue  # an overlapping window of the same words
        quotes.append(Quote(found.passage[i], found.sentence[i], float(score[i])))
    return quotes


def shared_run(a: str, b: str) -> int:
    """The length, in words, of the longest run of words `a` and `b` share."""
    x, y = a.lower().split(), b.lower().split()
    best, prev = 0, [0] * (len(y) + 1)
    for wa in x:
        cur = [0] * (len(y) + 1)
        for j, wb in enumerate(y, start=1):
            if wa == wb:
                cur[j] = prev[j - 1] + 1
                best = max(best, cur[j])
        prev = cur
    return best


def weighted_score(found: Candidates, feature_weights: Mapping[str, float] = FEATURE_WEIGHTS) -> np.ndarray:
    return sum((w * found.features[name] for name, w in feature_weights.items()), np.zeros(len(found.sentence)))


def best_sentences(
    question: str,
    passages: Sequence[Hit],
    weights: Mapping[str, float],
    embed: EmbedFn | None,
    limit: int = 2,
    embed_tokens: TokenEmbedFn | None = None,
) -> list[Quote]:
    """The sentences of `passages` (in rank order) that best answer `question`, best first: at most `limit`,
    a second only when it scores close to the first and is not a variant of it."""
    found = candidate_sentences(question, passages, weights, embed, embed_tokens)
    return choose_quotes(found, weighted_score(found), limit) if found.sentence else []


def local_weights(weights: Mapping[str, float], passages: Sequence[Hit]) -> dict[str, float]:
    """The question's term weights, scaled down by how many of the passages hold the term: the company name
    of an earnings call is rare in the collection but in every passage of its transcript, so it cannot say
    which sentence answers."""
    held = [set(content_terms(h.text)) for h in passages]
    return {t: w * (1.0 - sum(t in h for h in held) / (len(held) + 1)) for t, w in weights.items()}


def quotation(quotes: Sequence[Quote], passages: Sequence[Hit]) -> str:
    """The quotes as an answer, each labelled with its source and cited: `From a.pdf, p. 4: "..." [1]`."""
    parts = []
    for q in quotes:
        words = " ".join(q.sentence.split()).split(" ")
        text = " ".join(words[:MAX_QUOTE_WORDS]) + (" …" if len(words) > MAX_QUOTE_WORDS else "")
        text = re.sub(r"\s*\[\d+(?:\s*[,;]\s*\d+)*\]", "", text)  # the document's own brackets are not ours
        hit = passages[q.passage - 1]
        where = location(hit)
        source = f"{Path(hit.document).name}, {where}" if where else Path(hit.document).name
        parts.append(f"From {source}: \u201c{text}\u201d [{q.passage}]")
    return " ".join(parts)


def contradicts(sentence: str, quotes: Sequence[Quote], question: str) -> bool:
    """Whether a generated sentence, shown after the quotes, gainsays them: it says it could not find the
    answer; or it states a number of two digits or more that they do not, while the question asks for a
    number or a date or the sentence is about what they are about (half its terms are theirs)."""
    if says_not_found(sentence):
        return True
    quoted = set().union(*(content_terms(q.sentence) for q in quotes))
    terms = set(content_terms(sentence))
    new_numbers = [t for t in terms if t.isdigit() and len(t) > 1 and t not in quoted]
    if not new_numbers:
        return False
    return asked_kind(question) in ("number", "date") or len(terms & quoted) / len(terms) >= VARIANT_OVERLAP


def on_topic(sentence: str, weights: Mapping[str, float]) -> bool:
    """Whether a sentence is about the question: it holds at least ON_TOPIC of its terms' idf weight."""
    return keyword_coverage(weights, sentence) >= ON_TOPIC


WRAPPED_LINE_CHARS = 50
"""A line at least this long that ends without punctuation was wrapped at the page's width: the capitalised
word after it ("The lighthouse keeper is / Marguerite Vasquez.") continues its sentence. A shorter one is more
likely a heading ("Harbour rules")."""


_WRAPPED = re.compile(  # ...and not a sentence closed inside quotes or brackets: `... "Really, it's Apple's fault."`
    rf"(?m)^([^\n]{{{WRAPPED_LINE_CHARS - 1},}}[^.!?:;\n\s])(?<![.!?][\"'\u201d\u2019)])\n(?=\S)"
)


def _join_wrapped(text: str) -> str:
    """`text` with lines that a PDF or a transcript wrapped mid-sentence joined again, so a quote is never cut
    at a line end: a line break before a lower-case word is not a sentence end, nor one after a long line
    that ends without punctuation."""
    text = re.sub(r"(?<=[^.!?:\n])\n(?=[a-z(])", " ", text)
    return _WRAPPED.sub(r"\1 ", text)
