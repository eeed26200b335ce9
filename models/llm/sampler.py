"""Turns last-position logits into next tokens, each row with its own sampling params, in one batch."""

from __future__ import annotations

import torch

from longlens.models.llm.sequence import SamplingParams


def apply_repetition_penalty(logits: torch.Tensor, seen: list[list[int]], penalties: list[float]) -> None:
    """HF/CTRL style, in place: a seen token's positive logit is divided by the penalty, a negative one
    multiplied (so the penalty always lowers it)."""
    for i, (ids, p) in enumerate(zip(seen, penalties, strict=True)):
        if p == 1.0 or not ids:
            continue
        idx = torch.tensor(sorted(set(ids)), device=logits.device, dtype=torch.long)
        vals = logits[i, idx]
        logits[i, idx] = torch.where(vals > 0, vals / p, vals * p)


def top_k_mask(logits: torch.Tensor, top_k: torch.Tensor) -> torch.Tensor:
    """Keep each row's `top_k` largest logits (0 = keep all), others set to -inf."""
    vocab = logits.shape[-1]
    k = torch.where(top_k <= 0, torch.full_like(top_k, vocab), top_k.clamp(max=vocab))
    sorted_logits = logits.sort(dim=-1, descending=True).values
    kth = sorted_logits.gather(-1, (k - 1).unsqueeze(-1))
    return logits.masked_fill(logits < kth, float("-inf"))


def top_p_mask(logits: torch.Tensor, top_p: torch.Tensor) -> torch.Tensor:
    """Keep the smallest set of tokens whose probability reaches `top_p` (the top token always stays)."""
    sorted_logits, order = logits.sort(dim=-1, descending=True)
    probs = sorted_logits.softmax(-1)
    before = probs.cumsum(-1) - probs  # mass strictly before each token
    drop_sorted = before >= top_p.unsqueeze(-1)
    drop_sorted[..., 0] = False
    drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
    return logits.masked_fill(drop, float("-inf"))


class Sampler:
    """Greedy rows take the argmax; others use temperature, top-k, top-p, then a draw from the row's own
    seeded generator (reproducible per request regardless of what else is in the batch)."""

    def __init__(self, seed: int = 0):
        self.default_generator = torch.Generator().manual_seed(seed)
        self.generators: dict[str, torch.Generator] = {}

    def generator_for(self, request_id: str, params: SamplingParams) -> torch.Generator:
        if params.seed is None:
            return self.default_generator
        if request_id not in self.generators:
            self.generators[request_id] = torch.Generator().manual_seed(params.seed)
        return self.generators[request_id]

    def release(self, request_id: str) -> None:
        self.generators.pop(request_id, None)

    def __call__(
        self, logits: torch.Tensor, params: list[SamplingParams], seen: list[list[int]], request_ids: list[str]
    ) -> list[int]:
        logits = logits.float().cpu()  # small [B, V]: per-row generators live on the CPU
        apply_repetition_penalty(logits, seen, [p.repetition_penalty for p in params])
        out = logits.argmax(-1)
        sample_rows = [i for i, p in enumerate(params) if p.temperature > 0]
        if sample_rows:
            rows = torch.tensor(sample_rows)
            sub = logits[rows] / torch.tensor([params[i].temperature for i in sample_rows]).unsqueeze(-1)
            sub = top_k_mask(sub, torch.tensor([params[i].top_k for i in sample_rows]))
            sub = top_p_mask(sub, torch.tensor([params[i].top_p for i in sample_rows], dtype=sub.dtype))
            probs = sub.softmax(-1)
            for j, i in enumerate(sample_rows):
                gen = self.generator_for(request_ids[i], params[i])
                out[i] = torch.multinomial(probs[j], 1, generator=gen)[0]
        return out.tolist()
