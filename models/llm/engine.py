"""LLMEngine: requests in, one scheduled forward per `step()`, per-request outputs out. Not thread-safe
by design: `LLM` drives it from a single background thread and serves many callers from there."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from longlens.models.llm.block_manager import BlockManager
from longlens.models.llm.config import EngineConfig, ModelConfig
from longlens.models.llm.detokenizer import detokenize_incrementally
from longlens.models.llm.model_runner import ModelRunner
from longlens.models.llm.outputs import CompletionOutput, RequestOutput
from longlens.models.llm.sampler import Sampler
from longlens.models.llm.scheduler import Scheduler
from longlens.models.llm.sequence import SamplingParams, Sequence


class LLMEngine:
    def __init__(self, model_path: str | Path | None, tokenizer: Any = None, model_config: ModelConfig | None = None,
                 load_format: str = "auto", **engine_kwargs: Any):
        self.config = EngineConfig(**engine_kwargs)
        has_tokenizer = model_path is not None and any(
            (Path(model_path) / f).exists() for f in ("tokenizer.json", "tokenizer_config.json", "tokenizer.model"))
        if tokenizer is None and has_tokenizer:  # without one, prompts must be token ids
            from transformers import AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(str(model_path))
        self.tokenizer = tokenizer
        self.runner = ModelRunner(model_path, self.config, model_config, load_format)
        self.model_config = self.runner.config
        # a sequence longer than the whole cache could never be scheduled: cap the length there
        self.max_model_len = min(self.runner.max_model_len, self.runner.num_blocks * self.config.block_size)
        self.block_manager = BlockManager(self.runner.num_blocks, self.config.block_size)
        self.scheduler = Scheduler(self.block_manager, self.config.max_num_seqs, self.config.max_num_batched_tokens)
        self.sampler = Sampler(self.config.seed)
        self.seqs: dict[str, Sequence] = {}
        self.prompts: dict[str, str | None] = {}
        self.sent: dict[str, int] = {}

    def add_request(self, request_id: str, prompt: str | list[int], params: SamplingParams | None = None) -> None:
        if request_id in self.seqs:
            raise ValueError(f"duplicate request id {request_id}")
        params = params or SamplingParams()
        if isinstance(prompt, str):
            text, ids = prompt, self.tokenizer.encode(prompt, add_special_tokens=False)
        else:
            text, ids = None, [int(t) for t in prompt]
        if not ids:
            raise ValueError("empty prompt")
        if len(ids) >= self.max_model_len:
            raise ValueError(f"prompt of {len(ids)} tokens does not fit max_model_len {self.max_model_len}")
        seq = Sequence(request_id, ids, params)
        self.seqs[request_id] = seq
        self.prompts[request_id] = text
        self.sent[request_id] = 0
        self.scheduler.add(seq)

    def abort(self, request_id: str) -> None:
        seq = self.seqs.pop(request_id, None)
        if seq is not None and not seq.is_finished:
            self.scheduler.finish(seq, "abort")
        self.sampler.release(request_id)
        self.prompts.pop(request_id, None)
        self.sent.pop(request_id, None)

    def has_unfinished(self) -> bool:
        return self.scheduler.has_unfinished()

    def step(self) -> list[RequestOutput]:
        """Schedule, run one forward, sample, and report every request that produced text or finished."""
        batch = self.scheduler.schedule()
        if not batch:
            return []
        logits, sample_idx = self.runner.run(batch)
        for seq, n in zip(batch.seqs, batch.num_tokens, strict=True):
            seq.num_computed_tokens += n
        outputs = []
        if logits is None:
            return outputs
        seqs = [batch.seqs[i] for i in sample_idx]
        tokens = self.sampler(logits, [s.params for s in seqs], [s.token_ids for s in seqs],
                              [s.request_id for s in seqs])
        for seq, token in zip(seqs, tokens, strict=True):
            outputs.append(self._append(seq, token))
        return outputs

    def _append(self, seq: Sequence, token: int) -> RequestOutput:
        p = seq.params
        seq.token_ids.append(token)
        stop_ids = set(p.stop_token_ids or []) | (set() if p.ignore_eos else set(self.model_config.eos_token_ids))
        reason = None
        if token in stop_ids:
            reason = "stop"
        elif self.tokenizer is not None:
            before = len(seq.output_text)
            detokenize_incrementally(self.tokenizer, seq)
            if p.stop:
                hold = max(len(s) for s in p.stop)
                window_start = max(0, before - hold + 1)
                hits = [i for s in p.stop if (i := seq.output_text.find(s, window_start)) >= 0]
                if hits:
                    seq.output_text = seq.output_text[: min(hits)]
                    reason = "stop"
        if reason is None and (len(seq.output_token_ids) >= p.max_tokens or seq.num_tokens >= self.max_model_len):
            reason = "length"
        if reason is not None:
            if reason == "length" and self.tokenizer is not None:  # emit a trailing partial character too
                detokenize_incrementally(self.tokenizer, seq, flush=True)
            self.scheduler.finish(seq, reason)
            self.sampler.release(seq.request_id)
        return self._output(seq)

    def _output(self, seq: Sequence) -> RequestOutput:
        rid = seq.request_id
        # hold back text that could still become the start of a stop string
        hold = 0 if seq.is_finished or not seq.params.stop else max(len(s) for s in seq.params.stop) - 1
        final = max(self.sent[rid], len(seq.output_text) - hold)
        delta = seq.output_text[self.sent[rid] : final]
        self.sent[rid] = final
        out = RequestOutput(
            request_id=rid, prompt=self.prompts.get(rid), prompt_token_ids=seq.prompt_token_ids,
            outputs=[CompletionOutput(0, seq.output_text if seq.is_finished else seq.output_text[:final],
                                      list(seq.output_token_ids), seq.finish_reason)],
            finished=seq.is_finished, delta=delta, num_preemptions=seq.num_preemptions,
        )
        if seq.is_finished:
            self.seqs.pop(rid, None)
            self.prompts.pop(rid, None)
            self.sent.pop(rid, None)
        return out
