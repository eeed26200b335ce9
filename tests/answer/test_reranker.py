"""Rerankers: a tiny cross-encoder the test builds, and the make_reranker switch."""

from __future__ import annotations

import pytest
import torch

from longlens.answer.pipeline import AskOptions
from longlens.answer.retriever import Filters
from longlens.models.embedder import resolve_embedder_path
from longlens.models.reranker import CrossEncoderReranker, LLMYesNoReranker, make_reranker


class WordCountingGenerator:
    """Only what passage selection asks of a generator: its window and a token count."""

    name = "word-counter"
    context_window = 4096

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def stream(self, messages, params):
        yield ""


@pytest.fixture(scope="module")
def tiny_cross_encoder(tmp_path_factory):
    """A 2-layer BERT sequence classifier with MiniLM's vocabulary, random weights, saved like a hub model."""
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    path = tmp_path_factory.mktemp("tiny-ce")
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
        num_labels=1, max_position_embeddings=128,
    )
    BertForSequenceClassification(config).save_pretrained(path)
    AutoTokenizer.from_pretrained(resolve_embedder_path("all-MiniLM-L6-v2")).save_pretrained(path)
    return str(path)


def test_cross_encoder_scores_are_probabilities_in_input_order(tiny_cross_encoder):
    rr = CrossEncoderReranker(tiny_cross_encoder, max_length=64)
    passages = ["herons nest in april", "ferries sail hourly", "a third passage about owls"]
    scores = rr.score("when do herons nest?", passages)
    assert len(scores) == 3 and all(0.0 <= s <= 1.0 for s in scores)
    assert scores == rr.score("when do herons nest?", passages)  # deterministic
    assert rr.score("q", []) == []
    reversed_scores = rr.score("when do herons nest?", passages[::-1])
    assert reversed_scores == pytest.approx(scores[::-1], abs=1e-6)


def test_make_reranker_picks_the_implementation(tiny_cross_encoder):
    assert make_reranker(None) is None and make_reranker("none") is None
    assert isinstance(make_reranker(tiny_cross_encoder), CrossEncoderReranker)
    assert isinstance(make_reranker("llm:/some/model"), LLMYesNoReranker)


def test_reranker_reaches_the_answer_pipeline(lens, tmp_path, tiny_cross_encoder):
    (tmp_path / "a.txt").write_text("Swifts sleep while flying.")
    lens.ingest([tmp_path / "a.txt"])
    lens.reranker = CrossEncoderReranker(tiny_cross_encoder, max_length=64)
    lens.generator = WordCountingGenerator()
    pipeline = lens.answer_pipeline()
    got = pipeline.retrieve("do swifts sleep in flight", Filters(lens.collections()), AskOptions(min_relevance=0.0))
    assert [h.text for h in got.passages] == ["Swifts sleep while flying."]
    assert 0.0 <= got.relevance[got.passages[0].chunk_id] <= 1.0
