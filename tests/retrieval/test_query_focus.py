"""What of a question is searched with: the question, not the instructions pasted around it."""

from __future__ import annotations

import pytest

from longlens.retrieval.query import focus_query, named_words


@pytest.mark.parametrize(
    ("query", "focused"),
    [
        ("You are asked to act as a member of the call and answer the question: What did the CEO say about margins?",
         "What did the CEO say about margins?"),
        ("Question 3. What is the net revenue?", "What is the net revenue?"),
        ("Revenue: how much in Q3?", "Revenue: how much in Q3?"),  # no instruction: kept whole
        ("Please answer: Why?", "Please answer: Why?"),  # too little after the colon to drop the lead-in
    ],
)
def test_focus_query_drops_instruction_lead_ins_only(query, focused):
    assert focus_query(query) == focused


def test_answer_mode_setting_is_checked(tmp_path):
    from longlens.config import Settings

    assert Settings(data_dir=tmp_path).answer_mode == "auto"
    with pytest.raises(ValueError, match="answer_mode"):
        Settings(data_dir=tmp_path, answer_mode="guess")


@pytest.mark.parametrize(
    ("question", "names"),
    [
        ("Answer the question: What did Oclaro earn in Q2 2018?", ["Oclaro", "Q2", "2018"]),
        ("Yes, that's precisely my doubt. Can you clear it out?", []),  # sentence starts are not names
        ("I have a FFEL loan.", ["FFEL"]),
        ("What about R&D at U.S. firms?", []),  # single letters say too little
        ("Does The Loan cover it?", ["Loan"]),  # "The" is a stopword, not a name
    ],
)
def test_named_words_are_capitalised_inside_a_sentence_or_hold_a_digit(question, names):
    assert named_words(question) == names
