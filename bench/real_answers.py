"""Answers on the real sets: longlens `ask` beside the same model given the recipe's passages.

Used by `bench/eval_real.py --answers N`. For each set, N questions from the odd-numbered (reported)
documents, taken one document after another so every document is represented. longlens answers with
`ask(question, document=<its file>)`, given at most `--passages` passages (4 by default, about 600 words:
with `ask`'s default of 8, 30 questions a set had not finished after 20 minutes on two cores, most of it
SmolLM2's prefill); the recipe system gives the same generator, with longlens's own
prompt, the LangChain recipe's top chunks cut at the same number of words as the passages longlens chose.
Free-text sets: token F1 and ROUGE-L against the reference; multiple-choice sets: whether the letters named
in the answer's first line equal the reference's. `unsupported`: answer sentences that no passage the model
was given supports, by the check `ask` applies before showing a sentence (`longlens.answer.grounding`);
quotations are verbatim passage text and not counted.
`not_found`: answers that say the documents do not hold the answer, although every question here is
answerable from its document.
"""

from __future__ import annotations

import statistics
import sys
import time

from longlens.answer.citations import clean_markers
from longlens.answer.extractive import without_quotations
from longlens.answer.grounding import unsupported_sentences
from longlens.evalmetrics import letters, rouge_l, token_f1
from longlens.schema import Hit

MULTIPLE_CHOICE = {"coursera", "tpo"}


def pick_questions(docs: list, per_set: int, group: str = "odd") -> list[tuple]:
    """`per_set` (document, question) pairs from the `group` (odd: reported; even: for choosing settings)
    documents, round robin."""
    report = [d for d in docs if d.group == group] or [d for d in docs if d.group != "repeated"]
    out, i = [], 0
    while len(out) < per_set and any(i < len(d.questions) for d in report):
        out.extend((d, d.questions[i]) for d in report if i < len(d.questions))
        i += 1
    return out[:per_set]


def recipe_passages(recipe, doc, question: str, words: int) -> list[Hit]:
    """The recipe's chunks, best first, cut at `words` words, as Hits the prompt builder can label."""
    out, left = [], words
    for n, text in enumerate(recipe.dense(doc, question)):
        if left <= 0:
            break
        kept = text.split()[:left]
        left -= len(kept)
        out.append(Hit(chunk_id=n, document=doc.file_name, document_id=0, title="", collection=doc.set_name,
                       text=" ".join(kept), score=0.0))
    return out


def score(answer: str, reference: str, multiple_choice: bool) -> dict:
    if multiple_choice:
        first = next((line for line in answer.splitlines() if line.strip()), "")
        return {"accuracy": float(letters(first[:80]) == set(reference))}
    return {"f1": token_f1(answer, reference), "rouge_l": rouge_l(answer, reference)}


def run_answers(
    sets: dict, lens, recipe, per_set: int, max_tokens: int, passages: int = 4, group: str = "odd"
) -> tuple[list[dict], list[dict]]:
    """Answer `per_set` questions of each set with both systems; returns (table rows, per-question rows)."""
    from longlens.answer.pipeline import AskOptions
    from longlens.answer.prompting import NOT_FOUND, build_messages
    from longlens.answer.retriever import Filters
    from longlens.models.generation import GenerationParams

    ll = lens.ll
    params = GenerationParams(max_tokens=max_tokens)
    opts = AskOptions(max_passages=passages, generation=params)
    rows, details = [], []
    for set_name, docs in sets.items():
        mc = set_name in MULTIPLE_CHOICE
        results: dict[str, list[dict]] = {"longlens ask": [], "recipe passages + same model": []}
        seconds = dict.fromkeys(results, 0.0)
        chosen = pick_questions(docs, per_set, group)
        for done, (doc, q) in enumerate(chosen, start=1):
            print(f"  answers {set_name}: {done}/{len(chosen)}", end="\r", file=sys.stderr, flush=True)
            t0 = time.perf_counter()
            answer = ll.ask(q.text, collection=set_name, document=doc.file_name, options=opts)
            seconds["longlens ask"] += time.perf_counter() - t0
            filters = Filters(ll._target_collections(set_name), doc.file_name)
            given = ll.answer_pipeline().retrieve(q.text, filters, opts).passages
            words = sum(len(h.text.split()) for h in given)
            t0 = time.perf_counter()
            theirs = recipe_passages(recipe, doc, q.text, words or 600)
            raw = "".join(ll.generator.stream(build_messages(q.text, theirs), params))
            recipe_text = clean_markers(raw, len(theirs))
            seconds["recipe passages + same model"] += time.perf_counter() - t0
            for system, text, passages in (
                ("longlens ask", answer.text, given),
                ("recipe passages + same model", recipe_text, theirs),
            ):
                results[system].append({
                    "set": set_name, "system": system, "doc": doc.name, "question": q.text[:200],
                    "answer": text, "reference": q.reference, "words_given": sum(len(h.text.split()) for h in passages),
                    "unsupported": len(unsupported_sentences(without_quotations(text), passages)),
                    "not_found": float(text.strip() == NOT_FOUND), **score(text, q.reference, mc),
                })
        for system, rs in results.items():
            if not rs:
                continue
            row: dict = {"set": set_name, "system": system, "questions": len(rs)}
            for key in ("accuracy",) if mc else ("f1", "rouge_l"):
                row[key] = statistics.fmean(r[key] for r in rs)
            row["words_given"] = statistics.fmean(r["words_given"] for r in rs)
            row["unsupported"] = sum(r["unsupported"] for r in rs)
            row["not_found"] = sum(r["not_found"] for r in rs)
            row["s_per_q"] = seconds[system] / len(rs)
            rows.append(row)
            details.extend(rs)
            print(f"  answers {set_name}: {row}", file=sys.stderr, flush=True)
    return rows, details
