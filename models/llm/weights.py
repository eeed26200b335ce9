"""Checkpoint loading: safetensors (single or sharded, memory-mapped, cast to the engine dtype) into our
modules, whose parameter names mirror HF's; and a one-time GGUF → dense HF folder conversion."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import torch
from torch import nn

IGNORED_SUFFIXES = ("rotary_emb.inv_freq",)


def safetensors_files(path: Path) -> list[Path]:
    """The shards named by model.safetensors.index.json, else every *.safetensors file."""
    index = path / "model.safetensors.index.json"
    if index.exists():
        names = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        return [path / n for n in names]
    files = sorted(path.glob("*.safetensors"))
    if not files:
        raise FileNotFoundError(f"no safetensors weights in {path}")
    return files


def iter_weights(path: Path) -> Iterator[tuple[str, torch.Tensor]]:
    from safetensors import safe_open

    for file in safetensors_files(path):
        with safe_open(str(file), framework="pt") as f:  # memory-mapped: one tensor in RAM at a time
            for name in f.keys():
                yield name, f.get_tensor(name)


def stacked_targets(model: nn.Module) -> dict[str, tuple[str, slice]]:
    """Checkpoint name of each separate projection (`...self_attn.k_proj.weight`) -> (our stacked parameter,
    its rows), for every module with `shards` (see `layers.StackedLinear`)."""
    targets: dict[str, tuple[str, slice]] = {}
    for module_name, module in model.named_modules():
        shards = getattr(module, "shards", None)
        if not shards:
            continue
        parent = module_name.rpartition(".")[0]
        for shard in shards:
            for param_name, _ in module.named_parameters(recurse=False):
                source = f"{parent}.{shard}.{param_name}" if parent else f"{shard}.{param_name}"
                targets[source] = (f"{module_name}.{param_name}", module.shard_rows(shard))
    return targets


def load_weights(model: nn.Module, path: str | Path) -> None:
    """Copy every checkpoint tensor into the parameter of the same name (or its rows of a stacked
    projection), casting to its dtype/device.

    A tied lm_head may be absent from the checkpoint; any other missing parameter or rows are an error."""
    params = dict(model.named_parameters(remove_duplicate=False))
    stacked = stacked_targets(model)
    rows_left = {target: params[target].shape[0] for target, _ in stacked.values()}
    loaded: set[str] = set()
    for name, tensor in iter_weights(Path(path)):
        if name.endswith(IGNORED_SUFFIXES):
            continue
        rows = slice(None)
        if name in stacked:
            target, rows = stacked[name]
        elif name in params:
            target = name
        else:
            if name == "lm_head.weight" and getattr(model.config, "tie_word_embeddings", False):
                continue  # tied: the embedding is the head
            raise KeyError(f"checkpoint tensor {name} has no place in {type(model).__name__}")
        dest = params[target][rows]
        if tuple(dest.shape) != tuple(tensor.shape):
            raise ValueError(f"{name}: checkpoint {tuple(tensor.shape)} vs model {tuple(dest.shape)}")
        with torch.no_grad():
            dest.copy_(tensor.to(dtype=dest.dtype))
        if target in rows_left:
            rows_left[target] -= dest.shape[0]
            if rows_left[target] == 0:
                loaded.add(target)
        else:
            loaded.add(target)
    missing = set(params) - loaded
    if getattr(model.config, "tie_word_embeddings", False):
        missing.discard("lm_head.weight")
    if missing:
        raise KeyError(f"checkpoint lacks {sorted(missing)[:5]} (and {max(0, len(missing) - 5)} more)")


def is_dense_folder(path: Path) -> bool:
    return (path / "config.json").exists() and any(path.glob("*.safetensors")) and (
        (path / "tokenizer.json").exists() or (path / "tokenizer_config.json").exists()
    )


def convert_gguf(gguf: Path, target: Path) -> Path:
    """GGUF → dense HF folder (fp32 safetensors + config + tokenizer), once, cached at `target`.

    Written to a temporary sibling and renamed into place under an fcntl lock: two processes converting
    at once do it once, and a crash never leaves half a model where a loader would find it."""
    if is_dense_folder(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if is_dense_folder(target):  # another process finished meanwhile
            return target
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name,
                                                         dtype=torch.float32)
            tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
            # transformers 5 refuses to save weights it believes quantized; they are dequantized by now
            model.hf_quantizer = None
            if hasattr(model.config, "quantization_config"):
                del model.config.quantization_config
            model.save_pretrained(tmp)
            tokenizer.save_pretrained(tmp)
            if target.exists():
                shutil.rmtree(target)
            os.replace(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target
