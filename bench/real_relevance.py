"""The "could not find" decision on real documents: said too often, or too rarely?

Used by `bench/eval_real.py --relevance`. Every question of a set is answerable from its own document, so
`ask` saying "could not find" there is a miss. The questions of the other sets, asked of the same
document, have no answer there (earnings calls against government and encyclopedia pages), so there it
should say it. Per set and group (even: where thresholds are chosen; odd: reported), the share of
questions that get "could not find": `answerable` should be near 0, `absent` near 1. multidoc_qa's questions
are the turns of a dialogue ("yes", "I have a FFEL loan."): `answerable, in conversation` asks each turn
again after the ones before it (with their reference answers), as the web app's chat does, and `absent, in
conversation` asks each other set's question after one or more of the document's turns. The sweep prints the
same shares on the even documents for other thresholds, to choose them.
"""

from __future__ import annotations

import statistics
import sys
from dataclasses import replace

CONVERSATIONS = {"multidoc_qa"}  # sets whose questions are the turns of one dialogue per document
DENSE_GRID = (0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4)
KEYWORD_GRID = (0.5, 0.6, 0.7, 0.8, 0.9, 1.01)  # 1.01: the keyword side never decides alone


def gather(sets: dict, lens) -> list[dict]:
    """Per (document, question): the evidence `ask` decides on, for its own and for the other sets' questions."""
    from longlens.answer.pipeline import AskOptions
    from longlens.answer.retriever import Filters

    ll = lens.ll
    pipeline = ll.answer_pipeline()
    opts = AskOptions()
    rows = []
    for set_name, docs in sets.items():
        others = [q.text for other, ds in sets.items() if other != set_name for d in ds for q in d.questions]
        unique = [d for d in docs if d.group != "repeated"]
        for n, doc in enumerate(unique, start=1):
            print(f"  relevance {set_name}: {n}/{len(unique)}", end="\r", file=sys.stderr, flush=True)
            filters = Filters(ll._target_collections(set_name), doc.file_name)
            absent = others[n :: max(1, len(unique))][: len(doc.questions)]  # as many, spread over the others
            turns = [(q.text, q.reference) for q in doc.questions]
            asked = [("answerable", q, ()) for q, _ in turns] + [("absent", q, ()) for q in absent]
            if set_name in CONVERSATIONS:  # each turn again, after the turns before it (user and reference)
                asked += [("answerable, in conversation", q, _history(turns[:i])) for i, (q, _) in enumerate(turns)]
                asked += [("absent, in conversation", q, _history(turns[: i % len(turns) + 1]))
                          for i, q in enumerate(absent)]
            for kind, q, history in asked:
                got = pipeline.retrieve(q, filters, replace(opts, history=history))
                ev = got.evidence
                rows.append({
                    "set": set_name, "doc": doc.name, "group": doc.group, "kind": kind, "question": q,
                    "cosine": ev.best_cosine if ev else 0.0, "keyword": ev.best_keyword if ev else 0.0,
                    "not_found": float(not got.passages),
                })
    return rows


def _history(turns: list[tuple[str, str]]) -> list[dict[str, str]]:
    return [m for q, a in turns for m in ({"role": "user", "content": q}, {"role": "assistant", "content": a})]


def summarise(rows: list[dict]) -> list[dict]:
    out = []
    for key in dict.fromkeys((r["set"], r["group"]) for r in rows):
        rs = [r for r in rows if (r["set"], r["group"]) == key]
        row: dict = {"set": key[0], "docs": key[1]}
        for kind in ("answerable", "answerable, in conversation", "absent", "absent, in conversation"):
            ks = [r for r in rs if r["kind"] == kind]
            if not ks and kind.endswith("conversation"):
                continue
            row[f"{kind} questions"] = len(ks)
            row[f"{kind}: not found"] = statistics.fmean(r["not_found"] for r in ks) if ks else float("nan")
        out.append(row)
    return out


def sweep(rows: list[dict], group: str = "even") -> list[dict]:
    """The not-found shares on `group` documents (all sets) for each pair of thresholds."""
    rs = [r for r in rows if r["group"] == group]
    out = []
    for dense in DENSE_GRID:
        for keyword in KEYWORD_GRID:
            row: dict = {"dense floor": dense, "keyword floor": keyword}
            for kind in ("answerable", "absent"):
                ks = [r for r in rs if r["kind"] == kind]
                missed = [r["cosine"] < dense and r["keyword"] < keyword for r in ks]
                row[f"{kind}: not found"] = statistics.fmean(missed) if ks else float("nan")
            out.append(row)
    return out


def run_relevance(sets: dict, lens) -> tuple[list[dict], list[dict], list[dict]]:
    rows = gather(sets, lens)
    return summarise(rows), sweep(rows), rows
