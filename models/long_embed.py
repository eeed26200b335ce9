"""Training-free context extension for embedding models (LongEmbed, Zhu et al. 2024), patched in place.

Methods, named by a config string `method[:option,key=value,...]`:
  truncate        cut at the trained length (the reference point; what the unpatched model does)
  window          embed windows of the trained length and mean-pool them (`window:overlap=32`)
  pi              absolute tables: stretch the learned table by linear interpolation;
                  RoPE: divide positions by the scale
  ntk             RoPE: NTK-aware base scaling, base * s ** (d / (d - 2)), d the rotary dimension
  selfextend      RoPE: grouped positions beyond a neighbour window (`selfextend:window=256,group=8`)

Scaling is dynamic by default: each row is scaled by s = clip(tokens / n, 1, target / n), so a text that
fits the trained window (every query, every short chunk) is embedded exactly as before and queries and
documents never depend on what they were batched with. `:static` applies the full target / n to every
input, as the paper does. n is the learned table's size for absolute positions and the trained length
(see `trained_length`) for RoPE; truncate and window always use the trained length.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from longlens.models import selfextend
from longlens.models.position_schemes import PositionScheme, detect_position_scheme

METHODS = ("truncate", "window", "pi", "ntk", "selfextend")
ROPE_ONLY = ("ntk", "selfextend")


@dataclass(frozen=True)
class ExtensionSpec:
    method: str
    dynamic: bool = True
    overlap: int = 0  # window: tokens shared by consecutive windows
    window: int | None = None  # selfextend: neighbour window (default: half the trained length)
    group: int | None = None  # selfextend: group size (default: smallest that reaches the target)


def parse_extension(text: str) -> ExtensionSpec:
    """'pi', 'ntk:static', 'window:overlap=32', 'selfextend:window=128,group=4' -> ExtensionSpec."""
    method, _, opts = text.strip().lower().partition(":")
    if method not in METHODS:
        raise ValueError(f"unknown context extension {method!r}; choose one of {', '.join(METHODS)}")
    kw: dict[str, Any] = {}
    for opt in filter(None, (o.strip() for o in opts.split(","))):
        key, eq, val = opt.partition("=")
        if not eq and key in ("static", "dynamic"):
            kw["dynamic"] = key == "dynamic"
        elif eq and key in ("overlap", "window", "group"):
            kw[key] = int(val)
        else:
            raise ValueError(f"unknown option {opt!r} in context extension {text!r}")
    return ExtensionSpec(method, **kw)


@dataclass
class ExtensionReport:
    """What was patched, for logs, benchmarks and `Embedder.extension_report`."""

    method: str
    scheme: PositionScheme
    trained_length: int
    target_length: int
    max_scale: float
    dynamic: bool
    details: dict[str, Any] = field(default_factory=dict)


class RowLengths:
    """The current batch's per-row token counts ([B] tensor), captured from the attention mask."""

    def __init__(self) -> None:
        self.value: torch.Tensor | None = None

    def __call__(self) -> torch.Tensor | None:
        return self.value


def track_row_lengths(hf_model: nn.Module) -> RowLengths:
    """Wrap `hf_model.forward` (sentence-transformers calls it directly, so hooks would not fire)."""
    existing = getattr(hf_model, "_longlens_lengths", None)
    if existing is not None:
        return existing
    state = RowLengths()
    inner = hf_model.forward

    @functools.wraps(inner)
    def forward(*args: Any, **kwargs: Any) -> Any:
        mask = kwargs.get("attention_mask")
        ids = kwargs.get("input_ids", args[0] if args else None)
        if mask is not None and mask.dim() == 2:
            state.value = mask.sum(-1)
        elif ids is not None:
            state.value = torch.full((ids.shape[0],), ids.shape[-1], device=ids.device)
        try:
            return inner(*args, **kwargs)
        finally:
            state.value = None

    hf_model.forward = forward
    hf_model._longlens_lengths = state
    return state


def row_scales(
    lengths: torch.Tensor | None,
    batch: int,
    seq: int,
    trained: int,
    max_scale: float,
    dynamic: bool,
    device: torch.device | None = None,
) -> torch.Tensor:
    """Per-row scale factor s >= 1: tokens / trained (dynamic) or the full max_scale (static)."""
    if not dynamic:
        return torch.full((batch,), float(max_scale), device=device)
    n = torch.full((batch,), float(seq), device=device) if lengths is None else lengths.to(device).float()
    return (n / trained).clamp(min=1.0, max=max(1.0, float(max_scale)))


# ---- absolute learned positions: position interpolation -------------------------------------------------


def interpolate_rows(table: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Linear interpolation of `table` [n, d] at fractional row coordinates `x` (clamped to [0, n - 1])."""
    x = x.to(torch.float64).clamp(0, table.shape[0] - 1)
    lo = x.floor()
    w = (x - lo).to(table.dtype)[..., None]
    lo = lo.long()
    hi = (lo + 1).clamp(max=table.shape[0] - 1)
    return table[lo] * (1 - w) + table[hi] * w


def stretch_position_table(table: torch.Tensor, new_len: int) -> torch.Tensor:
    """Stretch [n, d] to [new_len, d]: row p is the original at p / s, s = new_len / n (row i*s == row i)."""
    scale = new_len / table.shape[0]
    return interpolate_rows(table, torch.arange(new_len, dtype=torch.float64) / scale)


class InterpolatedPositionEmbedding(nn.Embedding):
    """A learned position table stretched by interpolation; `weight` is the stretched [target, d] table.

    The scale is relative to the learned table (n rows): every row was trained, even where a
    sentence-transformers config uses fewer (MiniLM: 512 rows, used at 256). Dynamic: a row of `len` tokens
    reads the original table at p / clip(len / n, 1, target / n), so rows that fit the table keep their exact
    learned positions; static: p / (target / n) for every row, as in the paper. The forward interpolates the
    original table (kept as a buffer) directly, so original points stay exact even when target / n is not
    an integer; positions past the last learned row would clamp to it.
    """

    def __init__(self, original: nn.Embedding, new_len: int, dynamic: bool, lengths: RowLengths) -> None:
        src = original.weight.detach()
        super().__init__(new_len, src.shape[1], device=src.device, dtype=src.dtype)
        with torch.no_grad():
            self.weight.copy_(stretch_position_table(src, new_len))
        self.register_buffer("original_weight", src.clone(), persistent=False)
        self.table_scale = new_len / src.shape[0]
        self.dynamic, self.lengths = dynamic, lengths

    def forward(self, position_ids: torch.Tensor) -> torch.Tensor:
        batch, seq = position_ids.shape
        lengths = self.lengths()
        if lengths is not None and batch == 1 and lengths.shape[0] > 1:
            position_ids, batch = position_ids.expand(lengths.shape[0], -1), lengths.shape[0]
        n = self.original_weight.shape[0]
        s = row_scales(lengths, batch, seq, n, self.table_scale, self.dynamic, position_ids.device)
        return interpolate_rows(self.original_weight, position_ids.to(torch.float64) / s[:, None].double())


def _extend_absolute(
    st: Any, hf: nn.Module, spec: ExtensionSpec, trained: int, target: int, report: ExtensionReport
) -> None:
    holder = next(
        (m for m in hf.modules() if isinstance(getattr(m, "position_embeddings", None), nn.Embedding)), None
    )
    if holder is None:
        raise NotImplementedError(f"no learned position table found in {type(hf).__name__}")
    old: nn.Embedding = holder.position_embeddings
    new_len = max(target, old.num_embeddings)
    lengths = track_row_lengths(hf)
    holder.position_embeddings = InterpolatedPositionEmbedding(old, new_len, spec.dynamic, lengths)
    device = old.weight.device
    for name in ("position_ids", "token_type_ids"):
        buf = getattr(holder, name, None)
        if isinstance(buf, torch.Tensor):
            fresh = (
                torch.arange(new_len, device=device)
                if name == "position_ids"
                else torch.zeros(new_len, dtype=buf.dtype, device=device)
            )
            setattr(holder, name, fresh.expand(1, -1).to(buf.dtype))
    hf.config.max_position_embeddings = new_len
    report.max_scale = new_len / old.num_embeddings
    report.details.update(table=(old.num_embeddings, new_len), table_scale=new_len / old.num_embeddings)


# ---- RoPE: PI, NTK, SelfExtend --------------------------------------------------------------------------


def ntk_inv_freq(inv_freq: torch.Tensor, scale: torch.Tensor | float) -> torch.Tensor:
    """inv_freq for base * s ** (d / (d - 2)): per dimension pair i, inv_freq_i * s ** (-2 i / (d - 2))."""
    d = 2 * inv_freq.shape[-1]
    expo = torch.arange(inv_freq.shape[-1], dtype=torch.float32, device=inv_freq.device) * 2 / max(d - 2, 1)
    scale = torch.as_tensor(scale, dtype=torch.float32, device=inv_freq.device)
    return inv_freq.float() * scale[..., None] ** (-expo)


def rotary_modules(hf: nn.Module) -> list[nn.Module]:
    """HF-native rotary modules (Llama/Qwen2/NomicBert style: `inv_freq` buffer, forward(x, position_ids))."""
    return [m for m in hf.modules() if isinstance(getattr(m, "inv_freq", None), torch.Tensor)]


def _patch_rotary(
    rot: nn.Module, method: str, trained: int, max_scale: float, dynamic: bool, lengths: RowLengths
) -> None:
    scaling = float(getattr(rot, "attention_scaling", 1.0))

    @torch.no_grad()
    def forward(x: torch.Tensor, position_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pos = position_ids.float()
        batch = max(pos.shape[0], x.shape[0])
        pos = pos.expand(batch, -1)
        s = row_scales(lengths(), batch, pos.shape[-1], trained, max_scale, dynamic, x.device)
        inv = rot.inv_freq.to(device=x.device, dtype=torch.float)[None, :]
        if method == "pi":
            pos = pos / s[:, None]
        else:
            inv = ntk_inv_freq(rot.inv_freq.to(x.device), s)
        freqs = pos[..., None] * inv[:, None, :]
        emb = torch.cat((freqs, freqs), dim=-1)
        return (emb.cos() * scaling).to(x.dtype), (emb.sin() * scaling).to(x.dtype)

    rot.forward = forward


def _extend_rope(
    st: Any, hf: nn.Module, spec: ExtensionSpec, trained: int, target: int, report: ExtensionReport
) -> None:
    rots = rotary_modules(hf)
    if not rots:
        raise NotImplementedError(
            f"{report.scheme.describe()}: no HF-native rotary module (an `inv_freq` buffer) in "
            f"{type(hf).__name__}; remote-code or table-based RoPE (RoFormer) is not patched: use 'window'"
        )
    lengths = track_row_lengths(hf)
    scale = target / trained
    inv = rots[0].inv_freq.detach().float().cpu()
    d = 2 * inv.numel()
    if spec.method in ("pi", "ntk"):
        for rot in rots:
            _patch_rotary(rot, spec.method, trained, scale, spec.dynamic, lengths)
        if spec.method == "ntk" and report.scheme.rope_theta:
            report.details["rope_theta_at_target"] = report.scheme.rope_theta * scale ** (d / (d - 2))
    else:
        window, group = selfextend.default_selfextend_params(trained, target)
        window, group = spec.window or window, spec.group or group
        params = selfextend.SelfExtendParams(
            window, group, rots[0].inv_freq.detach().clone(), trained if spec.dynamic else 0, lengths
        )
        attn = [m for m in hf.modules() if hasattr(m, "head_dim") and hasattr(m, "is_causal")]
        if not attn:
            raise NotImplementedError(f"no HF attention-interface modules found in {type(hf).__name__}")
        for m in attn:
            m.longlens_selfextend = params
        name = selfextend.register()
        try:
            hf.set_attn_implementation(name)
        except (ValueError, AttributeError):
            hf.config._attn_implementation = name
        report.details.update(window=window, group=group, shift=params.shift, attention_modules=len(attn))
    report.details.update(rotary_dim=d, rotary_modules=len(rots))
    hf.config.max_position_embeddings = max(
        target, int(getattr(hf.config, "max_position_embeddings", 0) or 0)
    )


# ---- entry point ----------------------------------------------------------------------------------------


def trained_length(st: Any, scheme: PositionScheme) -> int:
    """The length the model is used at as shipped: its sentence-transformers limit, capped by positions."""
    limits = [x for x in (getattr(st, "max_seq_length", None), scheme.max_positions) if x]
    if not limits:
        raise ValueError(f"cannot tell the trained length of the model: {scheme.describe()}")
    return int(min(limits))


def apply_context_extension(
    st: Any, extension: str | ExtensionSpec, target_length: int | None
) -> ExtensionReport:
    """Patch a loaded SentenceTransformer in place so it embeds up to `target_length` tokens."""
    spec = parse_extension(extension) if isinstance(extension, str) else extension
    hf = st[0].auto_model
    scheme = detect_position_scheme(hf.config)
    trained = trained_length(st, scheme)
    target = int(target_length or trained)
    report = ExtensionReport(spec.method, scheme, trained, target, target / trained, spec.dynamic)
    if spec.method in ("truncate", "window"):
        st.max_seq_length = trained
        return report
    if target_length is None:
        raise ValueError(f"context extension {spec.method!r} needs a target_length")
    if target <= trained:
        raise ValueError(f"target_length {target} is not longer than the trained length {trained}")
    if spec.method in ROPE_ONLY and scheme.kind != "rope":
        raise ValueError(f"{spec.method!r} needs RoPE positions; the model has {scheme.describe()}")
    if not scheme.supported:
        raise NotImplementedError(f"{spec.method!r} cannot patch {scheme.describe()}: use 'window'")
    if scheme.kind == "absolute":
        _extend_absolute(st, hf, spec, trained, target, report)
    else:
        _extend_rope(st, hf, spec, trained, target, report)
    st.max_seq_length = target  # sets the tokenizer's model_max_length too
    if getattr(st, "tokenizer", None) is not None:
        st.tokenizer.model_max_length = target
    return report
