"""The real-document evaluation (bench/eval_real.py) runs end to end on a slice and scores what it claims."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

REALDATA = Path(__file__).resolve().parents[3] / "shared" / "realdata"
PLANTED = "The harbour ferry Kestrel carries 412 passengers and was launched at Tobermory in 1987."
PLANTED_Q = "How many passengers does the harbour ferry Kestrel carry, and where was it launched?"
PLANTED_A = "412 passengers, launched at Tobermory"
FILLER = [
    "Quarterly revenue rose on stronger demand for industrial sensors across Europe and Asia.",
    "The board approved a dividend and discussed capital expenditure on the new assembly plant.",
    "Operating margins narrowed because freight costs climbed during the second half of the year.",
    "Management expects inventory levels to normalise once the supply of semiconductors improves.",
    "Research spending focused on battery chemistry and on software for predictive maintenance.",
]




def _document(seed: int, planted: bool) -> str:
    paragraphs = [" ".join(FILLER[(seed + i + j) % len(FILLER)] for j in range(4)) for i in range(40)]
    if planted:
        paragraphs.insert(23, PLANTED)
    return "\n\n".join(paragraphs)


def _leval_file(folder: Path) -> None:
    """Two documents in L-Eval's format (about 10 questions) and a third that repeats the first."""
    questions = [f"What did the company say about {w}?" for w in ("freight", "dividends", "batteries", "inventory")]
    answers = ["Freight costs climbed.", "The board approved a dividend.", "Battery chemistry.", "It normalises."]
    rows = [
        {"input": _document(0, True), "instructions": [PLANTED_Q, *questions], "outputs": [PLANTED_A, *answers]},
        {"input": _document(2, False), "instructions": questions, "outputs": answers},
    ]
    rows.append(dict(rows[0]))  # L-Eval repeats documents under a new index
    with gzip.open(folder / "leval_financial_qa.jsonl.gz", "wt", encoding="utf-8") as fh:
        fh.writelines(json.dumps(r) + "\n" for r in rows)


def test_eval_real_slice_end_to_end(tmp_path, bench_script):
    data = tmp_path / "realdata"
    data.mkdir()
    _leval_file(data)
    out = tmp_path / "eval.json"
    result = bench_script("eval_real").main(["--data", str(data), "--sets", "financial_qa", "--out", str(out)])
    assert json.loads(out.read_text())["sets"] == {"financial_qa": {"docs": 3, "questions": 14}}

    systems = {r["system"] for r in result["retrieval"]}
    assert len(systems) == 5 and sum(s.startswith("recipe") for s in systems) == 2
    assert {r["docs"] for r in result["retrieval"]} == {"even", "odd", "unique", "repeated"}
    for row in result["retrieval"]:
        for key in ("recall@300", "recall@600", "recall@1200", "hit@600", "empty"):
            assert 0.0 <= row[key] <= 1.0, row
        assert row["query_ms"] > 0 and row["ingest_s"] > 0

    planted = [r for r in result["per_question"] if r["doc"] == "financial_qa_00" and r["question"] == 0]
    by_system = {r["system"]: r for r in planted}
    assert by_system["longlens hybrid (default)"]["recall@300"] == 1.0
    assert by_system["recipe: rank_bm25 on the same chunks"]["recall@300"] == 1.0


def test_eval_real_refuses_unknown_set(tmp_path, bench_script):
    with pytest.raises(SystemExit):
        bench_script("eval_real").main(["--data", str(tmp_path), "--sets", "nope"])


@pytest.mark.skipif(not REALDATA.is_dir(), reason="../shared/realdata is not on this machine")
def test_eval_real_loads_the_real_sets_with_their_copies(bench_script):
    bench = bench_script("eval_real")
    docs = bench.load_set(REALDATA, "financial_qa")
    assert len(docs) == 8 and sum(len(d.questions) for d in docs) == 68
    assert [d.name for d in docs if d.copy_of] == ["financial_qa_06", "financial_qa_07"]
    assert {d.copy_of for d in docs if d.copy_of} == {"financial_qa_04"}
    sliced = bench.load_set(REALDATA, "multidoc_qa", limit=10)
    assert sum(len(d.questions) for d in sliced) == 10


class _Echo:
    """A stand-in generator: answers with the first passage's first sentence, then an invented one."""

    name = "echo"
    context_window = 4096

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def stream(self, messages, params):
        user = messages[-1]["content"]
        first = user.split("\n", 3)[3].split(". ")[0]
        yield f"{first} [1]. Zebras invented the telescope in 1066."




def test_answers_part_scores_both_systems_and_counts_unsupported_sentences(tmp_path, bench_script):
    bench, answers = bench_script("eval_real"), bench_script("real_answers")
    data = tmp_path / "realdata"
    data.mkdir()
    _leval_file(data)
    sets = {"financial_qa": bench.load_set(data, "financial_qa")}
    recipe, lens = bench.make_systems(tmp_path / "work", {})
    try:
        bench.run_retrieval(sets, recipe, lens, progress=False)
        lens.ll.generator = _Echo()
        rows, details = answers.run_answers(sets, lens, recipe, per_set=3, max_tokens=32)
        context = lens.ask_context("financial_qa")(sets["financial_qa"][0], PLANTED_Q)  # what ask hands the model
        assert any(PLANTED in passage for passage in context)
    finally:
        lens.close()
    assert [r["system"] for r in rows] == ["longlens ask", "recipe passages + same model"]
    for row in rows:
        assert row["questions"] == 3 and 0.0 <= row["f1"] <= 1.0 and 0.0 <= row["rouge_l"] <= 1.0
    # the invented sentence, once per answer: shown as it is given the recipe's passages, never by ask
    assert rows[1]["unsupported"] >= 3 and rows[0]["unsupported"] == 0
    assert {d["doc"] for d in details} == {"financial_qa_01"}  # odd-numbered documents only
    recipe_rows = [d for d in details if d["system"].startswith("recipe")]
    mine = [d for d in details if d["system"] == "longlens ask"]
    for theirs, ours in zip(recipe_rows, mine, strict=True):  # the same budget of words
        assert ours["words_given"] == 0 or theirs["words_given"] <= ours["words_given"]


def test_needles_are_planted_at_their_depths_with_decoys(bench_script):
    import random

    needles = bench_script("real_needles")
    text = "\n\n".join(f"Paragraph {i} about startups and essays." for i in range(200))
    rng = random.Random(3)
    single = needles.needles("single", rng)
    multi = needles.needles("multi-key", rng)
    assert len({n.value for n in single + multi}) == 20 and all(not n.decoys for n in single)
    assert all(len(n.decoys) == 3 and n.value not in n.decoy_values for n in multi)
    planted = needles.plant(text, single + multi, rng).split("\n\n")
    assert len(planted) == 200 + 10 + 10 * 4
    for n in single + multi:
        at = planted.index(n.sentence) / len(planted)
        assert abs(at - n.depth) < 0.1 and all(d in planted for d in n.decoys)
    assert planted.index(single[0].sentence) <= 3  # depth 0 %: only a decoy drawn there can come first
    assert planted.index(single[-1].sentence) >= len(planted) - 4  # depth 100 %
