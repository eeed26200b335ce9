"""Accuracy of the sparse prefill on CPU: needle-in-a-haystack and multi-key retrieval, sparse vs dense.

The packaged SmolLM2-135M-Instruct (8k context) reads a haystack of filler sentences with planted facts
("The special magic number for Lisbon is 48213.") and completes a question about one of them, greedily.
Single needle: one fact at the given depth. Multi-key: four facts with different cities (three distractors
at other depths), the question asks for the one at the given depth. The same prompts run once dense and once
through the vertical-slash path (its PyTorch reference on CPU), forced on by a low threshold and one prefill
step per prompt, so the pattern is estimated over the whole prompt. `kept` is the mean share of causal
(query, key) pairs the last 256 queries compute over all sparse layer calls.

    python bench/needle_sparse.py                                   # 2k/4k/8k x 3 depths x 2 tasks
    python bench/needle_sparse.py --lengths 2048 4096 --depths 0.5 --trials 1
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

CITIES = ["Lisbon", "Oslo", "Nairobi", "Lima", "Hanoi", "Tbilisi", "Quito", "Dakar", "Riga", "Perth", "Cusco",
          "Bergen", "Porto", "Accra", "Kyoto", "Malmo"]
ADJ = ["quiet", "ancient", "northern", "busy", "hidden", "painted", "narrow", "golden", "windy", "crowded"]
NOUN = ["harbour", "library", "market", "bridge", "garden", "museum", "station", "tower", "valley", "orchard"]
VERB = ["welcomed", "sheltered", "inspired", "surprised", "delighted", "puzzled", "guided", "watched"]
WHO = ["travellers", "merchants", "students", "painters", "fishermen", "poets", "children", "musicians"]
WHEN = ["every spring", "at dawn", "during the long winter", "on market days", "after the rains", "at dusk"]


def filler_sentences(rng: random.Random, n: int) -> list[str]:
    """Varied filler without digits (so no number in the haystack competes with the needles)."""
    return [f"The {rng.choice(ADJ)} {rng.choice(NOUN)} {rng.choice(VERB)} the {rng.choice(WHO)} "
            f"{rng.choice(WHEN)}." for _ in range(n)]


def build_prompt(tok, length: int, depth: float, task: str, seed: int) -> tuple[list[int], str]:  # noqa: ANN001
    """Token ids of a prompt of ~`length` tokens and the expected answer (a 5-digit number)."""
    rng = random.Random(seed)
    cities = rng.sample(CITIES, 4)
    numbers = [str(rng.randint(10000, 99999)) for _ in cities]
    target = 0
    fact = lambda i: f"The special magic number for {cities[i]} is {numbers[i]}."  # noqa: E731
    head = tok.encode("Read the text and remember the special magic numbers in it.\n\n", add_special_tokens=False)
    question = tok.encode(f"\n\nWhat is the special magic number for {cities[target]}? "
                          f"The special magic number for {cities[target]} is", add_special_tokens=False)
    budget = length - len(head) - len(question)
    sents: list[list[int]] = []
    total = 0
    for s in filler_sentences(rng, 4 * length):
        ids = tok.encode(" " + s, add_special_tokens=False)
        if total + len(ids) > budget - 80:  # room for the facts
            break
        sents.append(ids)
        total += len(ids)
    facts = {0: depth}
    if task == "multikey":
        others = [d for d in (0.05, 0.3, 0.55, 0.8, 0.95) if abs(d - depth) > 0.1]
        facts.update({i: others[(i + seed) % len(others)] for i in (1, 2, 3)})
    for i, d in sorted(facts.items(), key=lambda kv: -kv[1]):  # deepest first keeps earlier positions valid
        sents.insert(round(d * len(sents)), tok.encode(" " + fact(i), add_special_tokens=False))
    return head + [t for s in sents for t in s] + question, numbers[target]


class KeptMeter:
    """Wraps the engine's estimator to record the share of causal pairs each sparse call keeps."""

    def __init__(self) -> None:
        self.shares: list[float] = []

    def install(self) -> None:
        import torch

        from longlens.kernels.vertical_slash import pattern_mask
        from longlens.models.llm import sparse_prefill as sp

        real = sp.estimate_vertical_slash

        def spy(q, k, cfg):  # noqa: ANN001, ANN202
            pattern = real(q, k, cfg)
            lq, lk = q.shape[0], k.shape[0]
            rows = torch.arange(max(0, lq - 256), lq)
            mask = pattern_mask(pattern, rows, lq, lk, cfg.block_m)
            self.shares.append(float(mask.sum()) / (mask.shape[0] * float((rows + lk - lq + 1).sum())))
            return pattern

        sp.estimate_vertical_slash = spy


def run(args: argparse.Namespace) -> dict:
    import torch
    from transformers import AutoTokenizer

    from longlens.models.llm import LLM, SamplingParams
    from longlens.models.packaged import packaged_llm_path

    if args.threads:
        torch.set_num_threads(args.threads)
    path = packaged_llm_path()
    tok = AutoTokenizer.from_pretrained(str(path))
    cases = []
    for task in args.tasks:
        for length in args.lengths:
            for depth in args.depths:
                for t in range(args.trials):
                    ids, answer = build_prompt(tok, length, depth, task, seed=1000 * t + int(depth * 100) + length)
                    cases.append({"task": task, "length": length, "depth": depth, "trial": t, "tokens": len(ids),
                                  "ids": ids, "answer": answer})
    meter = KeptMeter()
    meter.install()
    pattern = {k: v for k, v in (("vertical_min", args.vertical_min), ("slash_min", args.slash_min)) if v}
    modes = {"dense": {"sparse_prefill": False},
             "sparse": {"sparse_prefill": True, "sparse_prefill_threshold": args.threshold, "sparse_pattern": pattern}}
    params = SamplingParams(max_tokens=8)
    timing = {}
    for mode, kw in modes.items():
        llm = LLM(path, tokenizer=tok, kv_cache_tokens=max(args.lengths) + 64, max_num_batched_tokens=8192,
                  max_num_seqs=1, **kw)
        t0 = time.perf_counter()
        try:
            for i, c in enumerate(cases):
                text = llm.generate([c["ids"]], params)[0].outputs[0].text
                c[f"{mode}_text"], c[mode] = text, int(c["answer"] in text)
                print(f"  {mode} {i + 1}/{len(cases)} {c['task']} {c['tokens']} tok depth {c['depth']}: "
                      f"{text.strip()[:24]!r} (want {c['answer']})", file=sys.stderr, flush=True)
        finally:
            llm.close()
        timing[mode] = time.perf_counter() - t0
    rows = []
    for task in args.tasks:
        for length in args.lengths:
            for depth in args.depths:
                sel = [c for c in cases if (c["task"], c["length"], c["depth"]) == (task, length, depth)]
                rows.append({"task": task, "length": length, "tokens": max(c["tokens"] for c in sel), "depth": depth,
                             "trials": len(sel), "dense_acc": sum(c["dense"] for c in sel) / len(sel),
                             "sparse_acc": sum(c["sparse"] for c in sel) / len(sel),
                             "same_answer": sum(c["dense_text"] == c["sparse_text"] for c in sel) / len(sel)})
    for c in cases:
        del c["ids"]
    kept = sum(meter.shares) / len(meter.shares) if meter.shares else None
    return {"model": "SmolLM2-135M-Instruct (packaged), fp32, CPU", "threshold": args.threshold,
            "sparse_pattern": pattern or "defaults (VerticalSlashConfig)", "mean_kept_share": kept,
            "sparse_calls": len(meter.shares), "seconds": timing, "rows": rows, "cases": cases}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lengths", type=int, nargs="*", default=[2048, 4096, 8000])
    ap.add_argument("--depths", type=float, nargs="*", default=[0.1, 0.5, 0.9])
    ap.add_argument("--tasks", nargs="*", default=["needle", "multikey"], choices=["needle", "multikey"])
    ap.add_argument("--trials", type=int, default=1, help="prompts per (task, length, depth), different numbers")
    ap.add_argument("--threshold", type=int, default=1024, help="sparse_prefill_threshold of the sparse run")
    ap.add_argument("--vertical-min", type=int, default=None)
    ap.add_argument("--slash-min", type=int, default=None)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "out" / "needle_sparse.json")
    args = ap.parse_args(argv)
    res = run(args)
    res["command"] = " ".join(["needle_sparse.py", *(argv if argv is not None else sys.argv[1:])])
    cols = ["task", "length", "tokens", "depth", "trials", "dense_acc", "sparse_acc", "same_answer"]
    print(f"{res['model']}; sparse threshold {res['threshold']}, pattern {res['sparse_pattern']}, "
          f"mean kept share {res['mean_kept_share']:.3f} over {res['sparse_calls']} layer calls"
          if res["mean_kept_share"] is not None else res["model"])
    print("  ".join(f"{c:>11}" for c in cols))
    for r in res["rows"]:
        print("  ".join(f"{r[c]:>11.2f}" if isinstance(r[c], float) else f"{r[c]!s:>11}" for c in cols))
    for task in args.tasks:
        sel = [r for r in res["rows"] if r["task"] == task]
        print(f"{task}: dense {sum(r['dense_acc'] for r in sel) / len(sel):.2f}, "
              f"sparse {sum(r['sparse_acc'] for r in sel) / len(sel):.2f}")
    print("wall time: " + ", ".join(f"{k} {v:.0f} s" for k, v in res["seconds"].items()))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=2))
    return res


if __name__ == "__main__":
    main()
