"""Context extension on CPU: needle retrieval past the model's trained window, per position scheme.

The packaged SmolLM2-135M-Instruct was trained for 8,192 positions. Prompts from `needle_sparse.py`
(a planted "special magic number" at several depths, greedy completion) of the given lengths run through
the engine once per scheme: dynamic NTK and YaRN (factor = length / 8192, rounded up) and dual chunk
attention (chunk_size 8192, local_size 1024 by default), plus plain RoPE for lengths inside the window.
The engine refuses plain RoPE past the window, so there it has no row.

    python bench/needle_extension.py --lengths 16000 --depths 0.1 0.5 0.9 --threads 2
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from needle_sparse import build_prompt  # noqa: E402

TRAINED = 8192


def schemes(length: int, chunk_size: int, local_size: int) -> dict[str, dict]:
    """Engine settings per scheme for prompts of `length` tokens (None where a scheme does not apply)."""
    factor = float(max(2, math.ceil((length + 64) / TRAINED)))
    out: dict[str, dict] = {}
    if length + 64 <= TRAINED:
        out["rope"] = {}
    out["dynamic-ntk"] = {"rope_scaling": {"rope_type": "dynamic", "factor": factor}}
    out["yarn"] = {"rope_scaling": {"rope_type": "yarn", "factor": factor, "original_max_position_embeddings": TRAINED}}
    out["dca"] = {"dual_chunk_attention": {"chunk_size": chunk_size, "local_size": local_size}}
    return out


def run(args: argparse.Namespace) -> dict:
    import torch
    from transformers import AutoTokenizer

    from longlens.models.llm import LLM, SamplingParams
    from longlens.models.packaged import packaged_llm_path

    if args.threads:
        torch.set_num_threads(args.threads)
    path = packaged_llm_path()
    tok = AutoTokenizer.from_pretrained(str(path))
    params = SamplingParams(max_tokens=8)
    rows, seconds = [], {}
    for length in args.lengths:
        cases = [(d, *build_prompt(tok, length, d, "needle", seed=int(d * 100) + length)) for d in args.depths]
        for name, kw in schemes(length, args.chunk_size, args.local_size).items():
            if args.schemes and name not in args.schemes:
                continue
            llm = LLM(path, tokenizer=tok, kv_cache_tokens=length + 128, max_model_len=length + 64,
                      max_num_batched_tokens=args.chunk_tokens, max_num_seqs=1, sparse_prefill=False, **kw)
            t0 = time.perf_counter()
            try:
                for depth, ids, answer in cases:
                    text = llm.generate([ids], params)[0].outputs[0].text
                    rows.append({"length": length, "tokens": len(ids), "scheme": name, "depth": depth,
                                 "correct": int(answer in text), "text": text, "answer": answer})
                    print(f"  {name} {len(ids)} tok depth {depth}: {text.strip()[:24]!r} (want {answer})",
                          file=sys.stderr, flush=True)
            finally:
                llm.close()
            seconds[f"{name}@{length}"] = time.perf_counter() - t0
    return {"model": "SmolLM2-135M-Instruct (packaged, trained for 8,192 positions), fp32, CPU",
            "dca": {"chunk_size": args.chunk_size, "local_size": args.local_size}, "seconds": seconds, "rows": rows}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lengths", type=int, nargs="*", default=[16000])
    ap.add_argument("--depths", type=float, nargs="*", default=[0.1, 0.5, 0.9])
    ap.add_argument("--schemes", nargs="*", default=None, choices=["rope", "dynamic-ntk", "yarn", "dca"])
    ap.add_argument("--chunk-size", type=int, default=TRAINED)
    ap.add_argument("--local-size", type=int, default=1024)
    ap.add_argument("--chunk-tokens", type=int, default=4096, help="max_num_batched_tokens (prefill chunk)")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "out" / "needle_extension.json")
    args = ap.parse_args(argv)
    res = run(args)
    res["command"] = " ".join(["needle_extension.py", *(argv if argv is not None else sys.argv[1:])])
    print(res["model"])
    depths = sorted({r["depth"] for r in res["rows"]})
    print(f"{'length':>7} {'scheme':>12} " + " ".join(f"{'d=' + str(d):>7}" for d in depths) + f" {'acc':>5}")
    for length in sorted({r["length"] for r in res["rows"]}):
        for name in dict.fromkeys(r["scheme"] for r in res["rows"] if r["length"] == length):
            sel = {r["depth"]: r["correct"] for r in res["rows"] if (r["length"], r["scheme"]) == (length, name)}
            acc = sum(sel.values()) / len(sel)
            print(f"{length:>7} {name:>12} " + " ".join(f"{sel.get(d, '-')!s:>7}" for d in depths) + f" {acc:>5.2f}")
    print("wall time: " + ", ".join(f"{k} {v:.0f} s" for k, v in res["seconds"].items()))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=2))
    return res


if __name__ == "__main__":
    main()
