"""bench/needle_extension.py: the schemes it compares and a tiny end-to-end run on the packaged SmolLM2."""

from __future__ import annotations

import json

import pytest


def test_plain_rope_only_inside_the_trained_window(bench_script):
    mod = bench_script("needle_extension")
    assert set(mod.schemes(4000, 8192, 1024)) == {"rope", "dynamic-ntk", "yarn", "dca"}
    past = mod.schemes(16000, 8192, 1024)
    assert set(past) == {"dynamic-ntk", "yarn", "dca"}
    assert past["yarn"]["rope_scaling"]["factor"] == 2.0
    assert past["dca"]["dual_chunk_attention"] == {"chunk_size": 8192, "local_size": 1024}


def test_tiny_run_answers_and_writes_json(tmp_path, bench_script):  # noqa: ANN001
    pytest.importorskip("transformers")
    out = tmp_path / "ne.json"
    bench = bench_script("needle_extension")
    res = bench.main(["--lengths", "700", "--depths", "0.5", "--schemes", "rope", "dca", "--chunk-size", "256",
                        "--local-size", "64", "--threads", "2", "--out", str(out)])
    assert [r["scheme"] for r in res["rows"]] == ["rope", "dca"]
    assert res["rows"][0]["correct"] == 1  # the packaged model finds a needle well inside its window
    assert json.loads(out.read_text())["dca"] == {"chunk_size": 256, "local_size": 64}
