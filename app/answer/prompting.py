"""The answer prompt: numbered passages with their locations, the question, and the rules for citing."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from longlens.answer.locations import location
from longlens.schema import Hit

SYSTEM_PROMPT = (
    "You answer questions about the user's documents and videos using only the numbered passages given. "
    "After each claim, cite the passages that support it with their numbers in square brackets, like [1] or "
    "[2][3]. If the passages do not contain the answer, say that you could not find it in the documents. "
    "Be concise. Example: The bridge opened in 1932 [2]."
)
NOT_FOUND = "I could not find this in the documents."
ANSWER_CUE = "Answer with citations:"
"""Ends the user turn; `AskOptions.answer_cue` changes it per model. Measured (bench/RESULTS.md): SmolLM2-135M
answers best with this one; Qwen2.5-Coder-0.5B replies with markers alone ("[1]") to it and answers with
"Answer in full sentences, citing passages like [1]:"."""


def passage_label(hit: Hit) -> str:
    """A short source line for a passage: file name plus page, section or time range."""
    name = hit.title or Path(hit.document).name
    where = location(hit)
    return f"{name}, {where}" if where else name


def build_messages(
    question: str, passages: Sequence[Hit], history: Sequence[dict[str, str]] = (), cue: str = ANSWER_CUE
) -> list[dict[str, str]]:
    """Chat messages for the generator: system rules, earlier turns, then passages + question."""
    blocks = [f"[{n}] ({passage_label(hit)})\n{hit.text.strip()}" for n, hit in enumerate(passages, start=1)]
    user = "Passages:\n\n" + "\n\n".join(blocks) + f"\n\nQuestion: {question.strip()}\n{cue}"
    return [{"role": "system", "content": SYSTEM_PROMPT}, *history, {"role": "user", "content": user}]
