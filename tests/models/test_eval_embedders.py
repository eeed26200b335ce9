"""The long-document retrieval benchmark runs end to end in --quick mode and writes its JSON."""

from __future__ import annotations

import json
from pathlib import Path


def test_quick_run_writes_table_and_json(tmp_path: Path, capsys, bench_script) -> None:
    bench = bench_script("eval_embedders")
    out = tmp_path / "eval.json"
    report = bench.main(["--quick", "--out", str(out)])
    saved = json.loads(out.read_text())
    assert saved["lengths"] == [256, 1024] and saved["methods"] == ["truncate", "window", "pi"]
    assert saved["trained_length"] == 256 and "absolute" in saved["scheme"]
    assert len(saved["results"]) == 2 * 2 * 3  # tasks x lengths x methods
    assert all(0.0 <= r["top1"] <= 1.0 and r["docs"] == 5 for r in saved["results"])
    at_256 = {r["top1"] for r in saved["results"] if r["length"] == 256 and r["task"] == "passkey"}
    assert len(at_256) == 1  # inside the trained window every method is the plain model
    assert "| passkey | window |" in capsys.readouterr().out
    assert report["results"] == saved["results"]


def test_tasks_are_deterministic_and_sized(bench_script) -> None:
    bench = bench_script("eval_embedders")
    count = lambda s: len(s.split())  # any token counter works for the builder
    docs, queries = bench.make_task("passkey", 4, 300, seed=7, count_tokens=count)
    again = bench.make_task("passkey", 4, 300, seed=7, count_tokens=count)
    assert (docs, queries) == again and len(set(docs)) == 4
    for doc, query in zip(docs, queries, strict=True):
        name = query.removeprefix("What is the pass key of ").rstrip("?")
        assert f"The pass key of {name} is" in doc and 250 <= count(doc) <= 298
        assert len({s for s in doc.split(". ")}) > 10  # varied filler, not one repeated sentence
    needles, asks = bench.make_task("needle", 3, 200, seed=7, count_tokens=count)
    assert all(
        a.removeprefix("What is the best thing to do in ").rstrip("?") in d
        for d, a in zip(needles, asks, strict=True)
    )
