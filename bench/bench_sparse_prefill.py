"""Vertical-slash sparse prefill vs dense, on a GPU: attention alone, estimation overhead, crossover, TTFT.

Shapes are Qwen2.5-7B's (28 q heads, 4 kv heads, head dim 128, bf16). Attention-alone rows time, per length,
the pattern estimation (last 64 queries over all keys), the block-index building and the sparse Triton kernel
separately, against our dense Triton kernel (kernels.prefill_attention) and torch SDPA (FLASH_ATTENTION and
the default backend, named). The sparse kernel is checked against its PyTorch reference on the last 256
query rows before timing; `kept` is the share of causal (query, key) pairs those rows compute.

Inputs: "structured" (default) gives every head what trained long-context heads show (an attention sink, a
local band decaying with distance through RoPE, a few hot keys), so the estimated pattern has the realistic
shape; "random" gives scattered slashes, the kernel's worst case. The end-to-end row times the first token of
one 128k prompt through the engine with random weights in the real Qwen2.5-7B configuration, sparse vs dense.

    python bench/bench_sparse_prefill.py                  # GPU: tables + bench/out/sparse_prefill.json
    python bench/bench_sparse_prefill.py --seqs 32768 131072 --no-e2e
    python bench/bench_sparse_prefill.py --tiny           # CPU (Triton interpreter): correctness only
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import bench_ms, print_table, write_checked  # noqa: E402

HQ, HKV, D = 28, 4, 128
SEQS = [4096, 8192, 16384, 32768, 65536, 131072, 262144]
CHECK_ROWS = 256
QWEN25_7B = {  # config.json of Qwen2.5-7B-Instruct (weights random here)
    "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_size": 3584, "intermediate_size": 18944,
    "num_hidden_layers": 28, "num_attention_heads": 28, "num_key_value_heads": 4, "max_position_embeddings": 32768,
    "rope_theta": 1000000.0, "rms_norm_eps": 1e-6, "vocab_size": 152064, "tie_word_embeddings": False,
    "rope_scaling": {"type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32768},
}


def _ms(fn, device: str) -> float:  # noqa: ANN001
    """Median ms with fewer repetitions than the default: the long shapes take 100+ ms a call."""
    return bench_ms(fn, device, warmup=10, rep=50)


def make_inputs(torch, n: int, hq: int, hkv: int, d: int, kind: str, device: str, seed: int = 0):
    """q [n, hq, d], k/v [n, hkv, d] in bf16; see the module docstring for the two kinds."""
    from longlens.kernels.rotary import apply_rotary_torch, build_cos_sin_cache, rope_inv_freq

    g = torch.Generator(device=device).manual_seed(seed)
    randn = lambda *s: torch.randn(*s, device=device, generator=g)  # noqa: E731
    if kind == "random":
        q, k = randn(n, hq, d), randn(n, hkv, d)
    else:
        content = randn(hkv, d)
        k = content[None] + 0.3 * randn(n, hkv, d)
        q = 2.5 * content.repeat_interleave(hq // hkv, 0)[None] + 0.3 * randn(n, hq, d)
        inv, _ = rope_inv_freq(d, 1e6, None, n)
        q, k = apply_rotary_torch(q, k, torch.arange(n, device=device), build_cos_sin_cache(inv, n, device=device))
        u = randn(d)
        u = u / u.norm()
        hot = torch.randint(4, n, (max(1, n // 2048),), device=device, generator=g)
        k[:4] += 8.0 * u  # attention sink
        k[hot] += 5.0 * u
        q += 1.5 * u
    return q.bfloat16(), k.bfloat16(), randn(n, hkv, d).bfloat16()


def _sdpa_backend_name(torch, fn) -> str:
    """The kernel SDPA's default dispatch launched (bench_attention's profiler lookup)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_attention import _default_backend_name

    return _default_backend_name(torch, fn)


def _kept_share(torch, pattern, lq: int, lk: int, block_m: int) -> float:
    from longlens.kernels.vertical_slash import pattern_mask

    rows = torch.arange(lq - min(CHECK_ROWS, lq), lq, device=pattern.vertical.device)
    mask = pattern_mask(pattern, rows, lq, lk, block_m)
    return float(mask.sum().item() / (mask.shape[0] * (rows + lk - lq + 1).sum().item()))


def bench_attention(torch, device: str, seqs: list[int], hq: int, hkv: int, d: int, kind: str,
                    sdpa: bool) -> list[dict]:
    import torch.nn.functional as F
    from torch.nn.attention import SDPBackend, sdpa_kernel

    from longlens.kernels.prefill_attention import prefill_attention
    from longlens.kernels.sparse_prefill import (
        default_block_n,
        sparse_prefill_attention,
        sparse_prefill_attention_torch,
    )
    from longlens.kernels.vertical_slash import (
        VerticalSlashConfig,
        build_vertical_slash_index,
        estimate_vertical_slash,
    )

    cfg = VerticalSlashConfig() if device == "cuda" else VerticalSlashConfig(
        last_q=16, sink=2, local=8, vertical_min=8, slash_min=8, block_m=16)
    bm, bn = cfg.block_m, default_block_n()
    rows = []
    for s in seqs:
        q, k, v = make_inputs(torch, s, hq, hkv, d, kind, device, seed=s)
        est = lambda: estimate_vertical_slash(q, k, cfg)  # noqa: B023
        pattern = est()
        build = lambda: build_vertical_slash_index(pattern, s, s, bm, bn)  # noqa: B023
        index = build()
        sparse = lambda: sparse_prefill_attention(q, k, v, pattern, block_m=bm, block_n=bn, index=index)  # noqa: B023
        out = sparse()
        tail = min(CHECK_ROWS, s)
        ref = sparse_prefill_attention_torch(q[s - tail:], k, v, pattern, block_m=bm)
        err = float((out[s - tail:].float() - ref.float()).abs().max().item())
        ok = bool(torch.allclose(out[s - tail:].float(), ref.float(), atol=2e-2, rtol=2e-2)) and s % bm == 0
        del ref
        cu = torch.tensor([0, s], dtype=torch.int32, device=device)
        dense = lambda: prefill_attention(q, k, v, cu, cu, s, s, causal=True)  # noqa: B023
        row = {"seq": s, "inputs": kind, "kept": _kept_share(torch, pattern, s, s, bm), "max_err_vs_ref": err,
               "allclose": ok, "estimate_ms": _ms(est, device), "index_ms": _ms(build, device),
               "sparse_kernel_ms": _ms(sparse, device), "dense_ours_ms": _ms(dense, device)}
        row["sparse_total_ms"] = row["estimate_ms"] + row["index_ms"] + row["sparse_kernel_ms"]
        if device == "cuda" and sdpa:
            qs = q.transpose(0, 1)[None]
            ks = k.transpose(0, 1)[None].repeat_interleave(hq // hkv, 1)
            vs = v.transpose(0, 1)[None].repeat_interleave(hq // hkv, 1)
            fn = lambda: F.scaled_dot_product_attention(qs, ks, vs, is_causal=True)  # noqa: B023
            with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
                row["sdpa_flash_ms"] = _ms(fn, device)
            row["sdpa_default_ms"] = _ms(fn, device)
            row["sdpa_default_backend"] = _sdpa_backend_name(torch, fn)
            del qs, ks, vs
        row["speedup_vs_dense_ours"] = row["dense_ours_ms"] / row["sparse_total_ms"]
        rows.append(row)
    return rows


def crossover(rows: list[dict]) -> int | None:
    """Smallest measured length from which sparse (estimate + index + kernel) beats our dense kernel."""
    best = None
    for r in sorted(rows, key=lambda r: -r["seq"]):
        if r["sparse_total_ms"] < r["dense_ours_ms"]:
            best = r["seq"]
        else:
            break
    return best


def bench_ttft(torch, length: int, threshold: int, chunk: int) -> list[dict]:
    """Time to first token of one random prompt, random-weight Qwen2.5-7B, dense vs sparse (2nd run each)."""
    from longlens.models.llm import LLM, SamplingParams
    from longlens.models.llm.config import ModelConfig

    rows = []
    sync = torch.cuda.synchronize if torch.cuda.is_available() else (lambda: None)
    vocab = QWEN25_7B["vocab_size"]
    ids = torch.randint(0, vocab - 100, (length,), generator=torch.Generator().manual_seed(0)).tolist()
    for sparse in (False, True):
        llm = LLM(None, model_config=ModelConfig.from_dict(QWEN25_7B), load_format="dummy",
                  max_model_len=length + 64, kv_cache_tokens=length + 64, max_num_batched_tokens=chunk,
                  sparse_prefill=sparse, sparse_prefill_threshold=threshold)
        try:
            times = []
            for _ in range(2):  # the first run compiles the kernels
                sync()
                t = time.perf_counter()
                llm.generate([ids], SamplingParams(max_tokens=1, ignore_eos=True))
                sync()
                times.append(time.perf_counter() - t)
        finally:
            llm.close()
        rows.append({"prompt_tokens": length, "sparse": sparse, "threshold": threshold, "chunk": chunk,
                     "ttft_s": times[-1], "first_run_s": times[0]})
        del llm
        gc.collect()  # the first engine's weights and KV cache must go before the second one sizes its own
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    rows[1]["speedup"] = rows[0]["ttft_s"] / rows[1]["ttft_s"]
    return rows


def _fits(torch, s: int, hq: int, hkv: int, d: int) -> bool:
    """Rough memory check: q/k/v/out, SDPA's expanded K/V and the fp32 estimation block, with headroom."""
    need = 2 * s * d * (2 * hq + 2 * hkv) + 2 * 2 * s * hq * d + 4 * (1 << 27) * 2
    return need < 0.7 * torch.cuda.mem_get_info()[0]


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tiny", action="store_true", help="toy sizes on CPU through TRITON_INTERPRET")
    ap.add_argument("--seqs", type=int, nargs="*", default=None)
    ap.add_argument("--inputs", choices=["structured", "random"], default="structured")
    ap.add_argument("--no-sdpa", action="store_true")
    ap.add_argument("--no-e2e", action="store_true", help="skip the end-to-end TTFT rows")
    ap.add_argument("--e2e-len", type=int, default=131000, help="prompt tokens (YaRN x4 reaches 131072)")
    ap.add_argument("--e2e-chunk", type=int, default=16384, help="max_num_batched_tokens of the TTFT engine")
    ap.add_argument("--threshold", type=int, default=32768, help="sparse_prefill_threshold of the TTFT engine")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "out" / "sparse_prefill.json")
    args = ap.parse_args(argv)

    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu":
        if not args.tiny:
            sys.exit("bench_sparse_prefill.py needs a CUDA GPU (none found); --tiny runs a CPU correctness check")
        os.environ.setdefault("TRITON_INTERPRET", "1")  # before any kernel is built (kernels jit lazily)
    if args.tiny:
        hq, hkv, d, seqs = 7, 1, 32, [96]
    else:
        hq, hkv, d = HQ, HKV, D
        seqs = [s for s in (args.seqs or SEQS) if device != "cuda" or _fits(torch, s, hq, hkv, d)]
    result = {
        "device": torch.cuda.get_device_name() if device == "cuda" else "cpu (triton interpreter)",
        "torch": torch.__version__,
        "command": " ".join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])]),
        "shapes": {"q_heads": hq, "kv_heads": hkv, "head_dim": d, "dtype": "bfloat16"},
        "attention": bench_attention(torch, device, seqs, hq, hkv, d, args.inputs, not args.no_sdpa),
    }
    try:
        import triton

        result["triton"] = triton.__version__
    except ImportError:
        pass
    result["crossover_seq"] = crossover(result["attention"])
    if device == "cuda" and not args.no_e2e and not args.tiny:
        result["ttft"] = bench_ttft(torch, args.e2e_len, args.threshold, args.e2e_chunk)
    print(f"{result['device']}, inputs={args.inputs}")
    print_table("attention alone (causal, bf16; ms)", result["attention"])
    print(f"\ncrossover (sparse total < dense ours from here on): {result['crossover_seq']}")
    print_table("time to first token (random-weight Qwen2.5-7B)", result.get("ttft", []))
    return write_checked(result, args.out, result["attention"])


if __name__ == "__main__":
    res = main()
    sys.exit(1 if res.get("failed") else 0)
