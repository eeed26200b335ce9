"""A `Generator` that streams from any OpenAI-compatible `/v1/chat/completions` server (vLLM, SGLang, llama.cpp).

This is how longlens scales past one machine: the model runs on a multi-GPU server and longlens only sends
chats. It uses the standard library (urllib) so that it adds no dependency; proxies follow the usual
`http_proxy`/`no_proxy` environment variables.
"""

from __future__ import annotations

import json
import math
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

from longlens.models.generation import GenerationParams
from longlens.schema import LongLensError

CHARS_PER_TOKEN = 4  # typical for English BPE vocabularies; see `count_tokens`


class LLMServerError(LongLensError):
    """The LLM server could not be reached, refused the request, or sent something we cannot read."""


class OpenAICompatibleGenerator:
    """Streams chat answers over HTTP with Server-Sent Events.

    `base_url` is the API root as OpenAI clients spell it (`http://127.0.0.1:8000/v1`); a bare
    `http://host:port` gets `/v1` added. `api_key` falls back to `OPENAI_API_KEY` (local servers need none).
    `context_window` cannot be asked of every server, so it is configured (default 32768).
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        timeout: float = 120.0,
        context_window: int = 32768,
    ) -> None:
        self.base_url = _api_root(base_url)
        self.url = f"{self.base_url}/chat/completions"
        self.name = model
        self.api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY") or None
        self.timeout = timeout
        self.context_window = context_window

    def count_tokens(self, text: str) -> int:
        """An estimate, len(text)/4 rounded up: tokenizers differ per server and one HTTP call per passage
        would make passage selection slow. It undercounts dense scripts (CJK, code): keep slack in the budget."""
        return math.ceil(len(text) / CHARS_PER_TOKEN)

    def request_body(self, messages: list[dict[str, str]], params: GenerationParams) -> dict[str, Any]:
        """The JSON sent: OpenAI's fields, plus vLLM/SGLang/llama.cpp's `top_k` and `repetition_penalty` only
        when set, so strict servers (which reject unknown fields) still accept the defaults."""
        body: dict[str, Any] = {
            "model": self.name,
            "messages": messages,
            "stream": True,
            "max_tokens": params.max_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
        }
        if params.stop:
            body["stop"] = list(params.stop)
        if params.seed is not None:
            body["seed"] = params.seed
        if params.top_k:
            body["top_k"] = params.top_k
        if params.repetition_penalty != 1.0:
            body["repetition_penalty"] = params.repetition_penalty
        return body

    def stream(self, messages: list[dict[str, str]], params: GenerationParams) -> Iterator[str]:
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        data = json.dumps(self.request_body(messages, params)).encode()
        request = urllib.request.Request(self.url, data=data, headers=headers, method="POST")
        try:
            response = urllib.request.urlopen(request, timeout=self.timeout)
        except urllib.error.HTTPError as exc:
            raise LLMServerError(_http_error_message(self.url, exc)) from exc
        except (urllib.error.URLError, OSError) as exc:
            raise LLMServerError(_connection_message(self.url, exc, self.timeout)) from exc
        with response:
            if response.headers.get_content_type() == "application/json":  # the server ignored `stream: true`
                yield from _whole_answer(self.url, response.read())
                return
            try:
                yield from parse_sse(response, self.url)
            except OSError as exc:  # includes TimeoutError between two events
                raise LLMServerError(_connection_message(self.url, exc, self.timeout)) from exc


def parse_sse(lines: Iterator[bytes], url: str = "the LLM server") -> Iterator[str]:
    """Yield `choices[0].delta.content` from OpenAI-style Server-Sent Events until `data: [DONE]`."""
    finished = False
    for raw in lines:
        line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        if not line or line.startswith(":"):  # event boundary or keep-alive comment
            continue
        field, sep, value = line.partition(":")
        if not sep or field not in ("data", "event", "id", "retry"):
            raise LLMServerError(f"malformed event stream from {url}: {line[:200]!r}")
        if field != "data":
            continue
        payload = value[1:] if value.startswith(" ") else value
        if payload.strip() == "[DONE]":
            return
        try:
            event = json.loads(payload)
        except json.JSONDecodeError as exc:
            raise LLMServerError(f"malformed event from {url}: {payload[:200]!r}") from exc
        if not isinstance(event, dict):
            raise LLMServerError(f"malformed event from {url}: {payload[:200]!r}")
        if event.get("error") or event.get("object") == "error":  # how vLLM/SGLang report a failure mid-answer
            raise LLMServerError(f"the LLM server at {url} failed while answering: {_error_text(event)}")
        choices = event.get("choices") or []
        if choices:
            content = (choices[0].get("delta") or {}).get("content")
            if content:
                yield content
            finished = finished or bool(choices[0].get("finish_reason"))
    if not finished:  # no [DONE] and no finish_reason: the connection dropped mid-answer
        raise LLMServerError(f"the answer stream from {url} ended before the answer was complete")


def _whole_answer(url: str, body: bytes) -> Iterator[str]:
    try:
        event = json.loads(body)
        content = event["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise LLMServerError(f"unexpected reply from {url}: {body[:200]!r}") from exc
    if content:
        yield content


def _api_root(base_url: str) -> str:
    root = base_url.strip().rstrip("/")
    root = root.removesuffix("/chat/completions")
    parts = urllib.parse.urlsplit(root)
    if not parts.scheme or not parts.netloc:
        raise LongLensError(f"the LLM server URL must look like http://host:port/v1, got {base_url!r}")
    return root if parts.path not in ("", "/") else f"{root}/v1"


def _error_text(payload: object) -> str:
    """The message out of OpenAI (`{"error": {"message"}}`), vLLM (`{"message"}`) or plain-text error bodies."""
    if isinstance(payload, dict):
        error = payload.get("error", payload)
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        if isinstance(error, str):
            return error
    return str(payload)[:500]


def _http_error_message(url: str, exc: urllib.error.HTTPError) -> str:
    raw = exc.read().decode("utf-8", errors="replace") if exc.fp is not None else ""
    try:
        detail = _error_text(json.loads(raw))
    except ValueError:
        detail = raw.strip()[:500] or exc.reason
    hint = " (check OPENAI_API_KEY / api_key)" if exc.code in (401, 403) else ""
    return f"the LLM server at {url} answered HTTP {exc.code}: {detail}{hint}"


def _connection_message(url: str, exc: BaseException, timeout: float) -> str:
    reason = getattr(exc, "reason", exc)
    if isinstance(reason, ConnectionRefusedError):
        return f"cannot reach the LLM server at {url}: connection refused (is the server running on that port?)"
    if isinstance(reason, TimeoutError):
        return f"the LLM server at {url} did not answer within {timeout:g} s"
    return f"cannot reach the LLM server at {url}: {reason}"
