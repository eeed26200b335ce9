"""Native engine benchmark: decode speed, time to first token, concurrency, vs HF transformers generate.

CPU: the packaged SmolLM2 (real weights), batch 1, same prompt and token count for both.
GPU (CUDA): random weights in Qwen2.5-7B-Instruct's real shape (bf16), decode at 1k/32k/128k context,
roofline % against measured copy bandwidth, TTFT with chunked prefill, 16 concurrent requests vs sequential.
Prints a table and writes JSON (default bench/out/engine.json). `--tiny` is a quick smoke run.

    python bench/bench_engine.py            # full (GPU part only where CUDA is present)
    python bench/bench_engine.py --tiny     # seconds on a CPU
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")

# Qwen2.5-7B-Instruct config.json values (written here: no weights can reach the benchmark machine)
QWEN25_7B: dict[str, Any] = {
    "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_size": 3584, "num_hidden_layers": 28,
    "num_attention_heads": 28, "num_key_value_heads": 4, "intermediate_size": 18944, "vocab_size": 152064,
    "rope_theta": 1000000.0, "rms_norm_eps": 1e-6, "max_position_embeddings": 131072,
    "tie_word_embeddings": False, "eos_token_id": 151645,
}
QWEN_TINY: dict[str, Any] = {**QWEN25_7B, "hidden_size": 256, "num_hidden_layers": 2, "num_attention_heads": 4,
                             "num_key_value_heads": 2, "intermediate_size": 512, "vocab_size": 1024}


def _sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def time_engine(llm: Any, ids: list[int], new_tokens: int) -> dict[str, float]:
    """TTFT and decode tokens/s of one request through the streaming path."""
    from longlens.models.llm import SamplingParams

    sp = SamplingParams(max_tokens=new_tokens, ignore_eos=True)
    t0 = time.perf_counter()
    first = None
    n = 0
    for out in llm.stream_outputs(ids, sp):
        if first is None:
            first = time.perf_counter()
        n = len(out.outputs[0].token_ids)
    end = time.perf_counter()
    return {"ttft_s": first - t0, "decode_tok_s": (n - 1) / max(end - first, 1e-9), "new_tokens": n}


def time_hf(model: Any, ids: list[int], new_tokens: int) -> dict[str, float]:
    """TTFT and decode tokens/s of HF generate, from timestamps taken as each token's logits are ready
    (a logits processor), i.e. measured the same way as the engine's stream."""
    from transformers import LogitsProcessor, LogitsProcessorList

    stamps: list[float] = []

    class Stamp(LogitsProcessor):
        def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
            _sync()
            stamps.append(time.perf_counter())
            return scores

    x = torch.tensor([ids], device=model.device)
    _sync()
    t0 = time.perf_counter()
    with torch.inference_mode():
        model.generate(x, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False, pad_token_id=0,
                       eos_token_id=None, logits_processor=LogitsProcessorList([Stamp()]))
    _sync()
    end = time.perf_counter()
    n = len(stamps)
    return {"ttft_s": stamps[0] - t0, "decode_tok_s": (n - 1) / max(end - stamps[0], 1e-9), "new_tokens": n}


REPEATS = 3
"""CPU runs per side: a shared VM's speed drifts by several percent between single runs."""


def median_runs(runs: list[dict[str, float]]) -> dict[str, float]:
    """Each figure's median over the runs."""
    return {key: float(statistics.median(r[key] for r in runs)) for key in runs[0]}


def bench_cpu(tiny: bool) -> list[dict[str, Any]]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from longlens.models.llm import LLM
    from longlens.models.packaged import packaged_llm_path

    path = packaged_llm_path()
    tok = AutoTokenizer.from_pretrained(str(path))
    new = 8 if tiny else 64
    prompt = "Summarize the following notes.\n" + "The meeting covered budget, hiring and the office move. " * (
        4 if tiny else 40)
    ids = tok.encode(prompt, add_special_tokens=False)
    llm = LLM(path, tokenizer=tok, device="cpu", kv_cache_tokens=4096)
    try:
        time_engine(llm, ids[:8], 2)  # warm-up
        ours = median_runs([time_engine(llm, ids, new) for _ in range(REPEATS)])
    finally:
        llm.close()
    hf = AutoModelForCausalLM.from_pretrained(str(path), dtype=torch.float32, attn_implementation="sdpa").eval()
    time_hf(hf, ids[:8], 2)
    ref = median_runs([time_hf(hf, ids, new) for _ in range(REPEATS)])
    row = {"case": "cpu smollm2-135m fp32 b=1", "prompt_tokens": len(ids), "engine": ours, "hf_sdpa": ref,
           "speedup_decode": ours["decode_tok_s"] / ref["decode_tok_s"], "threads": torch.get_num_threads()}
    return [row]


def copy_bandwidth() -> float:
    """Measured device memory bandwidth (bytes/s): read + write of a 1 GiB copy."""
    a = torch.empty(1 << 29, dtype=torch.bfloat16, device="cuda")
    b = torch.empty_like(a)
    for _ in range(3):
        b.copy_(a)
    _sync()
    t = time.perf_counter()
    for _ in range(10):
        b.copy_(a)
    _sync()
    bw = 2 * a.numel() * a.element_size() * 10 / (time.perf_counter() - t)
    del a, b
    return bw


def bench_gpu(tiny: bool) -> list[dict[str, Any]]:
    from longlens.models.llm import LLM, SamplingParams
    from longlens.models.llm.config import ModelConfig

    cfg_dict = QWEN_TINY if tiny else QWEN25_7B
    contexts = [256, 1024] if tiny else [1024, 32768, 131072 - 256]
    new = 16 if tiny else 64
    bw = copy_bandwidth()
    rows: list[dict[str, Any]] = []
    llm = LLM(None, model_config=ModelConfig.from_dict(cfg_dict), load_format="dummy", dtype="bfloat16",
              max_num_batched_tokens=2048, max_model_len=131072)
    runner = llm.engine.runner
    weight_bytes = sum(p.numel() * p.element_size() for p in runner.model.parameters())
    kv_per_tok = runner._kv_bytes_per_token()
    g = torch.Generator().manual_seed(0)
    vocab = cfg_dict["vocab_size"]
    prompts = {c: torch.randint(0, vocab, (c,), generator=g).tolist() for c in contexts}
    try:
        time_engine(llm, prompts[contexts[0]][:64], 4)
        for c in contexts:
            r = time_engine(llm, prompts[c], new)
            per_tok_bytes = weight_bytes + kv_per_tok * (c + new // 2)
            rows.append({"case": f"gpu engine ctx={c}", "engine": r,
                         "roofline_pct": 100 * per_tok_bytes * r["decode_tok_s"] / bw})
        # 16 concurrent requests (1k prompts) vs the same 16 one after another
        reqs = [torch.randint(0, vocab, (1024,), generator=g).tolist() for _ in range(16)]
        sp = SamplingParams(max_tokens=new * 2, ignore_eos=True)
        _sync()
        t = time.perf_counter()
        llm.generate(reqs, sp)
        _sync()
        conc = 16 * sp.max_tokens / (time.perf_counter() - t)
        t = time.perf_counter()
        for r in reqs[:4]:
            llm.generate([r], sp)
        _sync()
        seq = 4 * sp.max_tokens / (time.perf_counter() - t)
        rows.append({"case": "gpu 16 concurrent vs sequential (1k prompts)", "concurrent_tok_s": conc,
                     "sequential_tok_s": seq, "speedup": conc / seq})
        state = {k: v.cpu() for k, v in runner.model.state_dict().items()}
    finally:
        llm.close()
        del llm, runner
        gc.collect()
        torch.cuda.empty_cache()
    rows += bench_hf_gpu(cfg_dict, state, prompts, contexts, new, weight_bytes, kv_per_tok, bw)
    return rows


def bench_hf_gpu(cfg_dict: dict, state: dict, prompts: dict, contexts: list[int], new: int, weight_bytes: int,
                 kv_per_tok: int, bw: float) -> list[dict[str, Any]]:
    """The same weights in HF transformers (SDPA), for decode speed and a greedy-token sanity check."""
    from transformers import Qwen2Config, Qwen2ForCausalLM

    cfg = Qwen2Config(**{k: v for k, v in cfg_dict.items() if k not in ("architectures", "model_type")})
    cfg._attn_implementation = "sdpa"
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.bfloat16)
    try:
        with torch.device("cuda"):  # built on the GPU (fast init), then given the engine's weights
            model = Qwen2ForCausalLM(cfg).eval()
    finally:
        torch.set_default_dtype(default)
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not unexpected and all("rotary" in k for k in missing), (missing, unexpected)
    rows = []
    for c in contexts:
        try:
            r = time_hf(model, prompts[c], new)
            per_tok_bytes = weight_bytes + kv_per_tok * (c + new // 2)
            rows.append({"case": f"gpu hf-sdpa ctx={c}", "hf_sdpa": r,
                         "roofline_pct": 100 * per_tok_bytes * r["decode_tok_s"] / bw})
        except torch.OutOfMemoryError as exc:
            rows.append({"case": f"gpu hf-sdpa ctx={c}", "error": f"OOM: {str(exc)[:80]}"})
            torch.cuda.empty_cache()
    del model
    torch.cuda.empty_cache()
    return rows


def print_table(rows: list[dict[str, Any]]) -> None:
    print(f"{'case':48} {'decode tok/s':>14} {'TTFT s':>9} {'other':>30}")
    for r in rows:
        res = r.get("engine") or r.get("hf_sdpa") or {}
        other = {k: round(v, 2) if isinstance(v, float) else v for k, v in r.items()
                 if k not in ("case", "engine", "hf_sdpa")}
        line = f"{r['case']:48} {res.get('decode_tok_s', float('nan')):>14.1f} {res.get('ttft_s', float('nan')):>9.3f}"
        print(line, other)
        if "engine" in r and "hf_sdpa" in r:
            h = r["hf_sdpa"]
            print(f"{'  hf generate (sdpa)':48} {h['decode_tok_s']:>14.1f} {h['ttft_s']:>9.3f}")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tiny", action="store_true", help="a quick smoke run")
    ap.add_argument("--out", default=str(Path(__file__).parent / "out" / "engine.json"))
    ap.add_argument("--skip-cpu", action="store_true")
    args = ap.parse_args(argv)
    result: dict[str, Any] = {"tiny": args.tiny, "torch": torch.__version__, "cpu_threads": torch.get_num_threads(),
                              "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
                              "rows": []}
    if not args.skip_cpu:
        result["rows"] += bench_cpu(args.tiny)
    if torch.cuda.is_available():
        result["rows"] += bench_gpu(args.tiny)
    print_table(result["rows"])
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
