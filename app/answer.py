"""The answer pipeline: retrieve → rerank → drop hard negatives → reorder → prompt → stream → cite."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from longlens.citations import attribute_unmarked, build_citations, cited_numbers, clean_markers, filter_stream
from longlens.models.generation import GenerationParams, Generator
from longlens.models.reranker import Reranker
from longlens.prompting import ANSWER_CUE, NOT_FOUND, build_messages
from longlens.retrieval.selection import SelectionConfig, reorder_for_long_context, select_passages
from longlens.retriever import Filters, HybridRetriever, SearchMode
from longlens.schema import Answer, Citation, Hit
from longlens.store import Store

PROMPT_OVERHEAD_TOKENS = 400  # system rules, labels, question


@dataclass
class Attribution:
    """Streamed after the text when the model cited nothing: the answer with markers added from evidence."""

    text: str


@dataclass
class AskOptions:
    """Everything one question can tune; the defaults suit a laptop."""

    max_passages: int = 8
    candidates: int = 30
    mode: SearchMode = "hybrid"
    rerank: bool = True
    min_relevance: float | None = None  # below this best score there is nothing to answer from
    selection: SelectionConfig = field(default_factory=SelectionConfig)
    generation: GenerationParams = field(default_factory=lambda: GenerationParams(max_tokens=256))
    history: Sequence[dict[str, str]] = ()
    answer_cue: str = ANSWER_CUE  # the line that ends the prompt: small models differ in what they follow


@dataclass
class Retrieved:
    """The passages chosen for the prompt, in prompt order, with the relevance each one got."""

    passages: list[Hit]
    relevance: dict[int, float]


class AnswerPipeline:
    def __init__(self, store: Store, retriever: HybridRetriever, generator: Generator, reranker: Reranker | None):
        self.store = store
        self.retriever = retriever
        self.generator = generator
        self.reranker = reranker

    def retrieve(self, question: str, filters: Filters, opts: AskOptions) -> Retrieved:
        hits = self.retriever.retrieve(question, opts.candidates, filters, opts.mode)
        if not hits:
            return Retrieved([], {})
        use_reranker = opts.rerank and self.reranker is not None
        scores = self.reranker.score(question, [h.text for h in hits]) if use_reranker else self._cosine(question, hits)
        floor = opts.min_relevance if opts.min_relevance is not None else (0.1 if use_reranker else 0.2)
        if max(scores) < floor:
            return Retrieved([], {})
        relevance = {h.chunk_id: s for h, s in zip(hits, scores, strict=True)}
        budget = self.generator.context_window - opts.generation.max_tokens - PROMPT_OVERHEAD_TOKENS
        cfg = opts.selection
        steps = replace(cfg, token_budget=min(cfg.token_budget or budget, budget), reorder=False)
        chosen = select_passages(hits, scores, lambda h: h.text, self.generator.count_tokens, steps)
        chosen = chosen[: opts.max_passages]
        if cfg.reorder:
            chosen = reorder_for_long_context(chosen)
        return Retrieved(chosen, relevance)

    def _cosine(self, question: str, hits: list[Hit]) -> list[float]:
        """Without a reranker, relevance is the cosine between the question and the stored chunk vectors."""
        q = self.retriever.embedder.encode_query(question)
        vectors = self.store.embeddings([h.chunk_id for h in hits], len(q))
        return (vectors @ q).astype(np.float64).tolist()

    def stream(self, question: str, filters: Filters, opts: AskOptions) -> Iterator[str | Attribution | Citation]:
        """Yield answer text as it is generated, then (maybe) an Attribution, then one Citation per source."""
        retrieved = self.retrieve(question, filters, opts)
        if not retrieved.passages:
            yield NOT_FOUND
            return
        messages = build_messages(question, retrieved.passages, opts.history, opts.answer_cue)
        raw: list[str] = []

        def tee() -> Iterator[str]:
            for piece in self.generator.stream(messages, opts.generation):
                raw.append(piece)
                yield piece

        yield from filter_stream(tee(), len(retrieved.passages))
        text = "".join(raw)
        if not cited_numbers(text, len(retrieved.passages)) and text.strip() != NOT_FOUND:
            attributed = attribute_unmarked(text, retrieved.passages)
            if attributed != text:
                yield Attribution(attributed)
                text = attributed
        yield from build_citations(text, retrieved.passages)

    def ask(self, question: str, filters: Filters, opts: AskOptions) -> Answer:
        pieces: list[str] = []
        citations: list[Citation] = []
        for event in self.stream(question, filters, opts):
            if isinstance(event, Citation):
                citations.append(event)
            elif isinstance(event, Attribution):
                pieces = [event.text]
            else:
                pieces.append(event)
        # markers were already checked while streaming; this only tidies the spacing they left
        return Answer(text=clean_markers("".join(pieces), n_passages=10**9), citations=citations)
