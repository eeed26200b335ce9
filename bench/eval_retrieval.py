"""Does each retrieval step earn its place? Recall and nDCG per search mode, answer accuracy per passage count.

    python bench/eval_retrieval.py                      # retrieval table + answer table (packaged SmolLM2)
    python bench/eval_retrieval.py --skip-answers       # retrieval only (fast)
    python bench/eval_retrieval.py --llm /path/to/qwen  # answer with another HF model
    python bench/eval_retrieval.py --reranker llm:/path/to/model   # add a reranked row

Uses `longlens.evalsets`: generated facility reports with one planted code each, two-hop operator
questions, and hard negatives that share every word of the question. Writes bench/out/eval_retrieval.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def relevant_ranks(hits, snippets: list[str]) -> list[int | None]:
    """For each relevant snippet, the 1-based rank of the first hit containing it (None if absent)."""
    ranks: list[int | None] = []
    for snippet in snippets:
        rank = next((i for i, h in enumerate(hits, start=1) if snippet in h.text), None)
        ranks.append(rank)
    return ranks


def recall_at(ranks: list[int | None], k: int) -> float:
    return sum(1 for r in ranks if r is not None and r <= k) / len(ranks)


def ndcg_at(ranks: list[int | None], k: int = 10) -> float:
    dcg = sum(1 / math.log2(r + 1) for r in ranks if r is not None and r <= k)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(len(ranks), k)))
    return dcg / ideal


def eval_retrieval(ll, evalset, reranker_spec: str | None) -> list[dict]:
    from longlens.answer.retriever import Filters
    from longlens.models.reranker import make_reranker

    rows = []
    filters = Filters(ll.collections())
    configs = [(mode, None) for mode in ("dense", "keyword", "hybrid")]
    if reranker_spec:
        configs.append(("hybrid", make_reranker(reranker_spec)))
    for mode, reranker in configs:
        for hops in (1, 2):
            qs = [q for q in evalset.questions if q.hops == hops]
            r1 = r5 = r10 = nd = 0.0
            t0 = time.perf_counter()
            for q in qs:
                hits = ll.retriever.retrieve(q.question, 30 if reranker else 10, filters, mode)
                if reranker:
                    scores = reranker.score(q.question, [h.text for h in hits])
                    hits = [h for _, h in sorted(zip(scores, hits, strict=True), key=lambda p: -p[0])][:10]
                ranks = relevant_ranks(hits, q.relevant_snippets)
                r1, r5, r10 = r1 + recall_at(ranks, 1), r5 + recall_at(ranks, 5), r10 + recall_at(ranks, 10)
                nd += ndcg_at(ranks, 10)
            n = len(qs)
            rows.append(
                {
                    "mode": mode,
                    "reranker": reranker.name if reranker else "none",
                    "hops": hops,
                    "questions": n,
                    "recall@1": r1 / n,
                    "recall@5": r5 / n,
                    "recall@10": r10 / n,
                    "ndcg@10": nd / n,
                    "ms_per_query": (time.perf_counter() - t0) / n * 1000,
                }
            )
    return rows


def eval_answers(ll, evalset, passage_counts: list[int], n_questions: int, cue: str | None = None) -> list[dict]:
    from longlens.answer.pipeline import AskOptions
    from longlens.models.generation import GenerationParams
    from longlens.retrieval.selection import SelectionConfig

    qs = [q for q in evalset.questions if q.hops == 1][:n_questions]
    plain = SelectionConfig(dedupe=False, tail_cut=False, reorder=False)
    full = SelectionConfig(dedupe=True, tail_cut=True, reorder=True)
    rows = []
    for n in passage_counts:
        for label, selection in (("plain top-n", plain), ("dedupe + tail cut + reorder", full)):
            correct = 0
            t0 = time.perf_counter()
            for q in qs:
                opts = AskOptions(
                    max_passages=n,
                    candidates=max(n, 30),
                    min_relevance=-1.0,
                    selection=selection,
                    generation=GenerationParams(max_tokens=32),
                    **({"answer_cue": cue} if cue else {}),
                )
                answer = ll.ask(q.question, options=opts)
                correct += q.answer.lower() in answer.text.lower()
            rows.append(
                {
                    "passages": n,
                    "selection": label,
                    "accuracy": correct / len(qs),
                    "questions": len(qs),
                    "s_per_question": (time.perf_counter() - t0) / len(qs),
                }
            )
            print(f"  passages={n:<3} {label:<28} accuracy={correct / len(qs):.2f}", file=sys.stderr)
    return rows


def eval_ask_defaults(ll, evalset, n_questions: int) -> dict:
    """`ask` as a user calls it (every default: relevance decision, support check, answer mode), on the
    single-hop questions whose planted fact `search` has in its top 3: answered, and cited to the right file."""
    from longlens.answer.pipeline import AskOptions
    from longlens.models.generation import GenerationParams

    qs = [q for q in evalset.questions if q.hops == 1][:n_questions]
    found = [q for q in qs if any(q.relevant_snippets[0] in h.text for h in ll.search(q.question, k=3))]
    answered = cited = 0
    for q in found:
        answer = ll.ask(q.question, options=AskOptions(generation=GenerationParams(max_tokens=32)))
        answered += q.answer.lower() in answer.text.lower()
        cited += any(Path(c.document).name in q.relevant_files for c in answer.citations)
    row = {"questions": len(qs), "in search top 3": len(found), "answer states it": answered,
           "cites the right file": cited}
    print(f"  ask with defaults: {row}", file=sys.stderr)
    return row


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--facilities", type=int, default=24)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--reranker", default=None, help="cross-encoder name/path or llm:PATH")
    ap.add_argument("--llm", default=None, help="answering model (default: packaged SmolLM2)")
    ap.add_argument("--passages", default="5,10,20,40")
    ap.add_argument("--answer-questions", type=int, default=12)
    ap.add_argument("--skip-answers", action="store_true")
    ap.add_argument("--answer-cue", default=None, help="the prompt's last line (default: longlens's ANSWER_CUE)")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "out" / "eval_retrieval.json")
    args = ap.parse_args(argv)

    from longlens import LongLens
    from longlens.evalsets import build_evalset

    evalset = build_evalset(args.facilities, seed=args.seed)
    overrides = {"llm": args.llm} if args.llm else {}
    with tempfile.TemporaryDirectory() as tmp:
        with LongLens(Path(tmp) / "data", workers=1, **overrides) as ll:
            report = ll.ingest(evalset.write(Path(tmp) / "docs"))
            assert not report.failed, report.failed
            retrieval = eval_retrieval(ll, evalset, args.reranker)
            answers = [] if args.skip_answers else eval_answers(
                ll, evalset, [int(x) for x in args.passages.split(",")], args.answer_questions, args.answer_cue
            )
            defaults = {} if args.skip_answers else eval_ask_defaults(ll, evalset, args.answer_questions)
            llm_name = ll.settings.llm

    print(f"\n{'mode':<8} {'reranker':<22} {'hops':>4} {'R@1':>6} {'R@5':>6} {'R@10':>6} {'nDCG@10':>8}")
    for r in retrieval:
        print(
            f"{r['mode']:<8} {r['reranker'][:22]:<22} {r['hops']:>4} {r['recall@1']:>6.2f} {r['recall@5']:>6.2f} "
            f"{r['recall@10']:>6.2f} {r['ndcg@10']:>8.2f}"
        )
    if answers:
        print(f"\nanswer accuracy ({llm_name})\n{'passages':>8}  {'selection':<28} {'accuracy':>8}")
        for r in answers:
            print(f"{r['passages']:>8}  {r['selection']:<28} {r['accuracy']:>8.2f}")
        print(f"\nask with its defaults, on the questions search finds in its top 3: {defaults}")
    result = {
        "evalset": {"facilities": args.facilities, "seed": args.seed, "questions": len(evalset.questions)},
        "embedder": "packaged all-MiniLM-L6-v2",
        "llm": llm_name,
        "answer_cue": args.answer_cue,
        "retrieval": retrieval,
        "answers": answers,
        "ask_defaults": defaults,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"\nwrote {args.out}", file=sys.stderr)
    return result


if __name__ == "__main__":
    main()
