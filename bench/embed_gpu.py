"""Embedding on a GPU (issue 25 step 4): longlens's ingest batches in half precision against the
sentence-transformers `encode` a user would call (fp32, 32 texts a batch), on the same texts and model.

    python bench/embed_gpu.py                                    # packaged MiniLM, 4,000 texts, cuda if there
    python bench/embed_gpu.py --device cpu --texts 64            # the same code on a CPU (a check, not a figure)
    python bench/gpu_assets.py && bench/gpu_session.sh embed     # on the GPU machine (no network, no packages)

Rows: `encode` fp32 (batch 32, ST's own length sort), then longlens's `Embedder` at each precision fed the
batches ingestion makes (`length_batches` with the device's item and token caps), each pass one forward.
Cosine is against the fp32 `encode` vectors, per text (min / 1st percentile / mean). Prints a table and
writes JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import print_table, write_result  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
OUT = Path(__file__).resolve().parent / "out"


def load_texts(path: Path | None, n: int) -> list[str]:
    if path is not None:
        texts = json.loads(path.read_text())
    else:
        from embed_backends import sample_texts

        texts = sample_texts(n)
    while len(texts) < n:  # repeat to the count asked for (speed needs volume, not variety)
        texts = texts + texts
    return texts[:n]


def synchronise(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="packaged:all-MiniLM-L6-v2", help="a sentence-transformers name or folder")
    ap.add_argument("--texts", type=int, default=4000)
    ap.add_argument("--texts-file", type=Path, default=None, help="a JSON list of texts (default: the real sets')")
    ap.add_argument("--device", default="", help="cuda or cpu (default: cuda when there)")
    ap.add_argument("--precisions", nargs="+", default=["fp32", "fp16", "bf16"])
    ap.add_argument("--out", type=Path, default=OUT / "embed_gpu.json")
    args = ap.parse_args(argv)

    import torch

    from longlens.ingest.embed_batches import item_cap, length_batches, token_cap
    from longlens.models.embedder import Embedder, resolve_embedder_path

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    texts = load_texts(args.texts_file, args.texts)
    from sentence_transformers import SentenceTransformer

    path = resolve_embedder_path(args.model)
    st = SentenceTransformer(path, device=device, local_files_only=Path(path).exists(),
                             model_kwargs={"dtype": torch.float32})  # fp32 even from weights saved in fp16
    st.encode(texts[:64], batch_size=32)  # warm-up: kernels, allocator
    synchronise(device)
    t = time.perf_counter()
    reference = st.encode(texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True)
    synchronise(device)
    base_s = time.perf_counter() - t
    rows = [{"pipeline": "ST encode, fp32, batch 32", "seconds": round(base_s, 3),
             "texts_per_s": round(len(texts) / base_s, 1), "x_encode": 1.0, "cosine_min": 1.0, "cosine_p1": 1.0,
             "cosine_mean": 1.0}]
    del st
    lengths = [len(ids) for ids in st_token_ids(path, texts)]
    for precision in args.precisions:
        emb = Embedder(args.model, device=device, precision=precision)
        batches = list(length_batches(lengths, item_cap(0, device), token_cap(0, device)))
        emb.encode(texts[:64], batch_size=64)
        synchronise(device)
        vectors = np.empty_like(reference)
        t = time.perf_counter()
        for part in batches:
            vectors[part] = emb.encode([texts[i] for i in part], batch_size=len(part))
        synchronise(device)
        seconds = time.perf_counter() - t
        cosine = np.sum(vectors * reference, axis=1)
        rows.append({"pipeline": f"longlens Embedder, {precision}, ingest batches ({len(batches)} passes)",
                     "seconds": round(seconds, 3), "texts_per_s": round(len(texts) / seconds, 1),
                     "x_encode": round(base_s / seconds, 2), "cosine_min": round(float(cosine.min()), 5),
                     "cosine_p1": round(float(np.percentile(cosine, 1)), 5),
                     "cosine_mean": round(float(cosine.mean()), 5)})
        del emb
        if device.startswith("cuda"):
            torch.cuda.empty_cache()
    name = torch.cuda.get_device_name() if device.startswith("cuda") else "cpu"
    print_table(f"Embedding {len(texts)} texts on {name} ({args.model})", rows)
    result = {"device": name, "texts": len(texts), "mean_tokens": float(np.mean(lengths)), "rows": rows,
              "date": time.strftime("%Y-%m-%d")}
    write_result(result, args.out)
    return result


def st_token_ids(path: str, texts: list[str]) -> list[list[int]]:
    """Token ids as the ingest counts them (no special tokens), capped at the model's 256."""
    from longlens.models.embedder import load_tokenizer

    tok = load_tokenizer(path)
    if hasattr(tok, "encode_batch"):
        return [e.ids[:256] for e in tok.encode_batch(texts, add_special_tokens=False)]
    return [ids[:256] for ids in tok(texts, add_special_tokens=False)["input_ids"]]


if __name__ == "__main__":
    main()
