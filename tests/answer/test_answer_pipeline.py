"""The answer pipeline end to end with a stand-in generator that reads its prompt like an LLM would.

The stand-in finds the numbered passage containing the question's key term and restates its sentence
citing it, plus one marker pointing nowhere, so these tests check retrieval → prompt → citations, not model quality
(tests/answer/test_real_llm.py does that with the packaged SmolLM2).
"""

from __future__ import annotations

import re

import pytest

from longlens.answer.citations import filter_stream
from longlens.answer.grounding import AnswerCheck
from longlens.answer.pipeline import AskOptions
from longlens.answer.prompting import ANSWER_CUE, NOT_FOUND
from longlens.answer.retriever import Filters
from longlens.retrieval.selection import SelectionConfig
from longlens.schema import Citation
from tests.standins import CitingGenerator


@pytest.fixture
def docs_lens(lens, tmp_path, pdf_writer):
    pdf_writer(
        tmp_path / "guide.pdf",
        ["Field guide cover.", "Habitats overview.", "The heron colony counted 214 nesting pairs in 2025."],
    )
    (tmp_path / "ferry.md").write_text("# Ferry\n\n## Fleet\n\nThe MV Tern carries 312 passengers.\n")
    assert len(lens.ingest([tmp_path / "guide.pdf", tmp_path / "ferry.md"]).ok) == 2
    return lens


def test_ask_cites_the_right_page_and_drops_invented_markers(docs_lens):
    docs_lens.generator = CitingGenerator("heron", invented_marker=99)
    answer = docs_lens.ask("How many heron nesting pairs were counted?")
    assert "[99]" not in answer.text and re.search(r"\[\d\]", answer.text)
    assert len(answer.citations) == 1
    cit = answer.citations[0]
    assert cit.document.endswith("guide.pdf") and cit.page_start == 3 and "214" in cit.quote
    prompt = docs_lens.generator.prompts[0][-1]["content"]
    assert "guide.pdf, p. 3" in prompt or "p. 3" in prompt
    assert prompt.strip().endswith(ANSWER_CUE)
    docs_lens.ask("How many heron nesting pairs were counted?", options=AskOptions(answer_cue="Reply, citing [n]:"))
    assert docs_lens.generator.prompts[-1][-1]["content"].strip().endswith("\nReply, citing [n]:")


def test_stream_yields_text_then_citations(docs_lens):
    docs_lens.generator = CitingGenerator("Tern", invented_marker=99)
    events = list(docs_lens.stream("What is the passenger capacity of the MV Tern?"))
    kinds = [type(e) for e in events]
    assert kinds.index(Citation) > 0 and all(k is Citation for k in kinds[kinds.index(Citation) : -1])
    assert kinds[-1] is AnswerCheck and events[-1].dropped == []
    text = "".join(e for e in events if isinstance(e, str))
    assert "[99]" not in text
    cit = [e for e in events if isinstance(e, Citation)][0]
    assert cit.document.endswith("ferry.md") and "312" in cit.quote


def test_nothing_relevant_says_so_without_calling_the_model(docs_lens):
    gen = CitingGenerator("zzz", invented_marker=99)
    docs_lens.generator = gen
    answer = docs_lens.ask("What is the airspeed velocity of an unladen swallow in quantum chromodynamics?")
    assert answer.text == NOT_FOUND and answer.citations == [] and gen.prompts == []
    empty = docs_lens.ask("heron", collection=[])
    assert empty.text == NOT_FOUND


def test_passage_options_reach_the_prompt(docs_lens):
    gen = CitingGenerator("heron", invented_marker=99)
    docs_lens.generator = gen
    opts = AskOptions(max_passages=1, min_relevance=-1.0, selection=SelectionConfig(tail_cut=False))
    docs_lens.ask("heron nesting pairs", options=opts)
    prompt = gen.prompts[0][-1]["content"]
    assert "[1] (" in prompt and "[2] (" not in prompt and "214 nesting pairs" in prompt


def test_filter_stream_handles_a_generator_that_splits_markers():
    assert "".join(filter_stream(["See [", "1", "] and [", "5]"], 2)) == "See [1] and "


def test_a_copy_answers_and_is_cited_under_its_own_name(docs_lens, tmp_path):
    (tmp_path / "ferry-copy.md").write_text((tmp_path / "ferry.md").read_text())
    report = docs_lens.ingest([tmp_path / "ferry-copy.md"])
    assert report.documents[0]["same_content_as"].endswith("ferry.md")
    docs_lens.generator = CitingGenerator("Tern", invented_marker=99)
    answer = docs_lens.ask("How many passengers does the MV Tern carry?", document="ferry-copy.md")
    assert [c.document.rsplit("/", 1)[-1] for c in answer.citations] == ["ferry-copy.md"]


def test_keyword_evidence_alone_keeps_a_fact_the_dense_side_misses(docs_lens):
    """With the dense floor out of reach, a passage holding the question's words still answers; a question
    whose rare words no document holds still gets "could not find"."""
    docs_lens.generator = CitingGenerator("Tern", invented_marker=99)
    dense_blind = AskOptions(min_relevance=1.01)
    answer = docs_lens.ask("MV Tern passengers?", options=dense_blind)
    assert answer.text != NOT_FOUND and [c.document.rsplit("/", 1)[-1] for c in answer.citations] == ["ferry.md"]
    absent = docs_lens.ask("How many passengers does the MV Quokkaship carry?", options=dense_blind)
    assert absent.text == NOT_FOUND


def test_keyword_coverage_weighs_rare_terms():
    from longlens.answer.relevance import keyword_coverage

    weights = {"tern": 5.0, "passeng": 1.0}
    assert keyword_coverage(weights, "The MV Tern carries 312 passengers.") == 1.0
    assert keyword_coverage(weights, "Passengers board at nine.") == pytest.approx(1 / 6)
    assert keyword_coverage({}, "anything") == 0.0


class TinyGenerator(CitingGenerator):
    """A stand-in as small as the packaged model, which states a near-miss value."""

    parameter_count = 135_000_000

    def stream(self, messages, params):
        self.prompts.append(messages)
        yield from ["The heron colony counted 241 nesting pairs [1]. ", "Herons nest in the heron colony [1]."]


def test_extract_quotes_the_answering_sentence_with_its_page(docs_lens):
    gen = CitingGenerator("heron", invented_marker=99)
    docs_lens.generator = gen
    answer = docs_lens.ask("How many heron nesting pairs were counted?", options=AskOptions(answer_mode="extract"))
    assert answer.quoted and gen.prompts == []  # no model call at all
    assert answer.text.startswith("From guide.pdf, p. 3: \u201cThe heron colony counted 214 nesting pairs in 2025.")
    assert [(c.document.rsplit("/", 1)[-1], c.page_start) for c in answer.citations] == [("guide.pdf", 3)]


def test_auto_quotes_first_for_a_small_model_and_drops_what_gainsays_the_quote(docs_lens):
    docs_lens.generator = TinyGenerator("heron")
    events = list(docs_lens.stream("How many heron nesting pairs were counted?"))
    text = "".join(e for e in events if isinstance(e, str))
    assert events[0].startswith("From guide.pdf, p. 3:") and "214" in events[0]
    assert "241" not in text  # the generated near-miss contradicts the quote
    check = events[-1]
    assert check.quoted and check.dropped == ["The heron colony counted 241 nesting pairs [1]."]
    assert "Herons nest in the heron colony" in text


def test_auto_falls_back_to_a_quote_when_no_generated_sentence_is_supported(docs_lens):
    class Inventing(CitingGenerator):
        def stream(self, messages, params):
            yield "The ferry MV Tern was built on the moon by penguins [1]."

    docs_lens.generator = Inventing("Tern")
    answer = docs_lens.ask("What is the passenger capacity of the MV Tern?")
    assert answer.quoted and answer.dropped == 1 and "312 passengers" in answer.text and "moon" not in answer.text
    assert answer.to_dict()["dropped_sentences"] == 1


def test_a_passage_only_keyword_search_finds_reaches_the_prompt(lens, tmp_path):
    """Fusion ranks a passage one retriever puts first below those both find half-way; ask keeps it."""
    filler = [
        f"## Club notes {i}\n\nOur rowing club keeps its boats in the boathouse and members store oars in "
        f"the lockers by the slipway; crew {i} trains at dawn." for i in range(40)
    ]
    cooking = " ".join(f"Simmer the lentils with cumin, garlic and {spice} until soft, then season." for spice in
                       ("lemon", "salt", "pepper", "chili", "mint", "dill", "thyme", "basil", "sage", "clove"))
    needle = f"## Kitchen\n\n{cooking} The locker combination at the Halifax rowing club is 7463343. {cooking}"
    (tmp_path / "essays.md").write_text("# Notes\n\n" + "\n\n".join(filler[:20] + [needle] + filler[20:]))
    assert not lens.ingest([tmp_path / "essays.md"]).failed
    lens.generator = CitingGenerator("Halifax", invented_marker=99)
    got = lens.answer_pipeline().retrieve(
        "What is the locker combination at the Halifax rowing club?",
        Filters(lens._target_collections(None)), AskOptions(max_passages=2),
    )
    assert any("7463343" in h.text for h in got.passages)


def test_a_short_follow_up_is_searched_with_the_turn_before_it(docs_lens):
    docs_lens.generator = CitingGenerator("heron", invented_marker=99)
    extract = AskOptions(answer_mode="extract")
    assert docs_lens.ask("Yes, please.", options=extract).text == NOT_FOUND
    history = [
        {"role": "user", "content": "I want to know about the heron colony nesting pairs."},
        {"role": "assistant", "content": "Shall I look up the count?"},
    ]
    answer = docs_lens.ask("Yes, please.", options=AskOptions(answer_mode="extract", history=history))
    assert "214 nesting pairs" in answer.text and answer.citations[0].page_start == 3
    longer = "That is precisely my doubt, can you clear it out?"  # not short, but finds nothing by itself
    assert docs_lens.ask(longer, options=extract).text == NOT_FOUND
    answer = docs_lens.ask(longer, options=AskOptions(answer_mode="extract", history=history))
    assert "214 nesting pairs" in answer.text


def test_a_question_about_something_the_documents_never_mention_is_not_rescued_by_the_turn_before(docs_lens):
    """Searched with the heron turn it would find the heron page; it names a company the documents lack."""
    docs_lens.generator = CitingGenerator("heron", invented_marker=99)
    history = [
        {"role": "user", "content": "I want to know about the heron colony nesting pairs."},
        {"role": "assistant", "content": "The colony counted 214 nesting pairs [1]."},
    ]
    in_chat = AskOptions(answer_mode="extract", history=history)
    for question in ("What did the Oclaro board decide about its restructuring in 2019?", "And Oclaro?"):
        assert docs_lens.ask(question, options=in_chat).text == NOT_FOUND
    assert "312 passengers" in docs_lens.ask("And the MV Tern, how many passengers?", options=in_chat).text
