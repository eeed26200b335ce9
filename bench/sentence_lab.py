"""Sentence lab (issue 28): which sentence of `ask`'s passages does a quotation answer with?

The packaged 135M model rarely states a fact right, so `ask` quotes the passage sentence that best answers
the question (`longlens.answer.extractive`). This lab fetches, once, the passages `ask` hands the model for every
question of the real sets (4 passages, as `eval_real.py --answers` gives it) and scores ways of choosing
the sentence offline, in seconds:

- free-text sets (financial_qa, multidoc_qa): token F1 of the quotation against the reference, and the share
  of the reference's content words it holds;
- multiple-choice lecture sets (tpo, coursera), asked as short factual questions (the stem, without its
  options): how much of the correct option's content the quotation holds, and whether it holds more of it
  than of any wrong option (`beats`);
- `oracle`: the best single sentence among the candidates, the ceiling of any sentence scorer.

    .venv/bin/python bench/sentence_lab.py            # first run ingests the four sets (~5 min)
    .venv/bin/python bench/sentence_lab.py --fresh    # fetch the passages again (after a retrieval change)

Settings are chosen on the even-numbered documents; the odd ones are reported. Cached in
bench/out/sentence_lab.pkl; writes bench/out/sentence_lab.json.
"""
from __future__ import annotations

import argparse
import json
import pickle
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import print_table  # noqa: E402
from eval_real import DEFAULT_DATA, MULTIPLE_CHOICE, LongLensSystem, load_set  # noqa: E402

from longlens.answer.extractive import (  # noqa: E402
    FEATURE_WEIGHTS,
    SECOND_QUOTE_RATIO,
    Candidates,
    candidate_sentences,
    choose_quotes,
    weighted_score,
)
from longlens.evalmetrics import content_words, option_text, token_f1  # noqa: E402

OUT = Path(__file__).resolve().parent / "out"
SETS = ("financial_qa", "multidoc_qa", "tpo", "coursera")
PASSAGES = 4  # as `eval_real.py --answers` hands the model
CACHE = OUT / "sentence_lab.pkl"  # for PASSAGES; another count is cached beside it (see `cache_for`)


def cache_for(passages: int) -> Path:
    return CACHE if passages == PASSAGES else OUT / f"sentence_lab_{passages}.pkl"


def stem(question: str) -> str:
    """A multiple-choice question without its option lines."""
    lines = question.strip().splitlines()
    keep = [line for line in lines if not (len(line) > 2 and line[0] in "ABCD" and line[1] in ".)")]
    return " ".join(keep).strip()


def collect(fresh: bool = False, passages: int = PASSAGES) -> list[dict]:
    """Per question: the passages `ask` gives the model, the question's term weights, and what is scored."""
    cache = cache_for(passages)
    if cache.exists() and not fresh:
        return pickle.loads(cache.read_bytes())
    from longlens.answer.pipeline import AskOptions
    from longlens.answer.retriever import Filters

    lens = LongLensSystem(OUT / "sentence_lab_data")
    opts = AskOptions(max_passages=passages)
    pipeline = lens.ll.answer_pipeline()
    rows = []
    for set_name in SETS:
        docs = [d for d in load_set(DEFAULT_DATA, set_name) if d.group in ("even", "odd")]
        lens.ingest(docs, set_name)
        for doc in docs:
            filters = Filters(lens.ll._target_collections(set_name), doc.file_name)
            for q in doc.questions:
                mc = set_name in MULTIPLE_CHOICE
                text = stem(q.text) if mc else q.text
                got = pipeline.retrieve(text, filters, opts)
                wrong = [option_text(q.text, x) for x in "ABCD" if mc and x not in q.reference]
                rows.append({
                    "set": set_name, "group": doc.group, "doc": doc.name, "question": text, "query": got.query,
                    "passages": got.passages, "weights": got.weights, "reference": q.evidence,
                    "wrong": [w for w in wrong if w],
                })
            print(f"  {set_name}: {doc.name}", file=sys.stderr, end="\r", flush=True)
    lens.close()
    cache.write_bytes(pickle.dumps(rows))
    return rows


def recall(reference: str, text: str) -> float:
    ref = content_words(reference)
    return len(ref & content_words(text)) / len(ref) if ref else 0.0


def measure(row: dict, text: str) -> dict[str, float]:
    if row["set"] in MULTIPLE_CHOICE:
        gold = recall(row["reference"], text)
        others = max((recall(w, text) for w in row["wrong"]), default=0.0)
        return {"gold": gold, "beats": float(gold > others)}
    return {"f1": token_f1(text, row["reference"]), "gold": recall(row["reference"], text)}


Scorer = Callable[[Candidates, dict], np.ndarray]


def with_weights(**changes: float) -> Scorer:
    weights = {**FEATURE_WEIGHTS, **changes}
    return lambda found, row: weighted_score(found, weights)


def variants() -> dict[str, tuple[Scorer, int, float]]:
    """name -> (sentence scorer, how many quotes at most, how close a second must score to the first)."""
    ratio = SECOND_QUOTE_RATIO
    return {
        "today (2 quotes)": (with_weights(), 2, ratio),
        "today, 1 quote": (with_weights(), 1, ratio),
        "2 quotes if >= .9 of the first (before)": (with_weights(), 2, 0.9),
        "2 quotes always": (with_weights(), 2, 0.0),
        "no cosine": (with_weights(cosine=0.0), 2, ratio),
        "no keyword": (with_weights(keyword=0.0), 2, ratio),
        "cosine x2": (with_weights(cosine=0.7), 2, ratio),
        "keyword .25, cosine .5": (with_weights(keyword=0.25, cosine=0.5), 2, ratio),
        "keyword .35, cosine .5": (with_weights(keyword=0.35, cosine=0.5), 2, ratio),
        "kind x3": (with_weights(kind=0.3), 2, ratio),
        "rank x4": (with_weights(rank=0.2), 2, ratio),
        "no rank": (with_weights(rank=0.0), 2, ratio),
        "no heading": (with_weights(heading=0.0), 2, ratio),
        "no word match": (with_weights(word_match=0.0), 2, ratio),
        "word match x1.5": (with_weights(word_match=0.3), 2, ratio),
        "lower-case starts out in cased text": (cased_lower_starts_out, 2, ratio),
        "+ LM .05": (with_lm(0.05), 2, ratio),
        "+ LM .1": (with_lm(0.1), 2, ratio),
        "+ LM .2": (with_lm(0.2), 2, ratio),
        "LM alone (top 8)": (with_lm(1000), 2, ratio),
    }


def with_candidates(rows: list[dict], again: bool = False, cache: Path = CACHE) -> list[dict]:
    """Each row with its candidate sentences and their features (computed once, then kept in the cache)."""
    if not again and all("found" in row for row in rows):
        return rows
    from longlens import LongLens

    with LongLens(data_dir=OUT / "sentence_lab_data") as ll:
        for n, row in enumerate(rows, start=1):
            row["found"] = candidate_sentences(
                row["query"], row["passages"], row["weights"], ll.embedder.encode, ll.embedder.encode_with_tokens
            )
            row.pop("qlik", None)  # scored the old sentences
            print(f"  sentences: {n}/{len(rows)}", file=sys.stderr, end="\r", flush=True)
    cache.write_bytes(pickle.dumps(rows))
    return rows


LM_TOP = 8  # the generator rescores this many of today's best sentences per question
LM_QUESTIONS = 30  # ...for this many questions per set and document group (about 3 s each on 2 cores)


def with_likelihood(rows: list[dict], again: bool = False, cache: Path = CACHE) -> list[dict]:
    """Each row with `qlik`: per candidate sentence (today's best LM_TOP only; the rest -inf), the mean log
    probability the packaged generator gives the question after the sentence ("query likelihood")."""
    if not again and all("qlik" in row for row in rows):
        return rows
    import torch

    from longlens import LongLens

    taken: dict[tuple[str, str], int] = {}
    with LongLens(data_dir=OUT / "sentence_lab_data") as ll:
        model, tok = ll.generator._loaded
        for n, row in enumerate(rows, start=1):
            found = row["found"]
            qlik = np.full(len(found.sentence), -np.inf)
            key = (row["set"], row["group"])
            taken[key] = taken.get(key, 0) + 1
            if found.sentence and taken[key] <= LM_QUESTIONS:
                top = np.argsort(-weighted_score(found), kind="stable")[:LM_TOP]
                qlik[top] = query_likelihood(model, tok, [found.sentence[i] for i in top], row["question"], torch)
            row["qlik"] = qlik
            print(f"  likelihood: {n}/{len(rows)}", file=sys.stderr, end="\r", flush=True)
    cache.write_bytes(pickle.dumps(rows))
    return rows


def query_likelihood(model, tok, sentences: list[str], question: str, torch) -> np.ndarray:  # noqa: ANN001
    prompts = [f"Passage: {' '.join(s.split()[:80])}\nA question this passage answers:" for s in sentences]
    q_ids = tok.encode(" " + question.strip(), add_special_tokens=False)[:48]
    seqs = [tok.encode(p, add_special_tokens=False) + q_ids for p in prompts]
    width = max(len(x) for x in seqs)
    pad = tok.pad_token_id if tok.pad_token_id is not None else 0
    ids = torch.tensor([x + [pad] * (width - len(x)) for x in seqs])
    mask = torch.tensor([[1] * len(x) + [0] * (width - len(x)) for x in seqs])
    with torch.inference_mode():
        logp = torch.log_softmax(model(input_ids=ids, attention_mask=mask).logits.float(), dim=-1)
    out = []
    for b, x in enumerate(seqs):
        start = len(x) - len(q_ids)
        target = torch.tensor(x[start:])
        out.append(float(logp[b, start - 1 : len(x) - 1].gather(1, target[:, None]).mean()))
    return np.array(out)


def with_lm(weight: float) -> Scorer:
    """Today's score plus `weight` times the query likelihood standardised over the rescored sentences."""
    def score(found: Candidates, row: dict) -> np.ndarray:
        base = weighted_score(found)
        q = row["qlik"]
        ok = np.isfinite(q)
        if ok.sum() < 2:
            return base
        z = np.full_like(base, -10.0)
        z[ok] = (q[ok] - q[ok].mean()) / (q[ok].std() + 1e-6)
        return base + weight * z if weight < 100 else z
    return score


def cased_lower_starts_out(found: Candidates, row: dict) -> np.ndarray:
    """Today's score, with a sentence that starts in lower case inside cased text left out (the old rule)."""
    base = weighted_score(found)
    for i, (n, sentence) in enumerate(zip(found.passage, found.sentence, strict=True)):
        if sentence[:1].islower() and any(c.isupper() for c in row["passages"][n - 1].text):
            base[i] -= 10.0
    return base


def run(rows: list[dict]) -> dict[str, list[dict]]:
    """One table per set: a row per variant, columns per document group and measure."""
    tables: dict[str, list[dict]] = {}
    names = {**variants(), "oracle (best single sentence)": None}
    if not all("qlik" in row for row in rows):
        names = {k: v for k, v in names.items() if "LM" not in k}
    for name, spec in names.items():
        per: dict[tuple[str, str], list[dict]] = {}
        for row in rows:
            found = row["found"]
            if not found.sentence:
                text = ""
            elif spec is None:
                text = max(found.sentence, key=lambda s: measure(row, s).get("f1", measure(row, s)["gold"]))
            else:
                scorer, limit, ratio = spec
                text = " ".join(q.sentence for q in choose_quotes(found, scorer(found, row), limit, ratio))
            per.setdefault((row["set"], row["group"]), []).append(measure(row, text))
        for set_name in dict.fromkeys(s for s, _ in per):
            out: dict = {"variant": name}
            for group in ("even", "odd"):
                ms = per.get((set_name, group), [])
                for key in ms[0] if ms else ():
                    out[f"{group} {key}"] = round(statistics.fmean(m[key] for m in ms), 3)
            tables.setdefault(set_name, []).append(out)
    return tables


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fresh", action="store_true", help="fetch the passages again")
    ap.add_argument("--sentences", action="store_true", help="split and score the sentences again")
    ap.add_argument("--sets", default=",".join(SETS))
    ap.add_argument("--passages", type=int, default=PASSAGES,
                    help=f"quote from this many of `ask`'s passages (default {PASSAGES}; another is cached apart)")
    ap.add_argument("--lm", action="store_true", help="rescore with the generator's query likelihood (~15 min)")
    ap.add_argument("--lm-slice", action="store_true", help="only the questions the generator rescored")
    args = ap.parse_args(argv)
    again = args.sentences or args.fresh
    cache = cache_for(args.passages)
    rows = with_candidates(collect(args.fresh, args.passages), again, cache)
    if args.lm:
        rows = with_likelihood(rows, again, cache)
    rows = [r for r in rows if r["set"] in args.sets.split(",")]
    if args.lm_slice:
        rows = [r for r in rows if np.isfinite(r.get("qlik", [])).any()]
    tables = run(rows)
    for set_name, table in tables.items():
        print_table(f"{set_name} ({sum(r['set'] == set_name for r in rows)} questions)", table)
    (OUT / "sentence_lab.json").write_text(json.dumps(tables, indent=1))


if __name__ == "__main__":
    main()
