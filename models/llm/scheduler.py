"""Continuous batching with chunked prefill (vLLM v1 style): every step hands each running sequence the
tokens it still needs (a decode needs one, a prefill a chunk), within `max_num_batched_tokens`, then admits
waiting sequences. A long prompt is therefore prefilled in chunks and never needs whole-prompt activations.
When KV blocks run out, the most recently admitted sequence is preempted: its blocks are freed and it is
recomputed later from its tokens (prompt + output so far), which gives the same tokens as never stopping."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from longlens.models.llm.block_manager import BlockManager
from longlens.models.llm.sequence import Sequence, SequenceStatus


@dataclass
class ScheduledBatch:
    """Sequences and how many new tokens each computes this step (same order)."""

    seqs: list[Sequence] = field(default_factory=list)
    num_tokens: list[int] = field(default_factory=list)
    preempted: list[Sequence] = field(default_factory=list)

    @property
    def total_tokens(self) -> int:
        return sum(self.num_tokens)

    def __bool__(self) -> bool:
        return bool(self.seqs)


class Scheduler:
    def __init__(self, block_manager: BlockManager, max_num_seqs: int, max_num_batched_tokens: int):
        self.block_manager = block_manager
        self.max_num_seqs = max_num_seqs
        self.max_num_batched_tokens = max_num_batched_tokens
        self.waiting: deque[Sequence] = deque()
        self.running: list[Sequence] = []

    def add(self, seq: Sequence) -> None:
        seq.status = SequenceStatus.WAITING
        self.waiting.append(seq)

    def has_unfinished(self) -> bool:
        return bool(self.waiting or self.running)

    def _preempt(self, seq: Sequence, batch: ScheduledBatch) -> None:
        self.block_manager.free(seq)
        seq.num_computed_tokens = 0
        seq.status = SequenceStatus.WAITING
        seq.num_preemptions += 1
        self.running.remove(seq)
        self.waiting.appendleft(seq)
        batch.preempted.append(seq)

    def _fit(self, seq: Sequence, n: int) -> int:
        """The most of `n` new tokens that fit in the free blocks (a prefill chunk may shrink to fit)."""
        bm = self.block_manager
        room = (len(seq.block_table) + bm.num_free_blocks) * bm.block_size - seq.num_computed_tokens
        return max(0, min(n, room))

    def schedule(self) -> ScheduledBatch:
        batch = ScheduledBatch()
        budget = self.max_num_batched_tokens
        # 1. running sequences first, oldest first; free blocks by preempting the newest when none fit
        i = 0
        while i < len(self.running) and budget > 0:
            seq = self.running[i]
            n = self._fit(seq, min(seq.num_uncomputed, budget))
            while n == 0:
                victim = self.running[-1]
                if victim in batch.seqs:  # never preempt a sequence already computing in this step
                    break
                self._preempt(victim, batch)
                if victim is seq:
                    break
                n = self._fit(seq, min(seq.num_uncomputed, budget))
            if seq.status != SequenceStatus.RUNNING:
                continue  # preempted itself: index i now holds the next sequence
            i = self.running.index(seq)  # preempting may have shifted the list
            if n == 0:
                i += 1
                continue
            self._take(seq, n, batch)
            budget -= n
            i += 1
        # 2. admit waiting sequences while there is budget, room and blocks (none preempted this step)
        while self.waiting and budget > 0 and len(self.running) < self.max_num_seqs and not batch.preempted:
            seq = self.waiting[0]
            n = self._fit(seq, min(seq.num_uncomputed, budget))
            if n == 0:
                break
            self.waiting.popleft()
            seq.status = SequenceStatus.RUNNING
            self.running.append(seq)
            self._take(seq, n, batch)
            budget -= n
        return batch

    def _take(self, seq: Sequence, n: int, batch: ScheduledBatch) -> None:
        self.block_manager.allocate(seq, n)
        batch.seqs.append(seq)
        batch.num_tokens.append(n)

    def finish(self, seq: Sequence, reason: str) -> None:
        """Mark finished and give its blocks back (also used for aborts, from any queue)."""
        seq.status = SequenceStatus.FINISHED
        seq.finish_reason = reason
        self.block_manager.free(seq)
        if seq in self.running:
            self.running.remove(seq)
        elif seq in self.waiting:
            self.waiting.remove(seq)
