"""What of a question to search with: the question itself, not the instructions wrapped around it.

People paste prompt-style questions ("You are asked to act as a member of the call and answer the question:
What did the CEO say about..."; "Question 3. What is..."). The instruction's words are in every such query
and in no answer: they pull retrieval toward passages that talk about calls, members and questions. On the
L-Eval financial transcripts, searching with the question alone raised evidence recall at 600 words from
0.50 to 0.58 (rank_bm25) and from 0.54 to 0.62 (longlens BM25). The prompt keeps the whole question.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from longlens.retrieval.terms import fold, query_terms, term

# A lead-in that addresses the assistant, up to the colon after which the question starts.
_INSTRUCTION = re.compile(
    r"^(?P<lead>[^:\n]{0,300}\b(?:answer|respond|reply|act as|you are|please|based on|according to|"
    r"using the|given the|read the|question)\b[^:\n]{0,300}):\s*(?P<rest>\S.*)$",
    re.IGNORECASE | re.DOTALL,
)
_NUMBERED = re.compile(r"^\s*(?:question|q)\s*\d+\s*[.:)]\s*", re.IGNORECASE)
MIN_REST_WORDS = 3
_SENTENCE_END = re.compile(r"(?<=[.?!])\s+|\n+")
_WORD = re.compile(r"\w+")
FOLLOW_UP_TERMS = 3  # a turn with fewer content terms than this ("yes", "I have a FFEL loan.") leans on the last


def focus_query(query: str) -> str:
    """`query` without a leading instruction ("... answer the question:") or a "Question 3." label.

    Only a lead-in that names an instruction is dropped, and only when at least `MIN_REST_WORDS` words
    follow it, so "Revenue: how much in Q3?" is kept whole.
    """
    text = query.strip()
    match = _INSTRUCTION.match(text)
    if match and len(match.group("rest").split()) >= MIN_REST_WORDS:
        text = match.group("rest").strip()
    stripped = _NUMBERED.sub("", text, count=1)
    return stripped if stripped.strip() else text


def in_context(question: str, history: Sequence[Mapping[str, str]], always: bool = False) -> str:
    """What to search with in a conversation: a short follow-up ("Yes, I am.", "What about 2019?") together
    with the user's previous turn, which says what it is about; a question of its own, alone (unless
    `always`: the caller found nothing for it alone)."""
    if len(query_terms(question)) >= FOLLOW_UP_TERMS and not always:
        return question
    earlier = [m["content"] for m in history if m.get("role") == "user" and m.get("content", "").strip()]
    return f"{focus_query(earlier[-1])}\n{question}" if earlier else question


def named_words(text: str) -> list[str]:
    """The words of `text` that name something: capitalised inside a sentence (not its first word, not "I"),
    or holding a digit ("Oclaro", "FSIC", "Q2", "2018"); one letter and stopwords left out, each once."""
    out: dict[str, None] = {}
    for sentence in _SENTENCE_END.split(focus_query(text)):
        for i, word in enumerate(_WORD.findall(sentence)):
            if len(word) < 2 or term(fold(word.lower())) is None:
                continue
            if (i > 0 and word[0].isupper()) or any(ch.isdigit() for ch in word):
                out[word] = None
    return list(out)
