"""A served app on a free loopback port, with a deterministic stand-in generator for speed."""

from __future__ import annotations

import re
import socket

import pytest

PAGES = [
    "Introduction. This guide covers the ferry schedule and the harbour rules in general terms.",
    "Harbour rules. Visitors must register at the blue kiosk. The lighthouse keeper is Marguerite Vasquez.",
    "Appendix. Fares are listed by season. Children ride free on weekdays.",
]


class CitingGenerator:
    """Cites the first passage that mentions the key term, like a careful model would."""

    name = "citing-stand-in"
    context_window = 2048

    def __init__(self, key_term: str = "lighthouse") -> None:
        self.key_term = key_term
        self.prompts: list[list[dict]] = []

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def stream(self, messages, params):
        self.prompts.append(messages)
        user = messages[-1]["content"]
        blocks = re.findall(r"^\[(\d+)\] \((.*?)\)\n(.*?)(?=\n\n\[\d+\] |\n\nQuestion:)", user, re.S | re.M)
        cited = [(n, text) for n, _label, text in blocks if self.key_term.lower() in text.lower()]
        answer = "Not in the passages."
        if cited:  # restate the passage's sentence, as the support check wants a claim the passage holds
            n, text = cited[0]
            fact = next(s for s in re.split(r"(?<=[.!?])\s+", text) if self.key_term.lower() in s.lower())
            answer = f"{fact.strip().rstrip('.')} [{n}]."
        for i in range(0, len(answer), 4):
            yield answer[i : i + 4]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served(lens):
    """(url, lens, generator) for an app launched in-process on 127.0.0.1."""
    from longlens.ui.app import launch_app

    gen = CitingGenerator()
    lens.generator = gen
    port = free_port()
    demo = launch_app(lens, port=port, prevent_thread_lock=True, max_upload_bytes=200_000)
    yield f"http://127.0.0.1:{port}/", lens, gen
    demo.close()


@pytest.fixture
def guide_pdf(tmp_path, pdf_writer):
    path = tmp_path / "guide.pdf"
    pdf_writer(path, PAGES)
    return path
