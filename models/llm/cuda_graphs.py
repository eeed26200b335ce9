"""Decode steps replayed from CUDA graphs: one graph per padded batch size, captured once at start-up.

A decode step of a 7B model is a few hundred small kernel launches; issued from Python they cost more than
the GPU time they start. A graph replays them all with one launch. Everything a step varies lives in static
buffers the graph was captured on (token ids, positions, cache slots, context lengths, block tables), so a
step only copies its inputs in. The split-K decode kernel is captured with the split count of the longest
context the engine serves; each split sizes its slice from the live context length on the device.

A batch is padded up to the next captured size with rows that write nowhere (slot -1) and attend to nothing
(context 0). On a CPU there is no graph: `capture=False` replays the same forward eagerly on the same static
buffers, which is how the padding and buffer logic is tested without a GPU.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import torch
from torch import nn

from longlens.models.llm.attention_metadata import AttentionMetadata


class GraphRunner(Protocol):
    """What the graphs need of the model runner that owns them (a protocol, so the two do not import each
    other)."""

    device: torch.device
    max_model_len: int
    block_size: int
    model: nn.Module


def graph_batch_sizes(max_num_seqs: int) -> list[int]:
    """1, 2, 4, 8, then every 16 up to `max_num_seqs` (which is always included)."""
    sizes = [b for b in (1, 2, 4, 8) if b < max_num_seqs]
    sizes += list(range(16, max_num_seqs, 16))
    return sorted({*sizes, max_num_seqs})


class DecodeGraphs:
    def __init__(self, runner: GraphRunner, batch_sizes: list[int], capture: bool = True):
        self.runner = runner
        self.batch_sizes = sorted(batch_sizes)
        self.capture = capture
        dev = runner.device
        most = self.batch_sizes[-1]
        max_blocks = -(-runner.max_model_len // runner.block_size)
        self.input_ids = torch.zeros(most, dtype=torch.long, device=dev)
        self.positions = torch.zeros(most, dtype=torch.long, device=dev)
        self.slots = torch.full((most,), -1, dtype=torch.long, device=dev)
        self.context_lens = torch.zeros(most, dtype=torch.int32, device=dev)
        self.block_tables = torch.zeros(most, max_blocks, dtype=torch.int32, device=dev)
        self.cu_seqlens = torch.arange(most + 1, dtype=torch.int32, device=dev)
        self._replay: dict[int, Callable[[], None]] = {}
        self._outputs: dict[int, torch.Tensor] = {}
        self._pool = None
        for bs in reversed(self.batch_sizes):  # largest first: smaller graphs reuse its memory pool
            self._capture(bs)

    def _meta(self, bs: int) -> AttentionMetadata:
        return AttentionMetadata(
            mode="decode", slot_mapping=self.slots[:bs], cu_seqlens_q=self.cu_seqlens[: bs + 1],
            context_lens=self.context_lens[:bs], block_tables=self.block_tables[:bs], max_seqlen_q=1,
            max_seqlen_k=self.runner.max_model_len,
        )

    @torch.inference_mode()
    def _capture(self, bs: int) -> None:
        meta = self._meta(bs)
        model = self.runner.model

        def forward() -> torch.Tensor:
            return model(self.input_ids[:bs], self.positions[:bs], meta)

        if not self.capture:
            def replay() -> None:
                self._outputs[bs] = forward()

            self._replay[bs] = replay
            return
        side = torch.cuda.Stream(device=self.runner.device)
        side.wait_stream(torch.cuda.current_stream(self.runner.device))
        with torch.cuda.stream(side):  # compile and autotune the Triton kernels outside the capture
            for _ in range(2):
                forward()
        torch.cuda.current_stream(self.runner.device).wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph, pool=self._pool):
            self._outputs[bs] = forward()
        self._pool = graph.pool()
        self._replay[bs] = graph.replay

    def fits(self, num_seqs: int) -> bool:
        return num_seqs <= self.batch_sizes[-1]

    @torch.inference_mode()
    def run(self, token_ids: list[int], positions: list[int], slots: list[int], context_lens: list[int],
            block_tables: list[list[int]]) -> torch.Tensor:
        """Hidden states [n, H] of one decode step of n sequences (one new token each)."""
        n = len(token_ids)
        bs = next(b for b in self.batch_sizes if b >= n)
        dev = self.runner.device
        self.input_ids[:n].copy_(torch.tensor(token_ids, dtype=torch.long), non_blocking=True)
        self.positions[:n].copy_(torch.tensor(positions, dtype=torch.long), non_blocking=True)
        self.slots[:n].copy_(torch.tensor(slots, dtype=torch.long), non_blocking=True)
        self.context_lens[:n].copy_(torch.tensor(context_lens, dtype=torch.int32), non_blocking=True)
        width = max(len(t) for t in block_tables)
        tables = torch.zeros(n, width, dtype=torch.int32)
        for i, t in enumerate(block_tables):
            tables[i, : len(t)] = torch.tensor(t, dtype=torch.int32)
        self.block_tables[:bs].zero_()
        self.block_tables[:n, :width].copy_(tables.to(dev), non_blocking=True)
        if bs > n:  # padding rows: write to no slot, attend to no key
            self.input_ids[n:bs].zero_()
            self.positions[n:bs].zero_()
            self.slots[n:bs].fill_(-1)
            self.context_lens[n:bs].zero_()
        self._replay[bs]()
        return self._outputs[bs][:n]
