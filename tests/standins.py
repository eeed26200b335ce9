"""A deterministic stand-in for the generator: fast, and it cites as a careful model would."""

from __future__ import annotations

import re


class CitingGenerator:
    """Restates the sentence of the first passage that mentions `key_term` and cites that passage (the support
    check wants a claim the passage holds); `invented_marker` appends a citation to a passage that does not
    exist, as small models do."""

    name = "citing-stand-in"
    context_window = 2048

    def __init__(self, key_term: str = "lighthouse", invented_marker: int | None = None) -> None:
        self.key_term = key_term
        self.invented_marker = invented_marker
        self.prompts: list[list[dict]] = []

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def stream(self, messages, params):  # noqa: ANN001, ANN201 - the Generator protocol
        self.prompts.append(messages)
        user = messages[-1]["content"]
        blocks = re.findall(r"^\[(\d+)\] \((.*?)\)\n(.*?)(?=\n\n\[\d+\] |\n\nQuestion:)", user, re.S | re.M)
        cited = [(n, text) for n, _label, text in blocks if self.key_term.lower() in text.lower()]
        answer = "Not in the passages."
        if cited:
            n, text = cited[0]
            fact = next(s for s in re.split(r"(?<=[.!?])\s+", text) if self.key_term.lower() in s.lower())
            extra = f"[{self.invented_marker}]" if self.invented_marker is not None else ""
            answer = f"{fact.strip().rstrip('.')} [{n}]{extra}."
        for i in range(0, len(answer), 4):
            yield answer[i : i + 4]
