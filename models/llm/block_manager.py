"""Paged KV cache bookkeeping: the cache is `num_blocks` blocks of `block_size` token slots; a sequence
owns a list of blocks (its block table), grown as its tokens are computed and freed when it ends or is
preempted. Blocks are not shared (no prefix caching), which keeps this exact and simple."""

from __future__ import annotations

from longlens.models.llm.sequence import Sequence


class BlockManager:
    def __init__(self, num_blocks: int, block_size: int):
        if num_blocks < 1 or block_size < 1:
            raise ValueError("need at least one block of at least one slot")
        self.num_blocks = num_blocks
        self.block_size = block_size
        self.free_blocks: list[int] = list(range(num_blocks - 1, -1, -1))  # pop() hands out block 0 first

    @property
    def num_free_blocks(self) -> int:
        return len(self.free_blocks)

    def blocks_needed(self, seq: Sequence, num_new_tokens: int) -> int:
        """Extra blocks for `seq` to hold its computed tokens plus `num_new_tokens` more."""
        total = seq.num_computed_tokens + num_new_tokens
        return max(0, -(-total // self.block_size) - len(seq.block_table))

    def allocate(self, seq: Sequence, num_new_tokens: int) -> None:
        """Grow the block table so the next `num_new_tokens` tokens have slots (append and first alloc)."""
        need = self.blocks_needed(seq, num_new_tokens)
        if need > len(self.free_blocks):
            raise RuntimeError(f"out of KV blocks: need {need}, have {len(self.free_blocks)}")
        seq.block_table.extend(self.free_blocks.pop() for _ in range(need))

    def free(self, seq: Sequence) -> None:
        self.free_blocks.extend(reversed(seq.block_table))
        seq.block_table = []
