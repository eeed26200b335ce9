"""Time and peak memory on text of awkward shapes: one line of N MB, and N MB with no space at all.

    python bench/huge_text.py                          # parse+chunk at 5 and 50 MB, full ingest at 1 MB
    python bench/huge_text.py --ingest-mb 5 50         # full ingests too (embedding: about a minute per MB on 2 cores)
    python bench/huge_text.py --chunk-mb --ingest-mb 5 --shapes one-line   # one full ingest only

Each measurement runs in a fresh process (peak resident memory is that process's `ru_maxrss`), side by side
with what a user would run instead on the same text: LangChain's RecursiveCharacterTextSplitter(1000, 200).
Prints a table and writes bench/out/huge_text.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import print_table  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("PYTHONSAFEPATH", "1")

SHAPES = {"one-line": True, "no-spaces": False}  # name -> whether the text has spaces
WORDS = "river marsh heron survey counted nesting pairs alder weir volunteers morning april ferry harbour".split()

CHILD = r"""
import json, resource, sys, time
kind, path, data = sys.argv[1], sys.argv[2], sys.argv[3]
t = time.perf_counter()
if kind == "chunk":
    from longlens.config import Settings
    from longlens.models.embedder import resolve_embedder_path
    from longlens.ingest.prepare import PrepareOptions, prepare_file
    s = Settings.load(data)
    p = prepare_file(path, PrepareOptions(resolve_embedder_path(s.embedder), s.chunk_tokens, s.chunk_overlap,
                                          s.parse_options()))
    longest = max((len(c.text) for c in p.chunks), default=0)
    out = {"chunks": len(p.chunks), "error": p.error, "max_chunk_chars": longest}
elif kind == "ingest":
    from longlens import LongLens
    with LongLens(data, workers=1) as ll:
        r = ll.ingest([path])
        errors = "; ".join(f["error"] for f in r.failed) or None
        out = {"chunks": sum(d.chunk_count for d in ll.documents()), "error": errors}
else:  # the LangChain recipe's splitter
    from langchain_text_splitters import RecursiveCharacterTextSplitter
    text = open(path, encoding="utf-8").read()
    parts = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200).split_text(text)
    out = {"chunks": len(parts), "error": None, "max_chunk_chars": max(map(len, parts), default=0)}
out["seconds"] = time.perf_counter() - t
out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out))
"""


def make_text(path: Path, mb: float, spaces: bool, seed: int = 0) -> Path:
    rng = random.Random(seed)
    target = int(mb * 1_000_000)
    sep = " " if spaces else ""
    with open(path, "w", encoding="utf-8") as fh:
        written = 0
        while written < target:
            piece = sep.join(rng.choice(WORDS) for _ in range(2000)) + sep
            fh.write(piece[: target - written])
            written += min(len(piece), target - written)
    return path


def measure(kind: str, path: Path, data: Path, timeout: int) -> dict:
    t = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, "-c", CHILD, kind, str(path), str(data)], capture_output=True,
                              text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"no result after {timeout} s", "seconds": time.perf_counter() - t}
    if proc.returncode:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--chunk-mb", type=float, nargs="*", default=[5, 50])
    ap.add_argument("--ingest-mb", type=float, nargs="*", default=[1])
    ap.add_argument("--shapes", nargs="*", choices=list(SHAPES), default=list(SHAPES))
    ap.add_argument("--timeout", type=int, default=3600, help="seconds per measurement")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "out" / "huge_text.json")
    args = ap.parse_args()
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        plan = [("chunk", mb) for mb in args.chunk_mb] + [("ingest", mb) for mb in args.ingest_mb]
        for kind, mb in plan:
            for shape in args.shapes:
                spaces = SHAPES[shape]
                path = make_text(tmp / f"{shape}-{mb}.txt", mb, spaces)
                for who, how in (("longlens", kind), ("LangChain splitter", "recipe")):
                    if how == "recipe" and kind == "ingest":
                        continue
                    data = tmp / f"data-{kind}-{shape}-{mb}"
                    got = measure(how, path, data, args.timeout)
                    rows.append({"stage": "parse+chunk" if kind == "chunk" else "ingest (embed, store)",
                                 "shape": shape, "MB": mb, "who": who, "seconds": got.get("seconds", float("nan")),
                                 "s_per_MB": got.get("seconds", float("nan")) / mb, "peak_MB": got.get("peak_mb", 0.0),
                                 "chunks": got.get("chunks", 0), "max_chunk_chars": got.get("max_chunk_chars", ""),
                                 "error": got.get("error") or ""})
                    print_table("so far", rows[-1:])
    print_table("Awkward text shapes: time and peak memory per process", rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"rows": rows, "date": time.strftime("%Y-%m-%d")}, indent=2))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
