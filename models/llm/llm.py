"""`LLM`: the public, thread-safe front of the engine.

One background thread owns the engine and runs `step()` while any request is unfinished; callers from any
thread put requests into an inbox and read their own outputs from a per-request queue. Requests arriving
while others decode join the running batch at the next step (continuous batching across callers)."""

from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from longlens.models.llm.engine import LLMEngine
from longlens.models.llm.outputs import RequestOutput
from longlens.models.llm.sequence import SamplingParams

_DONE = object()


@dataclass
class _Request:
    request_id: str
    prompt: str | list[int]
    params: SamplingParams
    outbox: queue.Queue = field(default_factory=queue.Queue)


class LLM:
    def __init__(self, model: str | Path | None, **engine_kwargs: Any):
        self.engine = LLMEngine(model, **engine_kwargs)
        self.tokenizer = self.engine.tokenizer
        self._inbox: queue.Queue = queue.Queue()
        self._live: dict[str, _Request] = {}
        self._ids = itertools.count()
        self._start_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False

    # ---- the engine loop (the only thread that touches the engine) ----
    def _ensure_thread(self) -> None:
        with self._start_lock:
            if self._closed:
                raise RuntimeError("LLM is closed")
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="longlens-llm-engine", daemon=True)
                self._thread.start()

    def _loop(self) -> None:
        while True:
            commands: list = []
            try:  # sleep only while idle; otherwise take whatever arrived and keep stepping
                commands.append(self._inbox.get(block=not self.engine.has_unfinished()))
                while True:
                    commands.append(self._inbox.get_nowait())
            except queue.Empty:
                pass
            for cmd in commands:
                if cmd is None:  # close
                    self._fail_all(RuntimeError("LLM closed"))
                    return
                kind, payload = cmd
                if kind == "add":
                    for req in payload:
                        try:
                            self.engine.add_request(req.request_id, req.prompt, req.params)
                            self._live[req.request_id] = req
                        except Exception as exc:  # bad prompt: that caller gets the error, others go on
                            req.outbox.put(exc)
                elif kind == "abort" and payload in self._live:
                    self.engine.abort(payload)
                    self._live.pop(payload).outbox.put(_DONE)
            if not self.engine.has_unfinished():
                continue
            try:
                outputs = self.engine.step()
            except Exception as exc:  # keep serving: fail the requests in flight, free their state
                self._fail_all(exc)
                continue
            for out in outputs:
                req = self._live.get(out.request_id)
                if req is None:
                    continue
                req.outbox.put(out)
                if out.finished:
                    req.outbox.put(_DONE)
                    del self._live[out.request_id]

    def _fail_all(self, exc: BaseException) -> None:
        for rid, req in list(self._live.items()):
            self.engine.abort(rid)
            req.outbox.put(exc)
        self._live.clear()

    # ---- caller side ----
    def _submit(self, prompts: list[str | list[int]], params: list[SamplingParams]) -> list[_Request]:
        self._ensure_thread()
        reqs = [_Request(f"req-{next(self._ids)}", p, sp) for p, sp in zip(prompts, params, strict=True)]
        self._inbox.put(("add", reqs))  # one message: all of them join the same step
        return reqs

    @staticmethod
    def _outputs(req: _Request) -> Iterator[RequestOutput]:
        while True:
            item = req.outbox.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def generate(self, prompts: str | list[str] | list[list[int]],
                 sampling_params: SamplingParams | list[SamplingParams] | None = None) -> list[RequestOutput]:
        """Run every prompt (text, or token ids) to completion in one batch; outputs in prompt order."""
        if isinstance(prompts, str) or (prompts and isinstance(prompts[0], int)):
            prompts = [prompts]  # type: ignore[list-item]
        params = sampling_params or SamplingParams()
        plist = params if isinstance(params, list) else [params] * len(prompts)
        reqs = self._submit(list(prompts), plist)
        results = []
        for req in reqs:
            outs = list(self._outputs(req))
            results.append(outs[-1])
        return results

    def stream_outputs(self, prompt: str | list[int], params: SamplingParams | None = None
                       ) -> Iterator[RequestOutput]:
        """Per-step outputs of one request; closing the iterator early aborts the request."""
        (req,) = self._submit([prompt], [params or SamplingParams()])
        finished = False
        try:
            for out in self._outputs(req):
                finished = out.finished
                yield out
        finally:
            if not finished:
                self._inbox.put(("abort", req.request_id))

    def stream(self, prompt: str | list[int], params: SamplingParams | None = None) -> Iterator[str]:
        """The answer's text as it is produced (never a split character, never part of a stop string)."""
        for out in self.stream_outputs(prompt, params):
            if out.delta:
                yield out.delta

    def close(self) -> None:
        with self._start_lock:
            self._closed = True
            thread = self._thread
        if thread is not None and thread.is_alive():
            self._inbox.put(None)
            thread.join(timeout=30)

    def __enter__(self) -> LLM:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
