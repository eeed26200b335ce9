"""Quotations: which sentence of the passages an extractive answer quotes."""

from __future__ import annotations

import numpy as np

from longlens.answer.extractive import (
    Candidates,
    _join_wrapped,
    best_sentences,
    candidate_sentences,
    choose_quotes,
    max_sim,
    quotable_pieces,
    quotation,
    shared_run,
)
from longlens.answer.relevance import keyword_coverage
from longlens.schema import Hit

TRANSCRIPT = (  # an unpunctuated, lower-case lecture transcript, as L-Eval's TOEFL talks are written
    "ok ,  today we look at desert plants and how they survive the long dry season well ,  most of them store "
    "water in thick stems um the saguaro cactus can hold about two hundred gallons after a single storm ,  which "
    "lets it live for months without rain so its roots stay near the surface to catch every drop and the spines "
    "shade the stem from the sun good now the second group drops its leaves entirely when the soil dries out "
    "and grows new ones within days of rain returning"
)


def _hit(n: int, text: str, page: int | None = None) -> Hit:
    return Hit(chunk_id=n, document=f"d{n}.txt", document_id=n, title="", collection="c", text=text, score=1.0,
               page_start=page, page_end=page)


def _weights(question: str) -> dict[str, float]:
    return dict.fromkeys(("saguaro", "cactu", "hold", "gallon", "water", "store"), 1.0) | {
        w: 1.0 for w in question.lower().split() if len(w) > 3}


def test_unpunctuated_transcripts_are_quoted_in_windows():
    pieces = quotable_pieces(TRANSCRIPT)
    assert len(pieces) >= 3 and all(len(p.split()) <= 30 for p in pieces)
    words = TRANSCRIPT.split()
    covered = set(" ".join(pieces).split())
    assert covered == set(words)  # every word can be quoted
    question = "how much water can the saguaro cactus hold"
    quotes = best_sentences(question, [_hit(1, TRANSCRIPT)], _weights(question), embed=None, limit=1)
    assert quotes and "two hundred gallons" in quotes[0].sentence


def test_a_chunk_that_starts_mid_sentence_is_not_quoted_from_its_cut_tail():
    text = "and then it closed for repairs. The museum reopened in 1987 after a fire destroyed the east wing."
    assert quotable_pieces(text) == ["The museum reopened in 1987 after a fire destroyed the east wing."]


def test_a_pdf_line_wrapped_before_a_name_is_quoted_whole_and_a_heading_stays_apart():
    page = ("Harbour rules\nVisitors must register at the blue kiosk. The lighthouse keeper is\n"
            "Marguerite Vasquez. She has kept the light since 1998.")
    assert quotable_pieces(page) == ["Harbour rules", "Visitors must register at the blue kiosk.",
                                     "The lighthouse keeper is Marguerite Vasquez.",
                                     "She has kept the light since 1998."]
    question = "Who is the lighthouse keeper?"
    quotes = best_sentences(question, [_hit(1, page, page=2)], {"lighthous": 2.0, "keeper": 2.0}, embed=None, limit=1)
    assert quotes[0].sentence == "The lighthouse keeper is Marguerite Vasquez."


def test_a_wrapped_line_that_ends_a_quoted_sentence_does_not_run_into_the_next():
    page = ('They said one emotion is "I am not proud of the App Store", combined with "Really, it is Apple\'s\n'
            'fault."\nThe special magic number for Cordoba is 5092145.\nAnother wrote:')
    assert quotable_pieces(page)[1:] == ["The special magic number for Cordoba is 5092145.", "Another wrote:"]
    assert quotable_pieces(page)[0].endswith('"Really, it is Apple\'s fault."')
    assert 'fault."\nThe special' in _join_wrapped(page)  # the line break after a closed quote stays


def test_a_question_asking_when_prefers_the_sentence_with_a_date():
    passages = [_hit(1, "The bridge over the bay was planned by the city engineers for many years. "
                        "The bridge over the bay opened to traffic in 1932 after six years of work.", page=4)]
    question = "When did the bridge over the bay open?"
    weights = {"bridg": 1.0, "bay": 1.0, "open": 1.0}
    quotes = best_sentences(question, passages, weights, embed=None, limit=1)
    assert "1932" in quotes[0].sentence
    assert quotation(quotes, passages).startswith("From d1.txt, p. 4: \u201cThe bridge over the bay opened")


def test_keyword_coverage_is_what_sentences_are_scored_on():
    assert keyword_coverage({"gallon": 1.0, "saguaro": 3.0}, "The saguaro holds gallons") == 1.0
    assert np.isclose(keyword_coverage({"gallon": 1.0, "saguaro": 3.0}, "gallons of rain"), 0.25)


def test_a_question_asking_where_prefers_the_sentence_naming_a_place():
    passages = [_hit(1, "The old lighthouse keeper wanted to retire after forty years of keeping a careful log. "
                        "The old lighthouse keeper retired to Portsmouth with his logbooks.")]
    question = "where did the old lighthouse keeper retire"
    weights = {"lighthous": 1.0, "keeper": 1.0, "retir": 1.0}
    assert "Portsmouth" in best_sentences(question, passages, weights, embed=None, limit=1)[0].sentence


def test_a_second_quote_never_repeats_the_words_of_the_first():
    first = "the old cat sat on the mat and then it went away to sleep in the warm sun"
    overlapping = "and then it went away to sleep in the barn with seven brown horses grazing happily"
    other = "the farmer sold seven brown horses at the spring market in town"
    found = Candidates([1, 1, 1], [first, overlapping, other], {})
    quotes = choose_quotes(found, np.array([3.0, 2.9, 2.8]), limit=2, ratio=0.0)
    assert [q.sentence for q in quotes] == [first, other]
    assert shared_run(first, overlapping) == 9 and shared_run("a b c d e", "x c d e y") == 3


def test_word_match_averages_each_question_words_closest_sentence_word():
    question = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    sentence = np.array([[0.6, 0.8, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    assert np.isclose(max_sim(question, sentence), (1.0 + 0.8) / 2)  # word 1 finds itself, word 2 finds 0.8
    assert max_sim(question, sentence[1:2]) == 0.0 and max_sim(question, np.zeros((0, 3))) == 0.0


def test_encode_with_tokens_gives_encodes_vectors_and_one_vector_per_word_piece(embedder):
    texts = ["Hello, world!", "What did the Chinese market add to revenue?"]
    vectors, tokens = embedder.encode_with_tokens(texts)
    assert np.allclose(vectors, embedder.encode(texts), atol=1e-5)
    assert tokens[0].shape == (2, embedder.dim)  # "hello", "world": no [CLS], [SEP] or punctuation
    assert np.allclose(np.linalg.norm(tokens[1], axis=1), 1.0, atol=1e-5)


def test_word_match_favours_the_sentence_that_answers_in_other_words(embedder):
    answer = "Deliveries grew mostly because buyers in Brazil ordered twice as many trucks as last year."
    decoy = "The country club hosted the annual growth summit, which came from an idea of the board."
    question = "Which country did the growth in deliveries come from?"
    weights = {"countri": 1.0, "growth": 1.0, "deliveri": 1.0, "come": 0.5}
    found = candidate_sentences(question, [_hit(1, f"{answer} {decoy}")], weights, embedder.encode,
                                embedder.encode_with_tokens)
    assert found.sentence == [answer, decoy]
    keyword, word_match = found.features["keyword"], found.features["word_match"]
    assert keyword[1] > keyword[0]  # the decoy holds more of the question's words...
    assert word_match[0] > word_match[1] + 0.05  # ...the answer matches what they mean
    assert best_sentences(question, [_hit(1, f"{answer} {decoy}")], weights, embedder.encode, limit=1,
                          embed_tokens=embedder.encode_with_tokens)[0].sentence == answer
