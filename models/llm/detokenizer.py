"""Incremental detokenization that never emits half a character.

Byte-level BPE splits a multi-byte character (an emoji, CJK) over several tokens; decoding a prefix then
ends in U+FFFD. Text is emitted only once the newest tokens decode cleanly, as the difference between the
decode of a short window with and without them (so a leading space/merge is right without decoding the
whole output each step)."""

from __future__ import annotations

from typing import Any

from longlens.models.llm.sequence import Sequence


def detokenize_incrementally(tokenizer: Any, seq: Sequence, flush: bool = False) -> str:
    """The new text of `seq` since the last call (updates its offsets and output_text)."""
    ids = seq.token_ids
    if seq.read_offset == 0:  # start with a few prompt tokens as context, as TGI/vLLM do
        seq.read_offset = seq.num_prompt_tokens
        seq.prefix_offset = max(0, seq.num_prompt_tokens - 5)
    skip = seq.params.skip_special_tokens
    prefix_text = tokenizer.decode(ids[seq.prefix_offset : seq.read_offset], skip_special_tokens=skip)
    new_text = tokenizer.decode(ids[seq.prefix_offset :], skip_special_tokens=skip)
    if len(new_text) > len(prefix_text) and (flush or not new_text.endswith("\ufffd")):
        delta = new_text[len(prefix_text) :]
        seq.prefix_offset, seq.read_offset = seq.read_offset, len(ids)
        seq.output_text += delta
        return delta
    return ""
