#!/usr/bin/env bash
# What a session lent a GPU runs, in few full calls of the device tool (each under its 10-minute limit):
#
#   bench/gpu_session.sh tests       # kernel, sparse and CUDA-graph tests on the GPU            (~3 min)
#   bench/gpu_session.sh attention   # bench_attention.py: prefill vs SDPA, paged decode vs roofline
#   bench/gpu_session.sh engine      # bench_engine.py: decode vs HF generate, TTFT, 16 concurrent requests
#   bench/gpu_session.sh sparse      # bench_sparse_prefill.py: sparse vs dense 4k-256k, TTFT at 128k
#   bench/gpu_session.sh embed       # embed_gpu.py: MiniLM fp16/bf16 ingest batches vs ST encode fp32
#                                    # (run bench/gpu_assets.py here first and carry .gpu)
#
# The GPU image has torch, triton, transformers and pytest but no network: longlens is installed without its
# dependencies (the kernels and the engine need none beyond those). Logs and JSON go to $OUT (the device tool
# brings that folder back; at most 8 files), else to bench/out/gpu. Copy the figures, with the device line from
# device.txt and the command, into bench/RESULTS.md and the README.
set -u -o pipefail
stage=${1:-tests}
out=${OUT:-bench/out/gpu}
mkdir -p "$out"
# PYTHONSAFEPATH: the repo root off sys.path, so kernels/ never shadows the `kernels` package transformers imports
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false PYTHONSAFEPATH=1
python3 -m pip install -q --no-deps --no-build-isolation -e . >"$out/install.log" 2>&1 || {
  echo "pip install -e . failed: see $out/install.log"; exit 1; }
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader >"$out/device.txt" 2>&1
python3 -c "import torch, triton; print('torch', torch.__version__, 'triton', triton.__version__)" >>"$out/device.txt"
cat "$out/device.txt"
case "$stage" in
  tests)
    python3 -m pytest -q -p no:cacheprovider tests/kernels tests/sparse tests/engine/test_cuda_graphs.py 2>&1 \
      | tee "$out/tests.log" | tail -n 30 ;;
  attention)
    python3 bench/bench_attention.py --out "$out/attention.json" 2>&1 | tee "$out/attention.log" ;;
  engine)
    python3 bench/bench_engine.py --out "$out/engine.json" 2>&1 | tee "$out/engine.log" ;;
  sparse)
    python3 bench/bench_sparse_prefill.py --out "$out/sparse_prefill.json" 2>&1 | tee "$out/sparse_prefill.log" ;;
  embed)
    python3 bench/embed_gpu.py --model .gpu/minilm --texts-file .gpu/texts.json --texts 20000 \
      --out "$out/embed_gpu.json" 2>&1 | tee "$out/embed_gpu.log" ;;
  *)
    echo "usage: bench/gpu_session.sh tests|attention|engine|sparse|embed" >&2; exit 2 ;;
esac
