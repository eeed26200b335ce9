"""Long-document retrieval with embedders stretched past their trained window (LongEmbed-style, synthetic).

For each length L, N documents of ~L tokens of varied filler each hide one distinct fact about a distinct
made-up entity; each query names one entity; we measure top-1 accuracy of query -> documents (chance = 1/N).
  passkey  "The pass key of <name> is 71432. Remember it."  /  "What is the pass key of <name>?"
  needle   "The best thing to do in <town> is <activity>."  /  "What is the best thing to do in <town>?"
Everything derives from --seed, so runs are comparable across methods, models and machines. The default of
16 documents keeps the full run near 9 minutes on a 2-core CPU (full attention over 8,192 tokens costs ~9 s
per document there); raise --docs on a bigger machine.

    python bench/eval_embedders.py                      # MiniLM, 256..8192 tokens, 16 docs per length
    python bench/eval_embedders.py --quick              # smoke test: 2 lengths, 5 docs
    python bench/eval_embedders.py --model PATH --methods truncate,window,ntk,selfextend
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

DEFAULT_LENGTHS = (256, 512, 1024, 2048, 4096, 8192)
OUT = Path(__file__).resolve().parent / "out" / "eval_embedders.json"

_SYL = ["ka", "lo", "mir", "ten", "vas", "qui", "dor", "bel", "zan", "fe", "rou", "gri", "sal", "nox", "pe"]
_ADJ = [
    "quiet",
    "narrow",
    "ancient",
    "busy",
    "golden",
    "muddy",
    "bright",
    "hollow",
    "steep",
    "crowded",
    "windy",
    "gentle",
    "rusty",
    "silent",
    "frozen",
    "green",
    "distant",
    "crooked",
    "humble",
    "painted",
]
_NOUN = [
    "bridge",
    "market",
    "library",
    "mill",
    "orchard",
    "harbor",
    "tower",
    "meadow",
    "workshop",
    "chapel",
    "canal",
    "garden",
    "station",
    "quarry",
    "bakery",
    "forest",
    "school",
    "theater",
    "farm",
    "lighthouse",
]
_PEOPLE = [
    "farmers",
    "sailors",
    "children",
    "merchants",
    "teachers",
    "painters",
    "travelers",
    "weavers",
    "students",
    "fishermen",
    "musicians",
    "clerks",
]
_VERB = [
    "repaired",
    "visited",
    "described",
    "painted",
    "measured",
    "ignored",
    "celebrated",
    "cleaned",
    "photographed",
    "rebuilt",
    "explored",
    "guarded",
]
_TIME = [
    "in the spring",
    "every morning",
    "after the long winter",
    "during the festival",
    "at dusk",
    "before the storm",
    "on market days",
    "late in the autumn",
    "once a year",
    "in the old days",
]
_TEMPLATES = [
    "The {adj} {noun} was {verb} by the {people} {time}.",
    "{Time}, the {people} walked past the {adj} {noun} and talked about the {noun2}.",
    "Nobody remembers why the {noun} near the {adj} {noun2} was {verb} {time}.",
    "Some {people} say the {adj} {noun} is older than the {noun2}.",
    "A report {verb} the {noun} and noted that the {noun2} looked {adj}.",
    "The road from the {noun} to the {noun2} is {adj}, and the {people} use it {time}.",
    "{Time} the {people} gathered at the {noun}, where the air felt {adj}.",
    "It is said that the {noun2} and the {adj} {noun} share a single well.",
]
_ACTIVITIES = [
    "eat a {adj} pear sandwich on the {noun} steps",
    "count the {adj} boats from the {noun}",
    "play chess with the {people} behind the {noun}",
    "listen to the {adj} bells of the {noun}",
    "swim in the pool beside the {adj} {noun}",
    "buy {adj} honey at the {noun}",
]


def _name(rng: random.Random, parts: int) -> str:
    return "".join(rng.choice(_SYL) for _ in range(parts)).capitalize()


def _fill(rng: random.Random, template: str) -> str:
    nouns = rng.sample(_NOUN, 2)
    t = rng.choice(_TIME)
    return template.format(
        adj=rng.choice(_ADJ),
        noun=nouns[0],
        noun2=nouns[1],
        people=rng.choice(_PEOPLE),
        verb=rng.choice(_VERB),
        time=t,
        Time=t[0].upper() + t[1:],
    )


def make_task(task: str, n_docs: int, length: int, seed: int, count_tokens: Any) -> tuple[list, list]:
    """N documents of about `length` tokens (special tokens included) and N queries, query i -> doc i."""
    rng = random.Random(f"{seed}:{task}:{length}")
    names: set[str] = set()
    while len(names) < n_docs:
        names.add(f"{_name(rng, 2)} {_name(rng, 3)}" if task == "passkey" else _name(rng, 3) + "ville")
    docs, queries = [], []
    for name in sorted(names, key=lambda _: rng.random()):
        if task == "passkey":
            fact = f"The pass key of {name} is {rng.randrange(10_000, 100_000)}. Remember it."
            queries.append(f"What is the pass key of {name}?")
        else:
            fact = f"The best thing to do in {name} is to {_fill(rng, rng.choice(_ACTIVITIES))}."
            queries.append(f"What is the best thing to do in {name}?")
        budget = length - 2 - count_tokens(fact)
        filler: list[str] = []
        while True:
            sentence = _fill(rng, rng.choice(_TEMPLATES))
            n = count_tokens(sentence)
            if n > budget:
                break
            filler.append(sentence)
            budget -= n
        filler.insert(rng.randint(0, len(filler)), fact)  # the fact's depth is uniform over the document
        docs.append(" ".join(filler))
    return docs, queries


def top1(doc_vecs: np.ndarray, query_vecs: np.ndarray) -> float:
    return float(np.mean(np.argmax(query_vecs @ doc_vecs.T, axis=1) == np.arange(len(query_vecs))))


def machine() -> str:
    import torch

    cpu = platform.processor() or platform.machine()
    threads = torch.get_num_threads()
    return f"{os.cpu_count()}-core CPU ({cpu}), {threads} torch threads, torch {torch.__version__}"


def run(args: argparse.Namespace) -> dict[str, Any]:
    from longlens.models.embedder import Embedder
    from longlens.models.long_embed import trained_length
    from longlens.models.position_schemes import detect_position_scheme

    lengths = sorted(args.lengths)
    base = Embedder(args.model, device="cpu")
    scheme = detect_position_scheme(base.model[0].auto_model.config)
    methods = args.methods or ["truncate", "window", "pi"] + (
        ["ntk", "selfextend"] if scheme.kind == "rope" else []
    )
    tok = base.tokenizer
    count = (
        (lambda s: len(tok.encode(s, add_special_tokens=False).ids))
        if hasattr(tok, "no_padding")
        else (lambda s: len(tok(s, add_special_tokens=False)["input_ids"]))
    )
    tasks = {(t, n): make_task(t, args.docs, n, args.seed, count) for t in args.tasks for n in lengths}
    results: list[dict[str, Any]] = []
    reports: dict[str, Any] = {}
    for method in methods:
        emb = (
            base
            if method == "truncate"
            else Embedder(args.model, device="cpu", context_extension=method, target_length=max(lengths))
        )
        _ = emb.model
        rep = emb.extension_report
        reports[method] = {"trained_length": rep.trained_length, **rep.details} if rep else {}
        for (task, length), (docs, queries) in tasks.items():
            # long documents one at a time: an unpadded batch needs no mask, so SDPA takes its fast path
            emb.batch_size = 1 if length >= 2048 else max(1, args.batch_tokens // length)
            t0 = time.perf_counter()
            acc = top1(emb.encode(docs), emb.encode(queries))
            secs = time.perf_counter() - t0
            results.append(
                {
                    "task": task,
                    "length": length,
                    "method": method,
                    "top1": acc,
                    "docs": len(docs),
                    "seconds": round(secs, 2),
                }
            )
            print(f"  {method:>10} {task:>7} L={length:>5}: top1 {acc:.3f}  ({secs:.1f} s)", file=sys.stderr)
    return {
        "model": args.model,
        "scheme": scheme.describe(),
        "trained_length": trained_length(base.model, scheme),
        "machine": machine(),
        "command": " ".join(["python", "bench/eval_embedders.py", *args.argv]),
        "seed": args.seed,
        "docs_per_length": args.docs,
        "lengths": lengths,
        "methods": methods,
        "extension": reports,
        "results": results,
    }


def table(report: dict[str, Any]) -> str:
    lengths = report["lengths"]
    head = f"| task | method | {' | '.join(str(n) for n in lengths)} |"
    lines = [head, "|" + " --- |" * (len(lengths) + 2)]
    for task in dict.fromkeys(r["task"] for r in report["results"]):
        for method in report["methods"]:
            acc = {
                r["length"]: r["top1"]
                for r in report["results"]
                if r["task"] == task and r["method"] == method
            }
            lines.append(f"| {task} | {method} | {' | '.join(f'{acc[n]:.2f}' for n in lengths)} |")
    return "\n".join(lines)


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="packaged:all-MiniLM-L6-v2", help="embedder name or local path")
    p.add_argument("--lengths", type=lambda s: [int(x) for x in s.split(",")], default=list(DEFAULT_LENGTHS))
    p.add_argument("--docs", type=int, default=16, help="documents (and queries) per task and length")
    p.add_argument("--methods", type=lambda s: s.split(","), default=None, help="default: all that apply")
    p.add_argument("--tasks", type=lambda s: s.split(","), default=["passkey", "needle"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-tokens", type=int, default=16384, help="tokens per forward batch")
    p.add_argument("--out", type=Path, default=OUT)
    p.add_argument("--quick", action="store_true", help="smoke test: lengths 256,1024 and 5 documents")
    args = p.parse_args(argv)
    args.argv = list(argv if argv is not None else sys.argv[1:])
    if args.quick:
        args.lengths, args.docs = [256, 1024], 5
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse(argv)
    report = run(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(f"model {report['model']} ({report['scheme']}; used at {report['trained_length']} tokens)")
    print(f"machine: {report['machine']}")
    print(
        f"top-1 retrieval accuracy, {report['docs_per_length']} documents per length (chance "
        f"{1 / report['docs_per_length']:.2f})"
    )
    print(table(report))
    print(f"wrote {args.out}")
    return report


if __name__ == "__main__":
    main()
