"""Hard-negative removal and reordering, step by step."""

from __future__ import annotations

from longlens.retrieval.selection import (
    SelectionConfig,
    cap_tokens,
    cut_tail,
    drop_near_duplicates,
    reorder_for_long_context,
    select_passages,
)


def test_reorder_puts_strongest_at_both_ends():
    assert reorder_for_long_context([1, 2, 3, 4, 5]) == [1, 3, 5, 4, 2]
    assert reorder_for_long_context([1, 2, 3, 4]) == [1, 3, 4, 2]
    assert reorder_for_long_context([1]) == [1] and reorder_for_long_context([]) == []


def test_near_duplicates_keep_the_best_copy():
    texts = [
        "The pump must be serviced every 900 hours by a certified engineer.",
        "The pump must be serviced every 900 hours by a certified engineer!",
        "Valves are greased each spring.",
    ]
    assert drop_near_duplicates(texts, str, 0.8) == [texts[0], texts[2]]
    assert drop_near_duplicates(texts, str, 1.01) == texts


def test_tail_cut_is_relative_to_the_best():
    assert cut_tail(["a", "b", "c", "d"], [0.9, 0.5, 0.2, -0.3], 0.3) == ["a", "b"]
    assert cut_tail(["a", "b"], [-1.0, -2.0], 0.3) == ["a"]
    assert cut_tail([], [], 0.3) == []


def test_token_cap_keeps_a_prefix_and_at_least_one():
    assert cap_tokens(["aaaa", "bb", "cccc"], len, 6) == ["aaaa", "bb"]
    assert cap_tokens(["aaaaaaaa", "b"], len, 3) == ["aaaaaaaa"]


def test_each_step_can_be_switched_off():
    items = ["alpha beta gamma delta", "alpha beta gamma delta", "weak match", "ok match here", "fine"]
    scores = [0.9, 0.85, 0.05, 0.6, 0.5]
    all_on = select_passages(items, scores, str, len, SelectionConfig())
    assert all_on == ["alpha beta gamma delta", "fine", "ok match here"]
    off = SelectionConfig(dedupe=False, tail_cut=False, token_budget=None, reorder=False)
    assert select_passages(items, scores, str, len, off) == [items[0], items[1], items[3], items[4], items[2]]
    budget = SelectionConfig(dedupe=False, tail_cut=False, token_budget=50, reorder=False)
    assert select_passages(items, scores, str, len, budget) == [items[0], items[1]]
