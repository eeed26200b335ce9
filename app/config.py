"""Settings for one longlens data directory: defaults that work offline, overridable by env or keyword."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path

from longlens.models.embedder import DEFAULT_EMBEDDER, PRECISIONS
from longlens.models.hf_generator import PACKAGED_LLM
from longlens.paths import default_data_dir
from longlens.retrieval.parsers import ParseOptions

MAX_EF_SEARCH = 1000
"""pgvector's upper bound for `hnsw.ef_search`; the candidate list must be at least k long to return k."""
EF_SEARCH = 100
"""The HNSW candidate list a pgvector search walks (at least k): longer finds more of the true nearest
neighbours in a big collection and costs latency (`bench/scale.py --ef-search`)."""


@dataclass
class Settings:
    """Everything a `LongLens` instance needs to know; each field can be set by `LONGLENS_<FIELD>` too."""

    data_dir: Path = field(default_factory=default_data_dir)
    database_url: str = ""
    embedder: str = DEFAULT_EMBEDDER
    # Stretch the embedder past its trained length (longlens.models.long_embed): "" = as shipped, else
    # "window", "pi", "ntk", "selfextend" (RoPE models), with embedder_max_tokens the new limit.
    embedder_extension: str = ""
    embedder_max_tokens: int = 0
    chunk_tokens: int = 200
    chunk_overlap: int = 32
    max_file_mb: float = 512.0
    ocr: bool = True
    ocr_language: str = "eng"
    asr: bool = True  # transcribe speech in videos and audio
    asr_model: str = ""  # "" = the packaged Whisper base; else a faster-whisper name or CTranslate2 folder
    asr_language: str = ""  # "" = detected per file
    detector: str = "haar"  # objects on video frames: haar | none | owlv2[:hf-name] | grounding-dino[:hf-name]
    workers: int = 0
    embed_batch_size: int = 0  # texts per ingest forward pass; 0: 32 on CPU, 512 on GPU
    embedder_precision: str = "auto"  # auto (fp16 on a GPU, fp32 on a CPU) | fp32 | fp16 | bf16
    embed_batch_tokens: int = 0  # padded tokens per ingest forward pass (bounds memory); 0: 512 on CPU, more on GPU
    ray_embed_actors: int = 0  # with `ingest --ray`: embedding actors (0: one per GPU of the cluster, else 1)
    default_collection: str = "default"
    generator: str = "transformers"  # transformers | native | openai
    llm: str = PACKAGED_LLM  # model name or path (or the served model's name for "openai")
    llm_base_url: str = ""  # for generator "openai": e.g. http://127.0.0.1:8000/v1
    reranker: str = "none"  # none | a cross-encoder name/path | llm:PATH
    vector_index: str = "auto"  # auto (pgvector when the database is PostgreSQL with it) | faiss | pgvector
    pgvector_ef_search: int = EF_SEARCH  # HNSW candidates a pgvector search walks (1-1000; more: recall, latency)
    keyword_index: str = "memory"  # memory (BM25 on numpy, a cache of the database) | database (FTS5 / tsvector)
    # auto: quote the passages first when the generator is small (< 1B weights), else generate and quote only
    # when no generated sentence is supported; generate: only generated, checked sentences; extract: quotes only
    answer_mode: str = "auto"

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir).expanduser()
        if not self.database_url:
            self.database_url = f"sqlite:///{self.data_dir / 'longlens.db'}"
        if self.chunk_overlap >= self.chunk_tokens:
            raise ValueError("chunk_overlap must be smaller than chunk_tokens")
        if self.embedder_extension and self.embedder_max_tokens <= 0:
            raise ValueError("embedder_extension needs embedder_max_tokens (the length to stretch the embedder to)")
        if self.embedder_max_tokens and self.chunk_tokens > self.embedder_max_tokens:
            raise ValueError(
                f"chunk_tokens {self.chunk_tokens} is longer than embedder_max_tokens {self.embedder_max_tokens}"
            )
        if self.embed_batch_size < 0:
            raise ValueError("embed_batch_size must be 0 (chosen by device) or a number of texts")
        if self.embedder_precision not in PRECISIONS:
            raise ValueError(
                f"embedder_precision must be one of {', '.join(PRECISIONS)}, not '{self.embedder_precision}'"
            )
        if self.embed_batch_tokens < 0:
            raise ValueError("embed_batch_tokens must be 0 (chosen by device) or a number of tokens")
        if self.vector_index not in ("auto", "faiss", "pgvector"):
            raise ValueError(f"vector_index must be 'auto', 'faiss' or 'pgvector', not '{self.vector_index}'")
        if not 1 <= self.pgvector_ef_search <= MAX_EF_SEARCH:
            raise ValueError(f"pgvector_ef_search must be between 1 and {MAX_EF_SEARCH}, not {self.pgvector_ef_search}")
        if self.keyword_index not in ("memory", "database"):
            raise ValueError(f"keyword_index must be 'memory' or 'database', not '{self.keyword_index}'")
        if self.answer_mode not in ("auto", "generate", "extract"):
            raise ValueError(f"answer_mode must be 'auto', 'generate' or 'extract', not '{self.answer_mode}'")
        if self.workers <= 0:
            self.workers = max(1, min(4, (os.cpu_count() or 2) - 1))

    def parse_options(self) -> ParseOptions:
        """What the parsers need from these settings."""
        return ParseOptions(
            ocr=self.ocr,
            ocr_language=self.ocr_language,
            asr=self.asr,
            asr_model=self.asr_model,
            asr_language=self.asr_language or None,
            detector=self.detector,
        )

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "indexes"

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * 1024 * 1024)

    @classmethod
    def load(cls, data_dir: str | Path | None = None, **overrides: object) -> Settings:
        """Defaults, then `LONGLENS_*` environment variables, then explicit keyword overrides."""
        values: dict[str, object] = {}
        for f in fields(cls):
            env = os.environ.get(f"LONGLENS_{f.name.upper()}")
            if env is not None and f.name != "data_dir":
                values[f.name] = _coerce(env, f.type)
        if data_dir is not None:
            values["data_dir"] = Path(data_dir)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]


def _coerce(raw: str, type_name: object) -> object:
    name = str(type_name)
    if "bool" in name:
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if "int" in name:
        return int(raw)
    if "float" in name:
        return float(raw)
    return raw
