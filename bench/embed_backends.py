"""Cheaper CPU embedding, measured before it is built (issue 25 step 2): sentence-transformers `encode` against
ONNX Runtime in fp32 and int8 (dynamic quantisation), on real chunks, speed and cosine to the fp32 vectors.

    .venv/bin/python bench/embed_backends.py               # 400 chunks of the real sets
    .venv/bin/python bench/embed_backends.py --texts 2000  # more

Needs `pip install onnx onnxruntime` (not project dependencies). The packaged MiniLM's transformer is exported
once to ONNX (bench/out/onnx/), optimised with ONNX Runtime's BERT fusions, and quantised two ways: every
MatMul, and every MatMul but the feed-forward output projections (the layer whose inputs, after GELU, carry
the outliers int8 rounds worst). Each variant embeds the same texts, longest first in batches of 32, with
mean pooling and L2 normalisation as the sentence-transformers model does. The texts are the chunks
longlens stores for the real sets (bench/retrieval_lab.py's cache), else generated prose.
Prints a table and writes bench/out/embed_backends.json; the CPU's vector extensions are printed with it,
since int8 speed depends on them (VNNI / AVX-512 / AMX or only AVX2).
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import print_table  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
OUT = Path(__file__).resolve().parent / "out"
LAB_CACHE = OUT / "retrieval_lab.pkl"


def cpu_flags() -> str:
    try:
        flags = next(line for line in open("/proc/cpuinfo") if line.startswith("flags")).split()
    except (OSError, StopIteration):
        return "unknown"
    wanted = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8", "amx_bf16")
    return " ".join(f for f in wanted if f in flags) or "none of avx2/avx512/vnni/amx"


def sample_texts(n: int) -> list[str]:
    if LAB_CACHE.exists():
        rows = pickle.loads(LAB_CACHE.read_bytes())
        return list(dict.fromkeys(t for r in rows for t in r["texts"]))[:n]
    from ingest_pdf import essay_text

    words = essay_text().split()
    return [" ".join(words[i : i + 160]) for i in range(0, 160 * n, 160)][:n]


def export(st, folder: Path) -> dict[str, Path]:
    """ONNX files of the model: plain fp32, BERT-fused fp32, int8 everywhere, int8 but the FFN outputs."""
    import onnx
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers import optimizer

    folder.mkdir(parents=True, exist_ok=True)
    plain, fused = folder / "fp32.onnx", folder / "fp32-fused.onnx"
    if not plain.exists():
        bert = st[0].auto_model.eval()

        class Hidden(torch.nn.Module):  # keyword arguments: positional ones clash with transformers 5's forward
            def __init__(self, model: torch.nn.Module) -> None:
                super().__init__()
                self.model = model

            def forward(self, input_ids, attention_mask, token_type_ids):  # noqa: ANN001, ANN201
                return self.model(input_ids=input_ids, attention_mask=attention_mask,
                                  token_type_ids=token_type_ids).last_hidden_state

        enc = st.tokenizer(["a warm-up sentence", "two"], return_tensors="pt", padding=True)
        axes = {"b": 0, "s": 1}
        names = ["input_ids", "attention_mask", "token_type_ids"]
        torch.onnx.export(Hidden(bert), tuple(enc[n] for n in names), str(plain), input_names=names,
                          output_names=["hidden"], opset_version=17, dynamo=False,
                          dynamic_axes={n: {v: k for k, v in axes.items()} for n in [*names, "hidden"]})
    if not fused.exists():
        cfg = st[0].auto_model.config
        optimizer.optimize_model(str(plain), model_type="bert", num_heads=cfg.num_attention_heads,
                                 hidden_size=cfg.hidden_size).save_model_to_file(str(fused))
    out = {"ONNX Runtime fp32": plain, "ONNX Runtime fp32, BERT fusions": fused}
    matmuls = [n.name for n in onnx.load(str(fused)).graph.node if n.op_type == "MatMul"]
    ffn_out = [n for n in matmuls if "output/dense" in n and "attention" not in n]
    for label, exclude in (("int8, every MatMul", []), ("int8, FFN outputs in fp32", ffn_out)):
        path = folder / f"{label.split(',')[0]}-{len(exclude)}.onnx"
        if not path.exists():
            quantize_dynamic(str(fused), str(path), weight_type=QuantType.QInt8, per_channel=True,
                             nodes_to_exclude=exclude, extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
        out[f"ONNX Runtime {label}"] = path
    return out


def encode_onnx(session, tokenizer, texts: list[str], max_len: int, batch: int = 32) -> np.ndarray:
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    out: np.ndarray | None = None
    feeds = {i.name for i in session.get_inputs()}
    for start in range(0, len(order), batch):
        part = order[start : start + batch]
        enc = tokenizer([texts[i] for i in part], padding=True, truncation=True, max_length=max_len,
                        return_tensors="np")
        hidden = session.run(None, {k: enc[k].astype(np.int64) for k in feeds})[0]
        mask = enc["attention_mask"][..., None].astype(np.float32)
        vecs = (hidden * mask).sum(1) / mask.sum(1)
        if out is None:
            out = np.empty((len(texts), vecs.shape[1]), dtype=np.float32)
        out[part] = vecs / np.linalg.norm(vecs, axis=1, keepdims=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--texts", type=int, default=400)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--out", type=Path, default=OUT / "embed_backends.json")
    args = ap.parse_args()
    try:
        import onnxruntime as ort
    except ImportError:
        raise SystemExit("needs ONNX Runtime: pip install onnx onnxruntime") from None
    from sentence_transformers import SentenceTransformer

    from longlens.models.embedder import DEFAULT_EMBEDDER, resolve_embedder_path

    st = SentenceTransformer(resolve_embedder_path(DEFAULT_EMBEDDER), device="cpu")
    texts = sample_texts(args.texts)
    files = export(st, OUT / "onnx")
    st.encode(texts[:8])
    t0 = time.perf_counter()
    ref = st.encode(texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True)
    base_s = time.perf_counter() - t0
    rows = [{"backend": "sentence-transformers encode (torch fp32)", "seconds": base_s, "x_encode": 1.0,
             "cos_min": 1.0, "cos_p1": 1.0, "cos_mean": 1.0}]
    for label, path in files.items():
        so = ort.SessionOptions()
        so.intra_op_num_threads = args.threads
        session = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        encode_onnx(session, st.tokenizer, texts[:8], st.max_seq_length)
        t0 = time.perf_counter()
        vecs = encode_onnx(session, st.tokenizer, texts, st.max_seq_length)
        took = time.perf_counter() - t0
        cos = (vecs * ref).sum(1)
        rows.append({"backend": label, "seconds": took, "x_encode": base_s / took, "cos_min": float(cos.min()),
                     "cos_p1": float(np.percentile(cos, 1)), "cos_mean": float(cos.mean())})
    title = f"Embedding {len(texts)} real chunks on {args.threads} threads (CPU: {cpu_flags()})"
    print_table(title, rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"rows": rows, "texts": len(texts), "cpu_flags": cpu_flags(),
                                    "date": time.strftime("%Y-%m-%d")}, indent=2))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
