"""The answer pipeline: retrieve → rerank → drop hard negatives → reorder → prompt → stream → check → cite."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np

from longlens.answer.citations import build_citations, clean_markers, filter_stream
from longlens.answer.extractive import Quote, best_sentences, contradicts, on_topic, quotation
from longlens.answer.grounding import AnswerCheck, SupportJudge, grounded_stream, is_multiple_choice
from longlens.answer.prompting import ANSWER_CUE, NOT_FOUND, build_messages
from longlens.answer.relevance import DENSE_FLOOR, KEYWORD_FLOOR, Evidence, keyword_evidence
from longlens.answer.retriever import Filters, HybridRetriever, SearchMode
from longlens.models.generation import GenerationParams, Generator
from longlens.models.reranker import Reranker
from longlens.retrieval.query import focus_query, in_context, named_words
from longlens.retrieval.selection import SelectionConfig, reorder_for_long_context, select_passages
from longlens.schema import Answer, Citation, Hit, LongLensError
from longlens.store.store import Store

PROMPT_OVERHEAD_TOKENS = 400  # system rules, labels, question
TRUSTED_PARAMETERS = 1_000_000_000
"""Below this many weights, "auto" quotes the passages first and adds the generated sentences after: the
packaged SmolLM2-135M stated the right value for 4 of 25 factual questions on real pages (bench/RESULTS.md).
No model between 135M and 1B has been measured yet."""
AnswerMode = Literal["auto", "generate", "extract"]
ANSWER_MODES: tuple[str, ...] = ("auto", "generate", "extract")


@dataclass
class AskOptions:
    """Everything one question can tune; the defaults suit a laptop."""

    max_passages: int = 8
    candidates: int = 30
    mode: SearchMode = "hybrid"
    rerank: bool = True
    min_relevance: float | None = None  # best cosine (or reranker score) below which there is nothing to answer from
    min_keyword_evidence: float = KEYWORD_FLOOR  # ...unless one passage holds this idf-weighted share of the terms
    selection: SelectionConfig = field(default_factory=SelectionConfig)
    generation: GenerationParams = field(default_factory=lambda: GenerationParams(max_tokens=256))
    history: Sequence[dict[str, str]] = ()
    answer_cue: str = ANSWER_CUE  # the line that ends the prompt: small models differ in what they follow
    answer_mode: AnswerMode | None = None  # auto | generate | extract; None: the setting (auto by default)

    def __post_init__(self) -> None:
        for name in ("max_passages", "candidates"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise LongLensError(f"{name} must be a whole number of at least 1, not {value!r}")


@dataclass
class Retrieved:
    """The passages chosen for the prompt, in prompt order, with the relevance each one got."""

    passages: list[Hit]
    relevance: dict[int, float]
    evidence: Evidence | None = None  # what the "could not find" decision was made on
    weights: dict[str, float] = field(default_factory=dict)  # the question's terms and their idf
    query: str = ""  # what was searched: the question, with the previous turn when it is a short follow-up


class AnswerPipeline:
    def __init__(
        self, store: Store, retriever: HybridRetriever, generator: Generator, reranker: Reranker | None,
        answer_mode: AnswerMode = "auto",
    ):
        self.answer_mode = answer_mode
        self.store = store
        self.retriever = retriever
        self.generator = generator
        self.reranker = reranker

    def retrieve(self, question: str, filters: Filters, opts: AskOptions) -> Retrieved:
        """The passages for the prompt, in retrieval order (or the reranker's), or none when neither the
        dense nor the keyword evidence says the documents hold the answer. In a conversation, a short
        follow-up is searched with the user's turn before it, and so is a question that finds nothing by
        itself; but not one that names something the documents never mention (a company, a code, a year):
        it is about something else, and the turn before would only make it look answerable."""
        if opts.history and self.retriever.unmentioned(named_words(question), filters):
            return self._retrieve(question, filters, opts)
        query = in_context(question, opts.history)
        got = self._retrieve(query, filters, opts)
        if not got.passages and query == question and opts.history:
            again = in_context(question, opts.history, always=True)
            if again != question:
                return self._retrieve(again, filters, opts)
        return got

    def _retrieve(self, query: str, filters: Filters, opts: AskOptions) -> Retrieved:
        ranked = self.retriever.ranked(query, opts.candidates, filters, opts.mode)
        hits = ranked.hits + ranked.leaders_left_out
        if not hits:
            return Retrieved([], {})
        focused = focus_query(query)
        weights = self.retriever.term_weights(focused, filters)
        evidence = Evidence(self._cosine(focused, hits), keyword_evidence(weights, [h.text for h in hits]))
        use_reranker = opts.rerank and self.reranker is not None
        dense_floor = DENSE_FLOOR
        if use_reranker:
            scores = self.reranker.score(query, [h.text for h in hits])
            floor = opts.min_relevance if opts.min_relevance is not None else 0.1
            answerable = max(scores) >= floor or evidence.best_keyword >= opts.min_keyword_evidence
        else:
            scores = [h.score for h in hits]  # the fused order: re-sorting by cosine alone loses recall
            dense_floor = opts.min_relevance if opts.min_relevance is not None else DENSE_FLOOR
            answerable = evidence.answerable(dense_floor, opts.min_keyword_evidence)
        if not answerable:
            return Retrieved([], {}, evidence, weights, query)
        hits, scores = _sure_first(hits, scores, evidence, dense_floor, opts.min_keyword_evidence)
        relevance = {h.chunk_id: s for h, s in zip(hits, scores, strict=True)}
        budget = self.generator.context_window - opts.generation.max_tokens - PROMPT_OVERHEAD_TOKENS
        cfg = opts.selection
        steps = replace(cfg, token_budget=min(cfg.token_budget or budget, budget), reorder=False)
        chosen = select_passages(hits, scores, lambda h: h.text, self.generator.count_tokens, steps)
        chosen = chosen[: opts.max_passages]
        if cfg.reorder:
            chosen = reorder_for_long_context(chosen)
        return Retrieved(chosen, relevance, evidence, weights, query)

    def _cosine(self, question: str, hits: list[Hit]) -> list[float]:
        """The cosine between the question and the stored chunk vectors."""
        q = self.retriever.embedder.encode_query(question)
        vectors = self.store.embeddings([h.chunk_id for h in hits], len(q))
        return (vectors @ q).astype(np.float64).tolist()

    def stream(self, question: str, filters: Filters, opts: AskOptions) -> Iterator[str | Citation | AnswerCheck]:
        """Yield the answer as it is made (a quotation, then or else the generated sentences that passages
        support), then one Citation per source it cites, then the AnswerCheck saying what was left out."""
        check = AnswerCheck()
        retrieved = self.retrieve(question, filters, opts)
        if not retrieved.passages:
            yield NOT_FOUND
            yield check
            return
        passages = retrieved.passages
        mode = opts.answer_mode or self.answer_mode
        quote_first = mode == "extract" or (
            mode == "auto" and not self.trusts_generator() and not is_multiple_choice(question)
        )
        shown: list[str] = []
        quotes: list[Quote] = []
        weights = retrieved.weights
        if quote_first:
            quotes = self._quotes(retrieved.query, passages, weights)
            if quotes:
                check.quoted = True
                shown.append(quotation(quotes, passages))
                yield shown[-1]
        if mode != "extract":
            judge = SupportJudge(question, passages, check)
            messages = build_messages(question, passages, opts.history, opts.answer_cue)
            generated = filter_stream(self.generator.stream(messages, opts.generation), len(passages))
            for sentence in grounded_stream(generated, judge, after_text=bool(shown)):
                sentence = sentence.strip()
                if quotes and (contradicts(sentence, quotes, question) or not on_topic(sentence, weights)):
                    check.dropped.append(sentence)
                    continue
                shown.append(("\n\n" if check.quoted and len(shown) == 1 else " " if shown else "") + sentence)
                yield shown[-1]
        if not shown and mode == "auto" and not quote_first:  # nothing generated survived: quote instead
            quotes = self._quotes(retrieved.query, passages, weights)
            if quotes:
                check.quoted = True
                shown.append(quotation(quotes, passages))
                yield shown[-1]
        if not shown:
            shown.append(NOT_FOUND)
            yield NOT_FOUND
        yield from build_citations("".join(shown), passages)
        yield check

    def trusts_generator(self) -> bool:
        """Whether the generator is big enough to state facts in its own words (unknown sizes are trusted)."""
        size = getattr(self.generator, "parameter_count", None)
        return size is None or size >= TRUSTED_PARAMETERS

    def _quotes(self, question: str, passages: list[Hit], weights: dict[str, float]) -> list[Quote]:
        embedder = self.retriever.embedder
        return best_sentences(
            focus_query(question), passages, weights, embedder.encode,
            embed_tokens=getattr(embedder, "encode_with_tokens", None),
        )

    def ask(self, question: str, filters: Filters, opts: AskOptions) -> Answer:
        pieces: list[str] = []
        citations: list[Citation] = []
        check = AnswerCheck()
        for event in self.stream(question, filters, opts):
            if isinstance(event, Citation):
                citations.append(event)
            elif isinstance(event, AnswerCheck):
                check = event
            else:
                pieces.append(event)
        # markers were already checked while streaming; this only tidies the spacing they left
        text = clean_markers("".join(pieces), n_passages=10**9)
        return Answer(text=text, citations=citations, dropped=len(check.dropped), quoted=check.quoted)


def _sure_first(
    hits: list[Hit], scores: list[float], evidence: Evidence, dense_floor: float, keyword_floor: float
) -> tuple[list[Hit], list[float]]:
    """`hits` with the passage of best cosine and the one of best keyword coverage moved to the front, with
    the best score, when each is strong: reciprocal rank fusion can rank a passage that only one retriever
    finds (a needle that keyword search puts first) below many that both find half-way down."""
    sure = []
    if evidence.best_keyword >= keyword_floor:
        sure.append(int(np.argmax(evidence.keyword)))
    if evidence.best_cosine >= dense_floor:
        sure.append(int(np.argmax(evidence.cosine)))
    if not sure:
        return hits, scores
    order = list(dict.fromkeys(sure)) + [i for i in range(len(hits)) if i not in sure]
    top = max(scores)
    return [hits[i] for i in order], [top if i in sure else scores[i] for i in order]
