"""bench/needle_extension.py: the schemes it compares and a tiny end-to-end run on the packaged SmolLM2."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "needle_extension.py"


def _load():  # noqa: ANN202
    sys.path.insert(0, str(BENCH.parent))
    spec = importlib.util.spec_from_file_location("needle_extension", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_plain_rope_only_inside_the_trained_window():
    mod = _load()
    assert set(mod.schemes(4000, 8192, 1024)) == {"rope", "dynamic-ntk", "yarn", "dca"}
    past = mod.schemes(16000, 8192, 1024)
    assert set(past) == {"dynamic-ntk", "yarn", "dca"}
    assert past["yarn"]["rope_scaling"]["factor"] == 2.0
    assert past["dca"]["dual_chunk_attention"] == {"chunk_size": 8192, "local_size": 1024}


def test_tiny_run_answers_and_writes_json(tmp_path):  # noqa: ANN001
    pytest.importorskip("transformers")
    out = tmp_path / "ne.json"
    res = _load().main(["--lengths", "700", "--depths", "0.5", "--schemes", "rope", "dca", "--chunk-size", "256",
                        "--local-size", "64", "--threads", "2", "--out", str(out)])
    assert [r["scheme"] for r in res["rows"]] == ["rope", "dca"]
    assert res["rows"][0]["correct"] == 1  # the packaged model finds a needle well inside its window
    assert json.loads(out.read_text())["dca"] == {"chunk_size": 256, "local_size": 64}
