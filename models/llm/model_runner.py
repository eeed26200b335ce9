"""Owns the model and its paged KV cache on one device, and turns a scheduled batch into one forward.

Inputs are a flat token batch (no padding): positions, the cache slot of every new token, per-sequence
block tables and lengths. Only the last position of a sequence that completes this step is projected to
logits, so a long prefill never materialises [T, vocab] logits."""

from __future__ import annotations

import itertools
import warnings
from dataclasses import replace
from pathlib import Path

import torch

from longlens.kernels.dual_chunk import DualChunkConfig, DualChunkMeta
from longlens.kernels.vertical_slash import VerticalSlashConfig
from longlens.models.llm.attention_metadata import AttentionMetadata, SparsePlan, SparseSeq
from longlens.models.llm.config import EngineConfig, ModelConfig, normalize_rope_scaling
from longlens.models.llm.cuda_graphs import DecodeGraphs, graph_batch_sizes
from longlens.models.llm.layers import Attention
from longlens.models.llm.registry import model_class
from longlens.models.llm.scheduler import ScheduledBatch
from longlens.models.llm.sparse_prefill import sparse_indices
from longlens.models.llm.weights import load_weights

CPU_DEFAULT_KV_TOKENS = 16384


class ModelRunner:
    def __init__(self, model_path: str | Path | None, engine: EngineConfig, model_config: ModelConfig | None = None,
                 load_format: str = "auto"):
        """`load_format="dummy"` gives random weights (benchmarks of real shapes without the checkpoint)."""
        self.engine = engine
        self.config = model_config or ModelConfig.from_pretrained(model_path)
        if engine.rope_scaling is not None:  # e.g. YaRN x4 on a checkpoint that does not declare it
            self.config = replace(self.config, rope_scaling=normalize_rope_scaling(engine.rope_scaling))
        if engine.dual_chunk_attention is not None:  # False: off; a dict: on, whatever the checkpoint says
            dca = engine.dual_chunk_attention
            self.config = replace(self.config, dual_chunk_attention=DualChunkConfig.from_dict(dca) if dca else None)
        self.dual_chunk = self.config.dual_chunk_attention
        self.device = torch.device(engine.resolved_device())
        self.dtype = engine.resolved_dtype()
        self.max_model_len = min(engine.max_model_len or self.config.default_max_model_len(),
                                 self.config.max_context_len())
        self.sparse_config = VerticalSlashConfig(**(engine.sparse_pattern or {}))
        self.block_size = engine.block_size
        self.model = self._build()
        if load_format == "dummy":
            with torch.no_grad():
                for name, p in self.model.named_parameters():
                    p.fill_(1.0) if name.endswith("norm.weight") else p.normal_(0.0, 0.02)
        else:
            load_weights(self.model, model_path)
        self.model.eval()
        self.attn_layers = [m for m in self.model.modules() if isinstance(m, Attention)]
        self.num_blocks = self._allocate_kv_cache()
        self.decode_graphs = self._capture_decode_graphs()

    def _capture_decode_graphs(self) -> DecodeGraphs | None:
        """CUDA graphs for decode on a GPU unless `enforce_eager`; a capture that fails warns and leaves
        decoding eager rather than stopping the engine."""
        if self.device.type != "cuda" or self.engine.enforce_eager or self.dual_chunk is not None:
            return None
        try:
            return DecodeGraphs(self, graph_batch_sizes(self.engine.max_num_seqs))
        except Exception as exc:  # noqa: BLE001 - any capture failure has the same remedy
            warnings.warn(f"CUDA graph capture failed, decoding eagerly: {exc}", stacklevel=2)
            torch.cuda.synchronize(self.device)
            return None

    def _build(self) -> torch.nn.Module:
        """Construct without running weight initialisers (on the meta device), then materialise empty
        tensors on the target device: the checkpoint overwrites them all, and init is most of load time."""
        default_dtype = torch.get_default_dtype()
        torch.set_default_dtype(self.dtype)
        try:
            with torch.device("meta"):
                model = model_class(self.config)(self.config, self.max_model_len)
        finally:
            torch.set_default_dtype(default_dtype)
        model.to_empty(device=self.device)
        if self.config.tie_word_embeddings:  # to_empty unties shared parameters
            model.lm_head.weight = model.model.embed_tokens.weight
        rope = model.model.rotary_emb  # buffers are computed, not loaded: rebuild on the device in fp32
        with torch.device(self.device):
            fresh = type(rope)(self.config.head_dim, self.config.rope_theta, self.config.rope_scaling,
                               self.config.max_position_embeddings, self.max_model_len, self.dual_chunk)
        rope.cos_sin_cache = fresh.cos_sin_cache.float()
        return model

    def _kv_bytes_per_token(self) -> int:
        c = self.config
        return 2 * c.num_hidden_layers * c.num_key_value_heads * c.head_dim * torch.finfo(self.dtype).bits // 8

    def _allocate_kv_cache(self) -> int:
        if self.device.type == "cuda" and self.engine.kv_cache_tokens is None:
            tokens = self._cuda_kv_budget_tokens()
        else:
            tokens = self.engine.kv_cache_tokens or CPU_DEFAULT_KV_TOKENS
        num_blocks = max(1, tokens // self.block_size)
        c = self.config
        shape = (2, c.num_hidden_layers, num_blocks, self.block_size, c.num_key_value_heads, c.head_dim)
        self.kv_cache = torch.zeros(shape, dtype=self.dtype, device=self.device)
        for i, layer in enumerate(self.attn_layers):
            layer.k_cache, layer.v_cache = self.kv_cache[0, i], self.kv_cache[1, i]
        return num_blocks

    @torch.inference_mode()
    def _cuda_kv_budget_tokens(self) -> int:
        """Free memory after the weights and one full-budget prefill's activations, times utilisation."""
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(self.device)
        n = min(self.engine.max_num_batched_tokens, self.max_model_len)
        ids = torch.zeros(n, dtype=torch.long, device=self.device)
        meta = self.make_metadata("prefill", [n], [n], [[]],
                                  slots=torch.full((n,), -1, dtype=torch.long, device=self.device))
        hidden = self.model(ids, torch.arange(n, device=self.device), meta)
        self.model.compute_logits(hidden[-1:])
        torch.cuda.synchronize(self.device)
        free, total = torch.cuda.mem_get_info(self.device)
        peak = torch.cuda.max_memory_allocated(self.device)
        used_now = torch.cuda.memory_allocated(self.device)
        budget = total * self.engine.gpu_memory_utilization - (total - free) - (peak - used_now)
        return max(self.block_size, int(budget) // self._kv_bytes_per_token())

    def make_metadata(self, mode: str, q_lens: list[int], ctx_lens: list[int], block_tables: list[list[int]],
                      slots: torch.Tensor, plan_sparse: bool = True, slots_valid: bool = False,
                      seq_lens: list[int] | None = None) -> AttentionMetadata:
        """This step's metadata; `slots_valid`: no slot is -1 (every token is written to the cache);
        `seq_lens`: each sequence's length for dual chunk attention's length factor (default ctx_lens)."""
        dev = self.device
        width = max(1, max(len(b) for b in block_tables))
        tables = torch.tensor([b + [0] * (width - len(b)) for b in block_tables], dtype=torch.int32)
        return AttentionMetadata(
            mode=mode, slot_mapping=slots,
            cu_seqlens_q=torch.tensor([0, *itertools.accumulate(q_lens)], dtype=torch.int32).to(dev),
            context_lens=torch.tensor(ctx_lens, dtype=torch.int32, device=dev),
            block_tables=tables.to(dev), max_seqlen_q=max(q_lens), max_seqlen_k=max(ctx_lens),
            sparse=self._sparse_plan(mode, q_lens, ctx_lens, block_tables) if plan_sparse else None,
            kv_spans=self._kv_spans(ctx_lens, block_tables) if mode == "decode" and dev.type == "cpu" else None,
            slots_valid=slots_valid,
            dual_chunk=self._dual_chunk_meta(q_lens, ctx_lens, seq_lens or ctx_lens),
        )

    def _dual_chunk_meta(self, q_lens: list[int], ctx_lens: list[int], seq_lens: list[int]) -> DualChunkMeta | None:
        """Host-side lists and the per-token length factor (vLLM's: a sequence's prompt length, or its
        current length once generation passes it)."""
        if self.dual_chunk is None:
            return None
        factors = [self.dual_chunk.length_scale(n) for n in seq_lens]
        scale = None
        if any(f != 1.0 for f in factors):
            per_token = [f for f, n in zip(factors, q_lens, strict=True) for _ in range(n)]
            scale = torch.tensor(per_token, dtype=torch.float32, device=self.device)
        return DualChunkMeta(self.dual_chunk.chunk_len, [0, *itertools.accumulate(q_lens)], list(ctx_lens), scale)

    def _kv_spans(self, ctx_lens: list[int], block_tables: list[list[int]]) -> list[slice] | None:
        """Each sequence's cached tokens as one slice of the cache's flat slot axis, found once per step for
        every layer; None unless every sequence's blocks are consecutive (the usual case at batch 1)."""
        bs = self.block_size
        spans = []
        for n, table in zip(ctx_lens, block_tables, strict=True):
            nblk = -(-n // bs)
            first = table[0] if nblk else 0
            if table[:nblk] != list(range(first, first + nblk)):
                return None
            spans.append(slice(first * bs, first * bs + n))
        return spans

    def _sparse_plan(self, mode: str, q_lens: list[int], ctx_lens: list[int], block_tables: list[list[int]]
                     ) -> SparsePlan | None:
        """Split the step into vertical-slash sequences and a dense remainder (None: all dense)."""
        if not self.engine.sparse_prefill or mode == "decode" or self.dual_chunk is not None:
            return None
        picked = sparse_indices(q_lens, ctx_lens, self.engine.sparse_prefill_threshold)
        if not picked:
            return None
        starts = [0]
        for n in q_lens:
            starts.append(starts[-1] + n)
        seqs = [SparseSeq(i, starts[i], starts[i + 1], ctx_lens[i]) for i in picked]
        chosen = set(picked)
        rest = [i for i in range(len(q_lens)) if i not in chosen]
        if not rest:
            return SparsePlan(self.sparse_config, seqs, None, None)
        rows = torch.cat([torch.arange(starts[i], starts[i + 1]) for i in rest]).to(self.device)
        meta = self.make_metadata(mode, [q_lens[i] for i in rest], [ctx_lens[i] for i in rest],
                                  [block_tables[i] for i in rest], slots=rows.new_empty(0), plan_sparse=False)
        return SparsePlan(self.sparse_config, seqs, rows, meta)

    @torch.inference_mode()
    def prefill_logits(self, token_ids: list[int], keep: list[int] | None = None) -> torch.Tensor:
        """Logits [len(keep), V] of one sequence's positions `keep` (default: all), in one pass that
        leaves the KV cache untouched (slots -1): for scoring and for checking against references."""
        n = len(token_ids)
        dev = self.device
        meta = self.make_metadata("prefill", [n], [n], [[]], slots=torch.full((n,), -1, dtype=torch.long, device=dev))
        hidden = self.model(torch.tensor(token_ids, device=dev), torch.arange(n, device=dev), meta)
        if keep is not None:
            hidden = hidden[torch.tensor(keep, device=dev)]
        return self.model.compute_logits(hidden).float()

    @torch.inference_mode()
    def run(self, batch: ScheduledBatch) -> tuple[torch.Tensor | None, list[int]]:
        """One forward over the batch; returns logits [S, V] for the S sequences that complete their
        pending tokens this step (prefill finished or decode) and their indices in the batch."""
        ids: list[int] = []
        positions: list[int] = []
        slots: list[int] = []
        last: list[int] = []
        sample_idx: list[int] = []
        q_lens: list[int] = []
        ctx_lens: list[int] = []
        bs = self.block_size
        for i, (seq, n) in enumerate(zip(batch.seqs, batch.num_tokens, strict=True)):
            start = seq.num_computed_tokens
            ids.extend(seq.token_ids[start : start + n])
            positions.extend(range(start, start + n))
            table = seq.block_table
            slots.extend(table[p // bs] * bs + p % bs for p in range(start, start + n))
            q_lens.append(n)
            ctx_lens.append(start + n)
            if start + n == seq.num_tokens:
                last.append(len(ids) - 1)
                sample_idx.append(i)
        if all(seq.num_computed_tokens == 0 for seq in batch.seqs):
            mode = "prefill"
        elif all(n == 1 for n in batch.num_tokens):
            mode = "decode"
        else:
            mode = "mixed"
        dev = self.device
        tables = [s.block_table for s in batch.seqs]
        if mode == "decode" and self.decode_graphs is not None and self.decode_graphs.fits(len(ids)):
            hidden = self.decode_graphs.run(ids, positions, slots, ctx_lens, tables)
        else:
            seq_lens = [max(len(s.prompt_token_ids), c) for s, c in zip(batch.seqs, ctx_lens, strict=True)]
            meta = self.make_metadata(mode, q_lens, ctx_lens, tables, torch.tensor(slots, dtype=torch.long, device=dev),
                                      slots_valid=True, seq_lens=seq_lens)
            hidden = self.model(torch.tensor(ids, dtype=torch.long, device=dev),
                                torch.tensor(positions, dtype=torch.long, device=dev), meta)
        if not last:
            return None, []
        logits = self.model.compute_logits(hidden[torch.tensor(last, device=dev)])
        return logits.float(), sample_idx
