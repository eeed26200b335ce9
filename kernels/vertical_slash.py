"""Vertical-slash sparse pattern (MInference): estimate it per head from the last queries, index it in blocks.

Long-context attention concentrates on a few key columns ("verticals": the attention sink, salient tokens)
and a few diagonals ("slashes": the local window, repeats at a fixed distance). Scoring only the last `last_q`
queries against every key finds both: column sums give the verticals, diagonal sums the slashes. Everything
is torch ops on the tensors' own device (no `.item()`, no host loop), so a GPU prefill never waits on the host.

Pattern semantics, shared by the Triton kernel and the PyTorch reference: queries are cut in blocks of
`block_m` rows; a kept slash `s` lets every row of a query block see the key strip `[base - s, base - s +
block_m)` (base = the block's first query position), i.e. slashes are kept at block granularity like
MInference; a kept vertical `j` is seen by every query at or after `j`. Attention is exact (dense, causal)
over the union.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from longlens.kernels.softmax_scale import softmax_scale

BIG = 1 << 30  # sentinel position: sorts after every real index, never inside a causal window


@dataclass(frozen=True)
class VerticalSlashConfig:
    """Budgets of the pattern, by length: count = clamp(frac * keys, min, max), never above the key count.

    `coverage` (optional) trims each head's budget to the fewest verticals/slashes whose estimated attention
    mass reaches that share: concentrated heads then cost less, flat heads keep their whole budget.
    """

    last_q: int = 64  # queries scored for the estimate
    sink: int = 4  # first tokens, always kept as verticals
    local: int = 64  # diagonals 0..local-1, always kept as slashes
    vertical_frac: float = 1 / 64
    vertical_min: int = 512
    vertical_max: int = 4096
    slash_frac: float = 1 / 128
    slash_min: int = 256
    slash_max: int = 2048
    coverage: float | None = None
    block_m: int = 64  # query block of the pattern's slash granularity (the kernel's BLOCK_M)

    def budgets(self, num_keys: int) -> tuple[int, int]:
        """(verticals, slashes) kept per head for `num_keys` keys."""
        nv = min(num_keys, max(self.vertical_min, min(self.vertical_max, int(self.vertical_frac * num_keys))))
        ns = min(num_keys, max(self.slash_min, min(self.slash_max, int(self.slash_frac * num_keys))))
        return max(nv, min(self.sink, num_keys)), max(ns, min(self.local, num_keys))


@dataclass
class VerticalSlashPattern:
    """Per query head: kept key columns and kept diagonal offsets (int64, -1 = unused slot)."""

    vertical: torch.Tensor  # [Hq, NV] key positions
    slash: torch.Tensor  # [Hq, NS] offsets s = query position - key position, >= 0


def last_query_scores(q: torch.Tensor, k: torch.Tensor, last_q: int, sm_scale: float,
                      heads_per_chunk: int | None = None) -> torch.Tensor:
    """Softmax rows [Hq, n, lk] (fp32) of the last n = min(last_q, lq) queries over all keys, causal.

    GQA without expanding K: the queries of a group are stacked against their kv head. Heads are processed
    in chunks so that the fp32 score block stays ~0.5 GiB at 128k+ keys.
    """
    lq, hq, d = q.shape
    lk, hk = k.shape[:2]
    n = min(last_q, lq)
    group = hq // hk
    qn = q[lq - n:].transpose(0, 1).reshape(hk, group * n, d)  # [Hk, group*n, D]
    pos = torch.arange(lk - n, lk, device=q.device).repeat(group)  # key position of each stacked query row
    causal = torch.arange(lk, device=q.device)[None, :] <= pos[:, None]  # [group*n, lk]
    chunk = heads_per_chunk or max(1, (1 << 27) // max(1, group * n * lk))
    out = torch.empty(hk, group * n, lk, dtype=torch.float32, device=q.device)
    for h0 in range(0, hk, chunk):
        h1 = min(hk, h0 + chunk)
        s = torch.matmul(qn[h0:h1].float(), k[:, h0:h1].transpose(0, 1).float().transpose(1, 2)) * sm_scale
        out[h0:h1] = torch.softmax(s.masked_fill_(~causal, float("-inf")), dim=-1)
    return out.view(hq, n, lk)


def diagonal_sums(a: torch.Tensor) -> torch.Tensor:
    """[H, n, lk] rows of the last n queries (query r at key position lk-n+r) -> [H, lk] mass per offset s.

    Reversing the key axis and padding turns each diagonal into a column of a strided view: no scatter.
    """
    h, n, lk = a.shape
    w = lk + n
    b = torch.nn.functional.pad(a.flip(-1), (0, n)).contiguous()  # [H, n, lk+n]
    view = b.as_strided((h, n, lk), (n * w, w - 1, 1), storage_offset=n - 1)
    return view.sum(1)


def _top(scores: torch.Tensor, forced: int, budget: int, coverage: float | None) -> torch.Tensor:
    """Top `budget` indices per row (the first `forced` always in), -1 where coverage trims; int64 [H, budget]."""
    mass = scores.sum(-1, keepdim=True).clamp_min(1e-30)
    boosted = scores.clone()
    boosted[:, :forced] = float("inf")
    vals, idx = torch.topk(boosted, budget, dim=-1)
    if coverage is None:
        return idx
    real = scores.gather(-1, idx) / mass
    before = real.cumsum(-1) - real  # mass of the higher-ranked ones
    keep = (before < coverage) | torch.isinf(vals)
    return torch.where(keep, idx, torch.full_like(idx, -1))


def estimate_vertical_slash(q: torch.Tensor, k: torch.Tensor, cfg: VerticalSlashConfig,
                            sm_scale: float | None = None) -> VerticalSlashPattern:
    """Per query head: the top verticals (sink forced in) and top slashes (local window forced in).

    q [lq, Hq, D] are the chunk's queries, k [lk, Hkv, D] all keys they attend (lq <= lk, end-aligned).
    """
    lk = k.shape[0]
    scale = softmax_scale(q.shape[-1], sm_scale)
    a = last_query_scores(q, k, cfg.last_q, scale)
    nv, ns = cfg.budgets(lk)
    vertical = _top(a.sum(1), min(cfg.sink, lk), nv, cfg.coverage)
    slash = _top(diagonal_sums(a), min(cfg.local, lk), ns, cfg.coverage)
    return VerticalSlashPattern(vertical, slash)


@dataclass
class VerticalSlashIndex:
    """Block-sparse form the kernel walks. Positions relative to a query block are `key - base`, where
    base = m * block_m + (lk - lq) is the key position of the block's first query.

    Slash strips are merged and cut into pieces of at most block_n keys, identical for every query block up
    to the shift by base; `piece_lo[h, m]` skips the pieces that lie entirely before key 0. Verticals are
    sorted; `col_hi[h, m]` counts those at or before the block's last query; `covered[h, rel + lk]` marks
    columns already inside a strip, so the column pass does not count them twice.
    """

    cols: torch.Tensor  # int32 [H, NV] ascending, BIG-padded
    col_hi: torch.Tensor  # int32 [H, M]
    piece_start: torch.Tensor  # int32 [H, P] relative, ascending, BIG-padded
    piece_end: torch.Tensor  # int32 [H, P] relative, exclusive
    piece_lo: torch.Tensor  # int32 [H, M]
    piece_hi: torch.Tensor  # int32 [H] valid pieces
    covered: torch.Tensor  # int8 [H, lk + block_m]


def _strip_pieces(slash: torch.Tensor, block_m: int, block_n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Slash offsets [H, NS] (-1 unused) -> merged strips cut in pieces: (start, end) [H, NS*U], BIG-padded."""
    valid = slash >= 0
    start, _ = torch.sort(torch.where(valid, -slash, torch.full_like(slash, BIG)), dim=-1)
    valid = start < BIG
    end = start + block_m
    prev_end = torch.nn.functional.pad(end[:, :-1], (1, 0), value=-BIG)
    new = valid & (start > prev_end)  # starts a merged strip
    nxt_new = torch.nn.functional.pad(new[:, 1:] | ~valid[:, 1:], (0, 1), value=True)  # last of its strip
    gs = torch.cummax(torch.where(new, start, torch.full_like(start, -BIG)), dim=-1).values
    ge = torch.cummin(torch.where(nxt_new, end, torch.full_like(end, BIG)).flip(-1), dim=-1).values.flip(-1)
    own_end = torch.where(nxt_new, end, torch.nn.functional.pad(start[:, 1:], (0, 1), value=BIG))
    u = torch.arange(-(-block_m // block_n), device=slash.device)
    t0 = torch.div(start - gs + block_n - 1, block_n, rounding_mode="floor")
    ps = gs[..., None] + (t0[..., None] + u) * block_n  # [H, NS, U]
    ok = valid[..., None] & (ps < own_end[..., None])
    pe = torch.minimum(ps + block_n, ge[..., None])
    ps = torch.where(ok, ps, torch.full_like(ps, BIG)).flatten(1)
    pe = torch.where(ok, pe, torch.full_like(pe, BIG)).flatten(1)
    ps, order = torch.sort(ps, dim=-1)
    return ps, pe.gather(-1, order)


def build_vertical_slash_index(pattern: VerticalSlashPattern, lq: int, lk: int, block_m: int,
                               block_n: int) -> VerticalSlashIndex:
    """Block-sparse indices for one sequence (lq queries end-aligned on lk keys), all on the pattern's device."""
    dev = pattern.vertical.device
    nblocks = -(-lq // block_m)
    base = torch.arange(nblocks, device=dev, dtype=torch.int64) * block_m + (lk - lq)
    h = pattern.vertical.shape[0]
    v = pattern.vertical.long()
    cols, _ = torch.sort(torch.where(v >= 0, v, torch.full_like(v, BIG)), dim=-1)
    col_hi = torch.searchsorted(cols, (base + block_m - 1).expand(h, -1).contiguous(), right=True)
    ps, pe = _strip_pieces(pattern.slash.long(), block_m, block_n)
    piece_lo = torch.searchsorted(pe, (-base).expand(h, -1).contiguous(), right=True)
    real = ps < BIG
    width = lk + block_m
    diff = torch.zeros(h, width + 1, dtype=torch.int32, device=dev)
    one = torch.ones_like(ps, dtype=torch.int32)
    diff.scatter_add_(1, torch.where(real, (ps + lk).clamp(0, width), width), one)
    diff.scatter_add_(1, torch.where(real, (pe + lk).clamp(0, width), width), -one)
    covered = (diff.cumsum(-1)[:, :width] > 0).to(torch.int8)
    i32 = torch.int32
    return VerticalSlashIndex(
        cols=cols.to(i32), col_hi=col_hi.to(i32), piece_start=ps.clamp(max=BIG).to(i32),
        piece_end=pe.clamp(max=BIG).to(i32), piece_lo=piece_lo.to(i32), piece_hi=real.sum(-1).to(i32),
        covered=covered,
    )


def pattern_mask(pattern: VerticalSlashPattern, rows: torch.Tensor, lq: int, lk: int, block_m: int,
                 key_end: int | None = None) -> torch.Tensor:
    """Boolean [Hq, len(rows), key_end]: which of the first `key_end` (default all) keys the query rows see.

    Computed from the pattern directly, not from the block index, so that it checks the index building too.
    """
    dev = pattern.vertical.device
    h = pattern.vertical.shape[0]
    off = lk - lq
    n = lk if key_end is None else key_end
    j = torch.arange(n, device=dev)
    pos = rows.to(dev) + off
    base = (rows.to(dev) // block_m) * block_m + off
    s_ok = pattern.slash >= 0
    ind = torch.zeros(h, lk + 1, dtype=torch.int32, device=dev)
    ind.scatter_add_(1, torch.where(s_ok, pattern.slash, lk), s_ok.to(torch.int32))
    csum = ind[:, :lk].cumsum(-1)
    zero = torch.zeros(h, 1, dtype=csum.dtype, device=dev)
    cnt = torch.cat([zero, csum, csum[:, -1:].expand(h, block_m + 1)], dim=-1)  # cnt[x] = #slashes s < x
    # coverage depends on rel = key - base only: one row over rel in [-lk, block_m), then a window per block
    rel = torch.arange(-lk, block_m, device=dev)
    lo = (-rel).clamp(0, lk + block_m)  # a slash s covers rel iff -rel <= s < block_m - rel
    hi = (block_m - rel).clamp(0, lk + block_m)
    cov = (cnt[:, hi] - cnt[:, lo]) > 0  # [H, lk + block_m], index rel + lk
    cov = torch.cat([cov, torch.zeros(h, lk, dtype=torch.bool, device=dev)], dim=-1)  # keys past the block
    covered = cov.unfold(1, n, 1)[:, lk - base]  # [H, R, n]: window starting at rel = -base
    v_ok = pattern.vertical >= 0
    colmask = torch.zeros(h, lk + 1, dtype=torch.bool, device=dev)
    colmask.scatter_(1, torch.where(v_ok, pattern.vertical, lk), v_ok)
    causal = j[None, :] <= pos[:, None]
    return causal[None] & (covered | colmask[:, None, :n])


def dense_pattern(num_heads: int, lk: int, device: torch.device | str | None = None) -> VerticalSlashPattern:
    """Every key as a vertical and every offset as a slash: the pattern equal to dense causal attention."""
    idx = torch.arange(lk, device=device).expand(num_heads, -1).contiguous()
    return VerticalSlashPattern(idx, idx.clone())
