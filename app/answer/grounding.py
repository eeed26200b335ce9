"""Answers that say only what the passages say: every generated sentence is checked before it is shown.

A 135M model states wrong dates and echoes the question with a citation that looks trustworthy. So the
answer streams sentence by sentence, and a sentence reaches the reader only when a passage supports it:
at least half of its content words (as keyword search sees them; numbers of two digits or more count
double, single digits half) are in that passage, every number it states is there, and it says something
the question did not. A sentence whose markers point at a passage that does not support it is re-pointed
at the one that does, or dropped; a sentence without markers gets the marker of its support. Nothing
shown is ever taken back.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from longlens.answer.citations import MARKER, cited_numbers
from longlens.answer.prompting import NOT_FOUND
from longlens.retrieval.terms import term, words
from longlens.schema import Hit

MIN_COVERAGE = 0.5

# A sentence ends at terminal punctuation (with the markers that follow it) and a space, or at a line
# break. A period glued to a capital ("2013.At") ends one too: transcripts often lose that space.
_BOUNDARY = re.compile(  # after . ! or ?, and any closing quote or bracket: `He said "no." Then`
    r"(?:(?<=[.!?])|(?<=[.!?][\"'\u201d\u2019)]))((?:\s*\[\d+(?:\s*[,;]\s*\d+)*\])*)(\s+(?=[^\s\[])|(?=[A-Z][a-z]))|\n+"
)
# "B", "B.", "(C) to earn money", "The answer is D": a pick among the question's options, not a claim.
_OPTION_CHOICE = re.compile(
    r"^\W*(?:(?i:(?:the\s+)?(?:correct\s+)?(?:answer|option|choice)\s*(?:is|:)\s*)\(?[A-D]\)?\b|\(?[A-D]\)?(?:[.):]|\s*$))"
)
_OPTION_LINE = re.compile(r"^\s*[A-D][.)]\s+\S", re.MULTILINE)
_ABBREVIATION = re.compile(
    r"(?:\b(?:Inc|Ltd|Co|Corp|Mr|Mrs|Ms|Dr|Prof|St|Jr|Sr|vs|etc|Fig|Vol|pp?|ch|approx)|\bU\.[SK]|\be\.g|\bi\.e)\.$"
)
_FINISHED = re.compile(r"[.!?][\"'\u201d)]*(?:\s*\[\d+(?:\s*[,;]\s*\d+)*\])*$")
_NOT_FOUND = re.compile(r"\b(?:could not|couldn't|cannot|can't|unable to) find\b", re.IGNORECASE)


@dataclass
class AnswerCheck:
    """What the support check did to one answer; streamed last, after the citations."""

    kept: int = 0
    repointed: int = 0
    dropped: list[str] = field(default_factory=list)
    quoted: bool = False  # the answer is a quotation of the passages (see `longlens.answer.extractive`)


def split_sentences(text: str) -> list[str]:
    """Sentences of `text`, each keeping the markers that follow its final punctuation."""
    *complete, rest = take_sentences(text, final=True)
    return complete + ([rest.strip()] if rest.strip() else [])


def take_sentences(buffer: str, final: bool = False) -> list[str]:
    """The complete sentences of `buffer`, then the unfinished rest (always last, maybe empty). Unless
    `final`, a boundary at the very end is not trusted: more markers or words may still follow."""
    out, start = [], 0
    for match in _BOUNDARY.finditer(buffer):
        if match.end() >= len(buffer) and not final:
            break
        if _ABBREVIATION.search(buffer, 0, match.start()):
            continue  # "Inc.", "Dr.", "p.": not the end of a sentence
        end = match.start(2) if match.lastindex and match.group(2) is not None else match.start()
        if buffer[start:end].strip():
            out.append(buffer[start:end].strip())
        start = match.end()
    out.append(buffer[start:])
    return out


def content_terms(text: str) -> list[str]:
    """Content words as keyword search sees them (folded, stopwords dropped, stemmed); numbers as written."""
    out = []
    for w in words(MARKER.sub(" ", text)):
        t = w if w.isdigit() else term(w)
        if t is not None:
            out.append(t)
    return out


def is_multiple_choice(question: str) -> bool:
    return len(_OPTION_LINE.findall(question)) >= 2


class SupportJudge:
    """Decides, sentence by sentence, whether the passages support what the model wrote."""

    def __init__(self, question: str, passages: Sequence[Hit], check: AnswerCheck | None = None) -> None:
        self.passages = [set(content_terms(h.text)) for h in passages]
        self.question = set(content_terms(question))
        self.multiple_choice = is_multiple_choice(question)
        self.check = check if check is not None else AnswerCheck()

    def coverage(self, terms: Sequence[str], i: int) -> float:
        """The weighted share of `terms` that passage i holds; 0 when it lacks any number they state."""
        weight = {t: _weight(t) for t in terms}
        if not weight or not all(t in self.passages[i] for t in weight if t.isdigit()):
            return 0.0
        return sum(v for t, v in weight.items() if t in self.passages[i]) / sum(weight.values())

    def judge(self, sentence: str) -> str | None:
        """The sentence (markers corrected) if a passage supports it, else None."""
        bare = MARKER.sub("", sentence).strip()
        if self.multiple_choice and _OPTION_CHOICE.match(bare) or _NOT_FOUND.search(bare):
            self.check.kept += 1  # a pick among the question's options, or "could not find": no claim to check
            return bare if _NOT_FOUND.search(bare) else sentence
        terms = content_terms(sentence)
        if len(set(terms)) < 2 or not set(terms) - self.question or not self.passages:
            return self._drop(sentence)
        cited = [n - 1 for n in cited_numbers(sentence, len(self.passages))]
        if any(self.coverage(terms, i) >= MIN_COVERAGE for i in cited):
            self.check.kept += 1
            return sentence
        best = max(range(len(self.passages)), key=lambda i: self.coverage(terms, i))
        if self.coverage(terms, best) < MIN_COVERAGE:
            return self._drop(sentence)
        if cited:
            self.check.repointed += 1
        else:
            self.check.kept += 1
        return with_marker(sentence, best + 1)

    def _drop(self, sentence: str) -> None:
        self.check.dropped.append(sentence)
        return None


def _weight(t: str) -> float:
    """Numbers say most (2.0), but a single digit is in nearly every passage (0.5); words 1.0."""
    if t.isdigit():
        return 2.0 if len(t) > 1 else 0.5
    return 1.0


def with_marker(sentence: str, n: int) -> str:
    """`sentence` with its markers replaced by [n], placed before its final punctuation."""
    body = MARKER.sub("", sentence).rstrip()
    end = body[-1] if body and body[-1] in ".!?" else ""
    body = re.sub(r"[ \t]+([.,;:!?])", r"\1", body[: len(body) - len(end)].rstrip())
    return f"{body} [{n}]{end}"


def grounded_stream(pieces: Iterable[str], judge: SupportJudge, after_text: bool = False) -> Iterator[str]:
    """Re-emit streamed text one supported sentence at a time; unsupported ones never reach the reader.

    A last sentence without its final punctuation, after something was shown (`after_text`: a quotation
    came first), is a cut-off (the token limit) and is dropped too."""
    buffer, emitted = "", 0
    for piece in pieces:
        buffer += piece
        *complete, buffer = take_sentences(buffer)
        for sentence in complete:
            kept = judge.judge(sentence)
            if kept is not None:
                yield (" " if emitted else "") + kept
                emitted += 1
    last = buffer.strip()
    if not last:
        return
    if (emitted or after_text) and not _FINISHED.search(last):
        judge.check.dropped.append(last)
        return
    kept = judge.judge(last)
    if kept is not None:
        yield (" " if emitted else "") + kept


def says_not_found(text: str) -> bool:
    return text.strip() == NOT_FOUND or bool(_NOT_FOUND.search(text))


def dropped_note(n: int) -> str:
    """What a reader is told about the sentences the check left out."""
    return f"{n} generated sentence{'s' if n != 1 else ''} left out: no passage supports {'them' if n != 1 else 'it'}."


def unsupported_sentences(answer: str, passages: Sequence[Hit]) -> list[str]:
    """The sentences of a finished answer that the support check would not show (for measuring)."""
    judge = SupportJudge("", passages)
    return [s for s in split_sentences(answer) if not says_not_found(s) and judge.judge(s) is None]
