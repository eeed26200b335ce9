"""The query-latency benchmark runs end to end at toy size and reports every path it compares."""

from __future__ import annotations

import json


def test_query_latency_tiny(tmp_path, bench_script):
    mod = bench_script("query_latency")
    out = tmp_path / "ql.json"
    mod.main(["--chunks", "1500", "--queries", "5", "--out", str(out)])
    data = json.loads(out.read_text())
    assert set(data["longlens"]) == {"hybrid", "dense", "keyword", "hybrid_database_keywords", "keyword_database"}
    assert all(v["p50_ms"] > 0 for v in data["longlens"].values())
    assert data["baseline_st_encode_plus_faiss_flat"]["p50_ms"] > 0
