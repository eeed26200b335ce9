"""The CPU-bound half of ingestion (parse + chunk), run in worker processes.

Kept free of torch and of the database so that a worker starts fast and a crash in a parser only costs
that one file.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from longlens.retrieval.parsers._common import ParseOptions
from longlens.schema import Chunk, LongLensError, ParseError


@dataclass(frozen=True)
class PrepareOptions:
    tokenizer_path: str
    chunk_tokens: int
    chunk_overlap: int
    parse: ParseOptions = field(default_factory=ParseOptions)


@dataclass
class Prepared:
    """A parsed and chunked file, ready to embed and store."""

    path: str
    doc_type: str
    title: str
    page_count: int | None
    duration: float | None
    warnings: list[str]
    chunks: list[Chunk]
    parse_seconds: float = 0.0
    chunk_seconds: float = 0.0
    error: str | None = None


@lru_cache(maxsize=4)
def _offsets_fn(tokenizer_path: str):  # noqa: ANN202 - OffsetsFn
    from longlens.models.embedder import load_tokenizer
    from longlens.retrieval.chunking import offsets_fn_for

    return offsets_fn_for(load_tokenizer(tokenizer_path))


def prepare_file(path: str, opts: PrepareOptions) -> Prepared:
    """Parse and chunk one file; a bad file comes back with `error` set instead of raising."""
    from longlens.retrieval.chunking import chunk_segments
    from longlens.retrieval.parsers import parse

    t0 = time.perf_counter()
    try:
        doc = parse(Path(path), opts.parse)
        t1 = time.perf_counter()
        chunks = chunk_segments(doc.segments, _offsets_fn(opts.tokenizer_path), opts.chunk_tokens, opts.chunk_overlap)
    except (ParseError, LongLensError) as exc:
        return _failed(path, str(exc))
    except MemoryError:
        return _failed(path, "out of memory while parsing")
    except Exception as exc:  # a parser library choking on a malformed file must not stop the batch
        return _failed(path, f"could not parse: {type(exc).__name__}: {exc}")
    if not chunks:
        return _failed(path, "no text found")
    return Prepared(
        path=path,
        doc_type=doc.doc_type,
        title=doc.title,
        page_count=doc.page_count,
        duration=doc.duration,
        warnings=list(doc.warnings),
        chunks=chunks,
        parse_seconds=t1 - t0,
        chunk_seconds=time.perf_counter() - t1,
    )


def _failed(path: str, error: str) -> Prepared:
    return Prepared(path, "", "", None, None, [], [], error=error)
