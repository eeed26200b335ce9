"""Attention benchmark: our Triton prefill and paged-decode kernels vs torch SDPA, on a GPU.

Shapes are Qwen2.5-7B-Instruct's (28 q heads, 4 kv heads, head dim 128, bf16). Prefill is causal at 4k-64k
against SDPA pinned to FLASH_ATTENTION and against SDPA's default backend (named via the profiler); decode
runs over a paged cache at 1k/32k/128k context, batch 1 and 16, against SDPA on a contiguous cache. Every
output is checked against the PyTorch reference before timing. Medians via `triton.testing.do_bench`;
TFLOP/s vs a bf16 matmul peak and GB/s vs a copy bandwidth, both measured in the same run.

    python bench/bench_attention.py            # GPU: table + bench/out/attention.json
    python bench/bench_attention.py --tiny     # CPU (Triton interpreter) toy sizes: correctness only
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import bench_ms, print_table, write_checked  # noqa: E402

HQ, HKV, D = 28, 4, 128
PREFILL_SEQS = [4096, 16384, 32768, 65536]
DECODE_CTX = [1024, 32768, 131072]
DECODE_BATCH = [1, 16]
PAGE = 16


def _matmul_peak_tflops(torch, device: str) -> float:
    n = 8192 if device == "cuda" else 128
    a = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    b = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    ms = bench_ms(lambda: a @ b, device)
    return 2 * n**3 / (ms * 1e-3) / 1e12


def _copy_gbps(torch, device: str) -> float:
    n = (1 << 30) if device == "cuda" else (1 << 20)
    x = torch.empty(n, dtype=torch.uint8, device=device)
    y = torch.empty_like(x)
    ms = bench_ms(lambda: y.copy_(x), device)
    return 2 * n / (ms * 1e-3) / 1e9


def _default_backend_name(torch, fn) -> str:
    """The CUDA kernel SDPA's default dispatch actually launched (cuDNN, flash, mem-efficient...)."""
    try:
        from torch.profiler import ProfilerActivity, profile

        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            fn()
            torch.cuda.synchronize()
        evs = [e for e in prof.key_averages() if e.device_type.name == "CUDA"]
        top = max(evs, key=lambda e: e.device_time_total).key if evs else "unknown"
    except Exception as exc:  # profiler unavailable: say so rather than guess
        return f"unknown ({type(exc).__name__})"
    low = top.lower()
    kind = (
        "cudnn"
        if "cudnn" in low
        else "flash"
        if "flash" in low
        else "mem-efficient"
        if "fmha" in low
        else "?"
    )
    return f"{kind}: {top[:80]}"


def _max_err(a, b) -> float:
    return float((a.float() - b.float()).abs().max().item())


def bench_prefill(torch, device: str, seqs: list[int], hq: int, hkv: int, d: int, peak: float) -> list[dict]:
    import torch.nn.functional as F
    from torch.nn.attention import SDPBackend, sdpa_kernel

    from longlens.kernels.prefill_attention import prefill_attention, prefill_attention_torch

    rows = []
    dtype = torch.bfloat16
    for s in seqs:
        g = torch.Generator(device=device).manual_seed(s)
        q = torch.randn(s, hq, d, device=device, dtype=dtype, generator=g)
        k = torch.randn(s, hkv, d, device=device, dtype=dtype, generator=g)
        v = torch.randn(s, hkv, d, device=device, dtype=dtype, generator=g)
        cu = torch.tensor([0, s], dtype=torch.int32, device=device)
        ours = lambda: prefill_attention(q, k, v, cu, cu, s, s, causal=True)  # noqa: B023
        out = ours()
        ref = prefill_attention_torch(q, k, v, cu, cu, s, s, causal=True)
        err = _max_err(out, ref)
        ok = bool(torch.allclose(out.float(), ref.float(), atol=2e-2, rtol=2e-2))
        # SDPA wants [B, H, S, D]; kv expanded to all q heads outside the timed region (flash has no GQA arg)
        qs, ks, vs = q.transpose(0, 1)[None], k.transpose(0, 1)[None], v.transpose(0, 1)[None]
        ks, vs = ks.repeat_interleave(hq // hkv, 1), vs.repeat_interleave(hq // hkv, 1)
        sdpa = lambda: F.scaled_dot_product_attention(qs, ks, vs, is_causal=True)  # noqa: B023
        flops = 4 * s * s * d * hq / 2
        row = {"seq": s, "max_err_vs_ref": err, "allclose": ok, "ours_ms": bench_ms(ours, device)}
        if device == "cuda":
            with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
                row["sdpa_flash_ms"] = bench_ms(sdpa, device)
            row["sdpa_default_ms"] = bench_ms(sdpa, device)
            row["sdpa_default_backend"] = _default_backend_name(torch, sdpa)
        for key in ("ours", "sdpa_flash", "sdpa_default"):
            if f"{key}_ms" in row:
                tf = flops / (row[f"{key}_ms"] * 1e-3) / 1e12
                row[f"{key}_tflops"] = tf
                row[f"{key}_pct_peak"] = 100 * tf / peak
        rows.append(row)
    return rows


def _paged_cache(torch, device: str, batch: int, ctx: int, hkv: int, d: int, dtype):
    nblk = math.ceil(ctx / PAGE)
    g = torch.Generator(device=device).manual_seed(ctx + batch)
    k = torch.randn(batch * nblk, PAGE, hkv, d, device=device, dtype=dtype, generator=g)
    v = torch.randn(batch * nblk, PAGE, hkv, d, device=device, dtype=dtype, generator=g)
    perm = torch.randperm(batch * nblk, device=device, generator=g).to(torch.int32)
    return k, v, perm.view(batch, nblk)


def bench_decode(
    torch, device: str, ctxs: list[int], batches: list[int], hq: int, hkv: int, d: int, bw: float
) -> list[dict]:
    import torch.nn.functional as F

    from longlens.kernels.paged_attention import gather_kv, paged_decode_attention, paged_decode_attention_torch

    rows = []
    dtype = torch.bfloat16
    for ctx in ctxs:
        for b in batches:
            kc, vc, bt = _paged_cache(torch, device, b, ctx, hkv, d, dtype)
            cl = torch.full((b,), ctx, dtype=torch.int32, device=device)
            q = torch.randn(b, hq, d, device=device, dtype=dtype)
            ours = lambda: paged_decode_attention(q, kc, vc, bt, cl, max_context=ctx)  # noqa: B023
            out = ours()
            ref = paged_decode_attention_torch(q, kc, vc, bt, cl)
            err = _max_err(out, ref)
            ok = bool(torch.allclose(out.float(), ref.float(), atol=2e-2, rtol=2e-2))
            del ref
            # contiguous cache for SDPA; GQA decode as `group` query rows per kv head (no kv expansion)
            kd = torch.stack([gather_kv(kc, bt[i], ctx) for i in range(b)]).transpose(1, 2).contiguous()
            vd = torch.stack([gather_kv(vc, bt[i], ctx) for i in range(b)]).transpose(1, 2).contiguous()
            qg = q.view(b, hkv, hq // hkv, d)
            sdpa = lambda: F.scaled_dot_product_attention(qg, kd, vd)  # noqa: B023
            err_sdpa = _max_err(sdpa().reshape(b, hq, d), out)
            nbytes = 2 * b * ctx * hkv * d * kc.element_size()
            row = {
                "ctx": ctx,
                "batch": b,
                "max_err_vs_ref": err,
                "max_err_vs_sdpa": err_sdpa,
                "allclose": ok,
                "ours_ms": bench_ms(ours, device),
                "sdpa_ms": bench_ms(sdpa, device),
            }
            for key in ("ours", "sdpa"):
                gbps = nbytes / (row[f"{key}_ms"] * 1e-3) / 1e9
                row[f"{key}_gbps"] = gbps
                row[f"{key}_pct_copy_bw"] = 100 * gbps / bw
            rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tiny", action="store_true", help="toy sizes on CPU through TRITON_INTERPRET")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "out" / "attention.json")
    ap.add_argument("--prefill-seqs", type=int, nargs="*", default=None)
    ap.add_argument("--decode-ctx", type=int, nargs="*", default=None)
    args = ap.parse_args(argv)

    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"  # --tiny on a GPU: toy sizes on the GPU
    if device == "cpu":
        if not args.tiny:
            sys.exit("no GPU: run with --tiny for the CPU correctness check")
        os.environ.setdefault("TRITON_INTERPRET", "1")  # before any kernel is built (kernels jit lazily)
    if args.tiny:
        hq, hkv, d = 7, 1, 32  # Qwen's 7:1 group at toy size
        seqs, ctxs, batches = [45], [37, 48], [1, 3]
    else:
        hq, hkv, d = HQ, HKV, D
        seqs, ctxs, batches = PREFILL_SEQS, DECODE_CTX, DECODE_BATCH
    seqs = args.prefill_seqs or seqs
    ctxs = args.decode_ctx or ctxs
    peak = _matmul_peak_tflops(torch, device)
    bw = _copy_gbps(torch, device)
    result = {
        "device": torch.cuda.get_device_name() if device == "cuda" else "cpu (triton interpreter)",
        "torch": torch.__version__,
        "shapes": {"q_heads": hq, "kv_heads": hkv, "head_dim": d, "dtype": "bfloat16", "page": PAGE},
        "bf16_matmul_peak_tflops": peak,
        "copy_bandwidth_gbps": bw,
        "prefill": bench_prefill(torch, device, seqs, hq, hkv, d, peak),
        "decode": bench_decode(torch, device, ctxs, batches, hq, hkv, d, bw),
    }
    try:
        import triton

        result["triton"] = triton.__version__
    except ImportError:
        pass
    print(f"{result['device']}: bf16 matmul peak {peak:.1f} TFLOP/s, copy {bw:.1f} GB/s")
    print_table("prefill (causal, bf16)", result["prefill"])
    print_table("paged decode (bf16)", result["decode"])
    return write_checked(result, args.out, result["prefill"] + result["decode"])


if __name__ == "__main__":
    res = main()
    sys.exit(1 if res.get("failed") else 0)
