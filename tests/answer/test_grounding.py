"""The support check: a generated sentence is shown only when a passage supports it."""

from __future__ import annotations

from longlens.answer.grounding import AnswerCheck, SupportJudge, grounded_stream, split_sentences, unsupported_sentences
from longlens.schema import Hit


def _hit(n: int, text: str) -> Hit:
    return Hit(chunk_id=n, document=f"d{n}.txt", document_id=n, title="", collection="c", text=text, score=1.0)


PASSAGES = [
    _hit(1, "Ferries sail hourly from the north pier."),
    _hit(2, "The 2025 survey counted 214 nesting pairs of grey heron."),
]
QUESTION = "How many heron pairs did the survey count?"


def _stream(text: str, size: int, question: str = QUESTION) -> tuple[str, AnswerCheck]:
    check = AnswerCheck()
    pieces = [text[i : i + size] for i in range(0, len(text), size)]
    return "".join(grounded_stream(pieces, SupportJudge(question, PASSAGES, check))), check


def test_unsupported_sentences_are_dropped_supported_ones_cited():
    text = "The survey counted 214 heron pairs. It was done by 30 volunteers in 1998 [2]. Herons sing at dawn!"
    for size in (1, 3, 7, 1000):
        shown, check = _stream(text, size)
        assert shown == "The survey counted 214 heron pairs [2].", size
        assert len(check.dropped) == 2 and check.kept == 1


def test_a_wrong_marker_is_repointed_and_a_wrong_number_dropped():
    shown, check = _stream("The survey counted 214 heron pairs [1]. The survey counted 241 heron pairs [2].", 5)
    assert shown == "The survey counted 214 heron pairs [2]."
    assert check.repointed == 1 and check.dropped == ["The survey counted 241 heron pairs [2]."]


def test_echoes_and_marker_lists_are_not_claims():
    shown, check = _stream("How many heron pairs did the survey count? 1 [1]. 2 [1].", 4)
    assert shown == "" and len(check.dropped) == 3


def test_could_not_find_is_kept_and_choices_pass_for_multiple_choice():
    shown, _ = _stream("I could not find this in the documents.", 6)
    assert shown == "I could not find this in the documents."
    mc = "What do ferries do?\nA. sail hourly\nB. sink\nC. fly\nD. swim"
    shown, _ = _stream("A. [1]", 2, question=mc)
    assert shown == "A. [1]"


def test_sentences_split_after_markers_and_glued_periods():
    assert split_sentences("One fact [1]. Two facts [2][3].Three at once.At last") == [
        "One fact [1].", "Two facts [2][3].", "Three at once.", "At last",
    ]
    answer = "Ferries sail hourly [1]. Ferries fly to the moon."
    assert unsupported_sentences(answer, PASSAGES) == ["Ferries fly to the moon."]


def test_a_sentence_closed_inside_quotes_or_brackets_ends_there():
    assert split_sentences('He said "we ship in May." Then he left. (Sales fell.) The end.') == [
        'He said "we ship in May."', "Then he left.", "(Sales fell.)", "The end.",
    ]
    assert split_sentences("The board called it \u201ca good year.\u201d Revenue rose.") == [
        "The board called it \u201ca good year.\u201d", "Revenue rose.",
    ]


def test_quotations_are_recognised_whole():
    from longlens.answer.extractive import Quote, quotation, without_quotations

    passages = [_hit(1, "The 2025 survey counted 214 nesting pairs of grey heron."), *PASSAGES]
    passages[0].page_start = passages[0].page_end = 4
    text = quotation([Quote(1, passages[0].text, 1.0)], passages)
    assert text == "From d1.txt, p. 4: \u201cThe 2025 survey counted 214 nesting pairs of grey heron.\u201d [1]"
    assert without_quotations(text + "\n\nFerries fly [2].") == "Ferries fly [2]."


def test_a_sentence_cut_off_by_the_token_limit_is_not_shown():
    shown, check = _stream("The survey counted 214 heron pairs [2]. The survey counted 214 nesting", 6)
    assert shown == "The survey counted 214 heron pairs [2]." and check.dropped == ["The survey counted 214 nesting"]
    alone, _ = _stream("The survey counted 214 heron pairs [2]", 6)  # the only sentence: kept without its period
    assert alone == "The survey counted 214 heron pairs [2]"


def test_abbreviations_do_not_end_sentences():
    text = "Welcome to the QLT Inc. Fourth Quarter call. Dr. Smith spoke. See p. 4 for U.S. figures. The answer is B."
    assert split_sentences(text) == [
        "Welcome to the QLT Inc. Fourth Quarter call.", "Dr. Smith spoke.", "See p. 4 for U.S. figures.",
        "The answer is B.",
    ]
