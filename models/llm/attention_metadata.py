"""What one engine step tells every attention layer: where its tokens sit in the paged cache, and which of
its sequences take the sparse or the dual-chunk path.

Its own module so that the layers, the sparse-prefill path and the CUDA graphs share these plain records
without importing each other (a sparse plan holds the metadata of the step's dense remainder, and the
metadata holds the plan).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from longlens.kernels.dual_chunk import DualChunkMeta
from longlens.kernels.vertical_slash import VerticalSlashConfig


@dataclass
class AttentionMetadata:
    """Where this step's tokens sit: built once per step by the model runner, read by every layer.

    mode: "prefill" (no sequence has cached context: attend within the new tokens), "decode" (one new
    token per sequence) or "mixed" (chunks after a cached prefix, possibly with decodes: paged prefill).
    """

    mode: str
    slot_mapping: torch.Tensor  # int64 [T]
    cu_seqlens_q: torch.Tensor  # int32 [B+1]
    context_lens: torch.Tensor  # int32 [B], total length incl. this step's tokens
    block_tables: torch.Tensor  # int32 [B, max_blocks]
    max_seqlen_q: int
    max_seqlen_k: int
    sparse: SparsePlan | None = None  # long prefill chunks that take the vertical-slash path
    kv_spans: list[slice] | None = None  # CPU: each sequence's cached slots, where its blocks are consecutive
    slots_valid: bool = False  # no slot is -1 (padding), known to the runner
    dual_chunk: DualChunkMeta | None = None  # set when the model runs dual chunk attention


@dataclass
class SparseSeq:
    index: int  # position in the batch (row of block_tables)
    q_start: int  # its rows in the flat token batch
    q_end: int
    ctx_len: int  # keys it attends to, this chunk included


@dataclass
class SparsePlan:
    config: VerticalSlashConfig
    seqs: list[SparseSeq]
    rest_rows: torch.Tensor | None  # flat rows of the dense remainder (None when every sequence is sparse)
    rest: AttentionMetadata | None  # metadata of the dense remainder
