"""The OpenAI-compatible HTTP generator against a fake streaming server on 127.0.0.1 (stdlib http.server)."""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from longlens.models.generation import GenerationParams, Generator
from longlens.models.openai_generator import LLMServerError, OpenAICompatibleGenerator
from longlens.schema import LongLensError

ANSWER = ["The Orinoco ", "delta has ", "43 channels [1]."]
CHAT = [{"role": "system", "content": "Cite passages as [n]."}, {"role": "user", "content": "How many channels?"}]


def sse(pieces: list[str], *, done: bool = True) -> list[str]:
    """The event lines vLLM sends: a role-only delta, one delta per piece, a finish_reason, then [DONE]."""
    chunk = lambda delta, finish=None: json.dumps({"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
    lines = [f"data: {chunk({'role': 'assistant'})}"] + [f"data: {chunk({'content': p})}" for p in pieces]
    lines.append(f"data: {chunk({}, 'stop')}")
    return lines + ["data: [DONE]"] if done else lines


class FakeServer(ThreadingHTTPServer):
    """Records each request; answers with `status` + `error_body`, or streams `events` (one SSE line each)."""

    daemon_threads = True
    block_on_close = False  # do not wait for a handler still sleeping in the timeout test

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[dict] = []
        self.status = 200
        self.error_body = ""
        self.events = sse(ANSWER)
        self.delay = 0.0
        self.content_type = "text/event-stream"

    def handle_error(self, request: object, client_address: object) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client that timed out and hung up is expected
            super().handle_error(request, client_address)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: FakeServer

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
        time.sleep(self.server.delay)
        if self.server.status != 200:
            self.send_response(self.server.status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(self.server.error_body.encode())
            return
        self.send_response(200)
        self.send_header("Content-Type", self.server.content_type)
        self.end_headers()
        for line in self.server.events:
            self.wfile.write(f"{line}\n\n".encode())
            self.wfile.flush()

    def log_message(self, *args: object) -> None:  # keep test output quiet
        pass


@pytest.fixture
def server(monkeypatch):
    for var in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY", "OPENAI_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    srv = FakeServer()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def test_streams_the_answer_and_sends_the_parameters(server):
    gen = OpenAICompatibleGenerator(f"{server.url}/v1", "qwen2.5-7b-instruct", api_key="sk-test")
    params = GenerationParams(max_tokens=64, temperature=0.2, top_p=0.9, stop=["\n\nQuestion:"], seed=7)
    assert list(gen.stream(CHAT, params)) == ANSWER

    (req,) = server.requests
    assert req["path"] == "/v1/chat/completions"
    assert req["headers"]["Authorization"] == "Bearer sk-test"
    assert req["body"] == {
        "model": "qwen2.5-7b-instruct",
        "messages": CHAT,
        "stream": True,
        "max_tokens": 64,
        "temperature": 0.2,
        "top_p": 0.9,
        "stop": ["\n\nQuestion:"],
        "seed": 7,
    }


def test_defaults_send_no_server_specific_fields_and_extensions_only_when_set(server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    gen = OpenAICompatibleGenerator(server.url + "/", "m")  # bare host: /v1 is added
    "".join(gen.stream(CHAT, GenerationParams()))
    "".join(gen.stream(CHAT, GenerationParams(top_k=40, repetition_penalty=1.1)))
    plain, extended = (r["body"] for r in server.requests)
    assert server.requests[0]["path"] == "/v1/chat/completions"
    assert server.requests[0]["headers"]["Authorization"] == "Bearer sk-env"
    assert plain["max_tokens"] == 512 and plain["temperature"] == 0.0
    assert not {"stop", "seed", "top_k", "repetition_penalty"} & set(plain)
    assert (extended["top_k"], extended["repetition_penalty"]) == (40, 1.1)


def test_no_api_key_sends_no_authorization(server):
    "".join(OpenAICompatibleGenerator(server.url, "m").stream(CHAT, GenerationParams()))
    assert "Authorization" not in server.requests[0]["headers"]


def test_http_500_carries_the_servers_message(server):
    server.status, server.error_body = 500, json.dumps({"error": {"message": "CUDA out of memory", "code": 500}})
    gen = OpenAICompatibleGenerator(server.url, "m")
    with pytest.raises(LongLensError, match=r"127\.0\.0\.1.*HTTP 500: CUDA out of memory"):
        list(gen.stream(CHAT, GenerationParams()))


def test_http_400_vllm_style_error(server):
    server.status = 400
    server.error_body = json.dumps({"object": "error", "message": "max_tokens is too large", "code": 400})
    with pytest.raises(LLMServerError, match="HTTP 400: max_tokens is too large"):
        list(OpenAICompatibleGenerator(server.url, "m").stream(CHAT, GenerationParams(max_tokens=10**6)))


def test_refused_connection_names_the_url():
    with socket.socket() as s:  # a port that was free a moment ago and has no listener now
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    gen = OpenAICompatibleGenerator(f"http://127.0.0.1:{port}/v1", "m")
    with pytest.raises(LongLensError, match=rf"http://127\.0\.0\.1:{port}/v1/chat/completions.*connection refused"):
        list(gen.stream(CHAT, GenerationParams()))


@pytest.mark.parametrize(
    ("events", "match"),
    [
        (["data: {not json"], "malformed event"),
        (["<html>502 Bad Gateway</html>"], "malformed event stream"),
        (sse(["partial "], done=False)[:-1], "ended before the answer was complete"),
        (['data: {"object": "error", "message": "engine died"}'], "failed while answering: engine died"),
    ],
)
def test_bad_streams_are_errors(server, events, match):
    server.events = events
    with pytest.raises(LLMServerError, match=match):
        list(OpenAICompatibleGenerator(server.url, "m").stream(CHAT, GenerationParams()))


def test_tolerates_comments_and_missing_done(server):
    server.events = [": keep-alive", *sse(ANSWER, done=False)]
    assert list(OpenAICompatibleGenerator(server.url, "m").stream(CHAT, GenerationParams())) == ANSWER


def test_non_streaming_json_reply_is_accepted(server):
    server.content_type = "application/json"
    server.events = [json.dumps({"choices": [{"message": {"role": "assistant", "content": "whole answer"}}]})]
    assert list(OpenAICompatibleGenerator(server.url, "m").stream(CHAT, GenerationParams())) == ["whole answer"]


def test_timeout_is_clear(server):
    server.delay = 1.0
    gen = OpenAICompatibleGenerator(server.url, "m", timeout=0.2)
    with pytest.raises(LLMServerError, match="did not answer within 0.2 s"):
        list(gen.stream(CHAT, GenerationParams()))


def test_protocol_token_estimate_and_factory(tmp_path):
    from longlens.answer.generators import make_generator
    from longlens.config import Settings

    gen = make_generator(Settings(tmp_path, generator="openai", llm="served", llm_base_url="http://10.0.0.5:8000/v1"))
    assert isinstance(gen, OpenAICompatibleGenerator) and isinstance(gen, Generator)
    assert (gen.name, gen.url, gen.context_window) == ("served", "http://10.0.0.5:8000/v1/chat/completions", 32768)
    assert gen.count_tokens("") == 0 and gen.count_tokens("abcd") == 1 and gen.count_tokens("abcde") == 2
    with pytest.raises(LongLensError, match="http://host:port/v1"):
        OpenAICompatibleGenerator("localhost:8000", "m")
