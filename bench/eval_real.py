"""longlens against the recipe a user would write, on real long documents with real questions.

    python bench/eval_real.py                          # retrieval on financial_qa and multidoc_qa (minutes)
    python bench/eval_real.py --sets coursera,tpo      # the multiple-choice lecture sets
    python bench/eval_real.py --limit 20               # a slice: the first 20 questions of each set
    python bench/eval_real.py --answers                # also answer 10 questions per set (packaged SmolLM2)
    python bench/eval_real.py --sets none --needles    # only the needles in the Paul Graham essays

Reads `../shared/realdata/` (or `--data`). Each L-Eval document is written to a `.txt` file and ingested into
one collection per set; each question is searched within its own document, as a user would:
`ll.search(q, k=30, collection=<set>, document=<file name>)`. Beside it, in the same process, the recipe a
user writes instead: LangChain's `RecursiveCharacterTextSplitter(1000, 200)` + the same packaged MiniLM +
exact cosine, and `rank_bm25.BM25Okapi` over those same chunks (tokens: lower-cased alphanumeric words).

Scores (`longlens.evalmetrics`, see ../shared/realdata/README.md): evidence recall, the share of the
reference answer's content words found in the retrieved text, best first, cut at 300 / 600 / 1,200 words
(for the multiple-choice sets the reference is the correct options' text); `hit@600`, every content word
found; `empty`, the share of questions a system returned nothing for. Rows per set: `even` (the documents
settings are chosen on), `odd` (the honest figures), `unique` (both), and `repeated`: the questions on
documents that L-Eval repeats under a new index, searched under the copy's own file name, so a loss there is
seen for what it is. `--ask-context` adds the passages `ask` gives the model. `--answers`, `--needles` and
`--relevance` (how often `ask` says "could not find"): see bench/real_answers.py, real_needles.py and
real_relevance.py. Writes bench/out/eval_real.json.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).parent))

from _common import print_table  # noqa: E402

from longlens.evalmetrics import evidence_recall, letters, option_text, take_words  # noqa: E402

SETS = {
    "financial_qa": "leval_financial_qa.jsonl.gz",
    "multidoc_qa": "leval_multidoc_qa.jsonl.gz",
    "coursera": "leval_coursera.jsonl.gz",
    "tpo": "leval_tpo.jsonl.gz",
}
DEFAULT_SETS = "financial_qa,multidoc_qa"
MULTIPLE_CHOICE = {"coursera", "tpo"}
BUDGETS = (300, 600, 1200)
DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "realdata"
K = 30  # passages asked of every system; 30 is past every budget for every chunk size here
GROUPS = ("even", "odd", "unique", "repeated")
RECIPE_DENSE = "recipe: LangChain 1000/200 + MiniLM cosine"
RECIPE_BM25 = "recipe: rank_bm25 on the same chunks"


@dataclass
class Question:
    text: str
    reference: str  # the reference answer (free text) or the letters (multiple choice)
    evidence: str  # what evidence recall looks for: the answer, or the correct options' text


@dataclass
class Document:
    set_name: str
    index: int
    text: str
    questions: list[Question] = field(default_factory=list)
    copy_of: str | None = None  # the name of the earlier document with the same text

    @property
    def name(self) -> str:
        return f"{self.set_name}_{self.index:02d}"

    @property
    def file_name(self) -> str:
        return f"{self.name}.txt"

    @property
    def group(self) -> str:
        """`repeated` for a copy; else `even` (settings are chosen here) or `odd` (reported)."""
        if self.copy_of is not None:
            return "repeated"
        return "even" if self.index % 2 == 0 else "odd"


def load_set(data: Path, set_name: str, limit: int | None = None, docs: int | None = None) -> list[Document]:
    """The set's documents in file order, each with its questions (at most `limit` questions in all).

    L-Eval repeats some documents under a new index; each copy is kept, marked `copy_of` the first one.
    """
    out: list[Document] = []
    first: dict[str, str] = {}
    taken = 0
    with gzip.open(data / SETS[set_name], "rt", encoding="utf-8") as fh:
        for index, line in enumerate(fh):
            if (docs is not None and len(out) >= docs) or (limit is not None and taken >= limit):
                break
            row = json.loads(line)
            doc = Document(set_name, index, row["input"])
            doc.copy_of = first.get(row["input"])
            first.setdefault(row["input"], doc.name)
            for q, a in zip(row["instructions"], row["outputs"], strict=True):
                if limit is not None and taken >= limit:
                    break
                if set_name in MULTIPLE_CHOICE:
                    a = "".join(sorted(letters(a)))
                    evidence = " ".join(option_text(q, letter) for letter in a)
                else:
                    evidence = a
                doc.questions.append(Question(q, a, evidence))
                taken += 1
            out.append(doc)
    return out


# systems ---------------------------------------------------------------------------------------

Searcher = Callable[[Document, str], list[str]]  # (document, question) -> passages, best first


def bm25_tokens(text: str) -> list[str]:
    """rank_bm25's usual tokens: lower-cased alphanumeric words."""
    return re.findall(r"[a-z0-9]+", text.lower())


class Recipe:
    """What a user writes instead: character chunks, MiniLM + exact cosine, or rank_bm25 on the same chunks."""

    def __init__(self, embed_path: str) -> None:
        from langchain_text_splitters import RecursiveCharacterTextSplitter
        from sentence_transformers import SentenceTransformer

        self.splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
        self.model = SentenceTransformer(embed_path, device="cpu")
        self.chunks: dict[str, list[str]] = {}
        self.vectors: dict[str, object] = {}
        self.bm25: dict[str, object] = {}

    def ingest(self, docs: list[Document]) -> float:
        """Chunk, embed and index every document (copies too: the recipe does not know they repeat)."""
        from rank_bm25 import BM25Okapi

        t0 = time.perf_counter()
        for doc in docs:
            chunks = self.splitter.split_text(doc.text)
            self.chunks[doc.name] = chunks
            self.vectors[doc.name] = self.model.encode(chunks, normalize_embeddings=True, batch_size=32)
            self.bm25[doc.name] = BM25Okapi([bm25_tokens(c) for c in chunks])
        return time.perf_counter() - t0

    def dense(self, doc: Document, question: str) -> list[str]:
        q = self.model.encode([question], normalize_embeddings=True)[0]
        scores = self.vectors[doc.name] @ q
        return [self.chunks[doc.name][i] for i in scores.argsort()[::-1][:K]]

    def keyword(self, doc: Document, question: str) -> list[str]:
        scores = self.bm25[doc.name].get_scores(bm25_tokens(question))
        return [self.chunks[doc.name][i] for i in scores.argsort()[::-1][:K]]


class LongLensSystem:
    """longlens as a user runs it: files on disk, `ingest`, then `search(..., document=<file name>)`."""

    def __init__(self, data_dir: Path, **overrides: object) -> None:
        from longlens import LongLens

        self.ll = LongLens(data_dir=data_dir, workers=1, **overrides)
        self.files = data_dir / "files"
        self.files.mkdir(parents=True, exist_ok=True)

    def ingest(self, docs: list[Document], collection: str) -> float:
        paths = []
        for doc in docs:
            path = self.files / collection / doc.file_name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(doc.text, encoding="utf-8")
            paths.append(path)
        t0 = time.perf_counter()
        report = self.ll.ingest(paths, collection=collection)
        if report.failed:
            raise RuntimeError(f"ingestion failed: {report.failed}")
        return time.perf_counter() - t0

    def searcher(self, mode: str, collection: str) -> Searcher:
        def search(doc: Document, question: str) -> list[str]:
            hits = self.ll.search(question, k=K, collection=collection, document=doc.file_name, mode=mode)
            return [h.text for h in hits]

        return search

    def ask_context(self, collection: str) -> Searcher:
        """The passages `ask` would hand the model with its default options (best first, not reordered):
        after the relevance floor, reranking and selection; empty when `ask` says it could not find it."""
        from longlens.answer.pipeline import AskOptions
        from longlens.answer.retriever import Filters
        from longlens.retrieval.selection import SelectionConfig

        opts = AskOptions(selection=SelectionConfig(reorder=False))

        def search(doc: Document, question: str) -> list[str]:
            filters = Filters(self.ll._target_collections(collection), doc.file_name)
            return [h.text for h in self.ll.answer_pipeline().retrieve(question, filters, opts).passages]

        return search

    def close(self) -> None:
        self.ll.close()


# scoring ---------------------------------------------------------------------------------------


def score_retrieval(docs: list[Document], system: str, search: Searcher) -> list[dict]:
    """Per question: evidence recall at each budget, whole-answer hit at 600 words, query milliseconds."""
    out = []
    for doc in docs:
        for number, q in enumerate(doc.questions):
            t0 = time.perf_counter()
            passages = search(doc, q.text)
            ms = (time.perf_counter() - t0) * 1e3
            row = {"system": system, "doc": doc.name, "question": number, "group": doc.group, "ms": ms}
            for budget in BUDGETS:
                row[f"recall@{budget}"] = evidence_recall(q.evidence, take_words(passages, budget))
            row["hit@600"] = float(row["recall@600"] == 1.0)
            row["empty"] = float(not passages)
            out.append(row)
    return out


def in_group(row: dict, group: str) -> bool:
    return row["group"] == group or (group == "unique" and row["group"] in ("even", "odd"))


def summarise(per_question: list[dict], set_name: str, ingest_s: dict[str, float]) -> list[dict]:
    """One row per group and system: mean scores, ingestion seconds, mean query milliseconds."""
    rows = []
    systems = list(dict.fromkeys(r["system"] for r in per_question))
    for group in GROUPS:
        for system in systems:
            rs = [r for r in per_question if r["system"] == system and in_group(r, group)]
            if not rs:
                continue
            row: dict = {"set": set_name, "docs": group, "system": system, "questions": len(rs)}
            for key in (*(f"recall@{b}" for b in BUDGETS), "hit@600", "empty"):
                row[key] = statistics.fmean(r[key] for r in rs)
            row["ingest_s"] = ingest_s["longlens" if system.startswith("longlens") else "recipe"]
            row["query_ms"] = statistics.fmean(r["ms"] for r in rs)
            rows.append(row)
    return rows


def make_systems(work: Path, overrides: dict) -> tuple[Recipe, LongLensSystem]:
    from longlens.models.embedder import DEFAULT_EMBEDDER, resolve_embedder_path

    return Recipe(resolve_embedder_path(DEFAULT_EMBEDDER)), LongLensSystem(work / "lens", **overrides)


def run_retrieval(
    sets: dict[str, list[Document]], recipe: Recipe, lens: LongLensSystem, progress: bool = True,
    ask_context: bool = False,
) -> tuple[list[dict], list[dict]]:
    """Ingest every set into both systems, then score each system's search on every question."""
    table, per_question = [], []
    for set_name, docs in sets.items():
        ingest_s = {"recipe": recipe.ingest(docs), "longlens": lens.ingest(docs, set_name)}
        systems: dict[str, Searcher] = {RECIPE_DENSE: recipe.dense, RECIPE_BM25: recipe.keyword}
        for mode in ("hybrid", "dense", "keyword"):
            label = "longlens hybrid (default)" if mode == "hybrid" else f"longlens {mode}"
            systems[label] = lens.searcher(mode, set_name)
        if ask_context:
            systems["longlens ask's context (not reordered)"] = lens.ask_context(set_name)
        rows: list[dict] = []
        for system, search in systems.items():
            t0 = time.perf_counter()
            rows.extend(score_retrieval(docs, system, search))
            if progress:
                print(f"  {set_name}: {system} in {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
        for r in rows:
            r["set"] = set_name
        per_question.extend(rows)
        table.extend(summarise(rows, set_name, ingest_s))
    return table, per_question


def ratio_rows(table: list[dict]) -> list[dict]:
    """longlens's default over the better recipe, per set and group, at each budget."""
    out = []
    for key in dict.fromkeys((r["set"], r["docs"]) for r in table):
        rows = [r for r in table if (r["set"], r["docs"]) == key]
        lens = next(r for r in rows if r["system"].startswith("longlens hybrid"))
        recipes = [r for r in rows if r["system"].startswith("recipe")]
        row: dict = {"set": key[0], "docs": key[1]}
        for b in BUDGETS:
            best = max(r[f"recall@{b}"] for r in recipes)
            row[f"x@{b}"] = lens[f"recall@{b}"] / best if best else float("nan")
        out.append(row)
    return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder holding the L-Eval .jsonl.gz files")
    ap.add_argument("--sets", default=DEFAULT_SETS, help=f"comma-separated, of {', '.join(SETS)}")
    ap.add_argument("--limit", type=int, default=None, help="at most N questions per set (a slice)")
    ap.add_argument("--docs", type=int, default=None, help="only the first N documents of each set")
    ap.add_argument(
        "--answers", type=int, nargs="?", const=10, default=0,
        help="answer N questions per set (default 10: about 20 s a question for both systems on 2 cores)",
    )
    ap.add_argument(
        "--answer-docs", choices=("odd", "even"), default="odd",
        help="answer questions of the odd (reported) or the even (settings are chosen there) documents",
    )
    ap.add_argument("--max-tokens", type=int, default=64, help="longest answer, in tokens")
    ap.add_argument("--passages", type=int, default=4, help="most passages `ask` gives the model (answers)")
    ap.add_argument("--needles", action="store_true", help="needles in the Paul Graham essays (.txt and PDF)")
    ap.add_argument("--seed", type=int, default=0, help="the needles' values and decoy places")
    ap.add_argument(
        "--ask-context", action="store_true", help="also score the passages `ask` hands the model (loads the LLM)"
    )
    ap.add_argument(
        "--relevance", action="store_true",
        help="how often `ask` says 'could not find', on answerable questions and on other sets' questions",
    )
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "out" / "eval_real.json")
    args = ap.parse_args(argv)
    args.sets = [] if args.sets == "none" else args.sets.split(",")
    unknown = [s for s in args.sets if s not in SETS]
    if unknown:
        ap.error(f"unknown set(s) {', '.join(unknown)}; choose from {', '.join(SETS)}")
    if not args.data.is_dir():
        ap.error(f"no real data at {args.data} (pass --data)")
    return args


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    sets = {s: load_set(args.data, s, args.limit, args.docs) for s in args.sets}
    result: dict = {
        "sets": {s: {"docs": len(d), "questions": sum(len(x.questions) for x in d)} for s, d in sets.items()},
    }
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        recipe, lens = make_systems(Path(tmp), {})
        try:
            table, per_question = run_retrieval(sets, recipe, lens, ask_context=args.ask_context)
            print_table("Evidence recall at a budget of retrieved words, best first (same MiniLM everywhere)", table)
            ratios = ratio_rows(table)
            print_table("longlens default / the better recipe", ratios)
            result.update(retrieval=table, ratios=ratios, per_question=per_question)
            if args.answers:
                from real_answers import run_answers

                t1 = time.perf_counter()
                rows, details = run_answers(
                    sets, lens, recipe, args.answers, args.max_tokens, args.passages, args.answer_docs
                )
                model = Path(str(lens.ll.settings.llm)).name
                took = time.perf_counter() - t1
                print_table(f"Answers by {model} on the {args.answer_docs}-numbered documents ({took:.0f} s)", rows)
                result.update(answers=rows, answer_details=details)
            if args.relevance:
                from real_relevance import run_relevance

                summary, grid, rows = run_relevance(sets, lens)
                print_table("'Could not find' on answerable questions and on the other sets' questions", summary)
                print_table("The same on the even documents, other thresholds (dense cosine, keyword share)", grid)
                result.update(relevance=summary, relevance_sweep=grid, relevance_details=rows)
            if args.needles:
                from real_needles import run_needles

                t1 = time.perf_counter()
                rows, summary = run_needles(args.data, Path(tmp), lens, args.seed)
                print_table(f"Needles in the essays, out of 10 depths ({time.perf_counter() - t1:.0f} s)", summary)
                print_table("Needles per depth", [{k: v for k, v in r.items() if k != "text"} for r in rows])
                result.update(needles=summary, needle_details=rows)
        finally:
            lens.close()
    result["seconds"] = time.perf_counter() - t0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"\nwrote {args.out} ({result['seconds']:.0f} s)")
    return result


if __name__ == "__main__":
    main()
