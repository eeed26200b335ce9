"""The synthetic evaluation set is deterministic and its planted facts are where it says."""

from __future__ import annotations

from longlens.evalsets import build_evalset


def test_same_seed_same_set_and_facts_are_planted():
    a, b = build_evalset(6, seed=3), build_evalset(6, seed=3)
    assert a.files == b.files and [q.question for q in a.questions] == [q.question for q in b.questions]
    assert build_evalset(6, seed=4).files != a.files
    for q in a.questions:
        for file, snippet in zip(q.relevant_files, q.relevant_snippets, strict=True):
            assert snippet in a.files[file]
        assert q.answer in " ".join(q.relevant_snippets)
    assert {q.hops for q in a.questions} == {1, 2}


def test_evalset_retrieval_finds_single_hop_facts(lens, tmp_path):
    evalset = build_evalset(4, filler_paragraphs=4, seed=1)
    lens.ingest(evalset.write(tmp_path / "docs"))
    for q in [q for q in evalset.questions if q.hops == 1]:
        hits = lens.search(q.question, k=5)
        assert any(q.relevant_snippets[0] in h.text for h in hits), q.question
