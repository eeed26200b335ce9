"""Login throttling: failed logins counted per user name and per client address, then refused for a while.

Gradio's `/login` hands its auth function only the name and the password, so the throttle sits in front of
the route as ASGI middleware: it reads the posted name, refuses a locked name or address with 429 and a
Retry-After before any password is hashed, and learns the outcome from the route's status (200 or 400).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qs

FREE_FAILURES = 5
"""Failed logins a name or an address may make before it has to wait."""
FIRST_WAIT_S = 2.0
"""The wait after the first failure past the free ones; it doubles with each further failure."""
MAX_WAIT_S = 15 * 60.0
FORGET_AFTER_S = 60 * 60.0
"""A name or address with no failure for this long starts afresh."""
MAX_LOGIN_BODY = 64 * 1024


@dataclass
class _Failures:
    count: int = 0
    last: float = 0.0
    locked_until: float = 0.0


class LoginThrottle:
    """Counts failures per key ("user:<name>", "addr:<ip>"); after FREE_FAILURES a key is locked for a wait
    that doubles with every further failure (FIRST_WAIT_S, 2x, 4x, ... up to MAX_WAIT_S)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._failures: dict[str, _Failures] = {}

    def wait_s(self, keys: list[str]) -> float:
        """Seconds until every key may try again (0: go ahead)."""
        now = self.clock()
        with self._lock:
            return max((f.locked_until - now for k in keys if (f := self._failures.get(k))), default=0.0)

    def failed(self, keys: list[str]) -> None:
        now = self.clock()
        with self._lock:
            for key in keys:
                f = self._failures.setdefault(key, _Failures())
                if now - f.last > FORGET_AFTER_S:
                    f.count = 0
                f.count, f.last = f.count + 1, now
                extra = f.count - FREE_FAILURES
                if extra > 0:
                    f.locked_until = now + min(MAX_WAIT_S, FIRST_WAIT_S * 2 ** min(extra - 1, 30))

    def succeeded(self, keys: list[str]) -> None:
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)


def throttle_keys(username: str, address: str | None) -> list[str]:
    return [f"user:{username.strip()}"] + ([f"addr:{address}"] if address else [])


class LoginThrottleMiddleware:
    """ASGI middleware guarding POST .../login with a LoginThrottle."""

    def __init__(self, app, throttle: LoginThrottle | None = None) -> None:  # noqa: ANN001 - an ASGI app
        self.app = app
        self.throttle = throttle or LoginThrottle()

    async def __call__(self, scope, receive, send) -> None:  # noqa: ANN001 - the ASGI interface
        if scope["type"] != "http" or scope["method"] != "POST" or not scope["path"].rstrip("/").endswith("/login"):
            await self.app(scope, receive, send)
            return
        body, messages = b"", []
        while True:
            message = await receive()
            messages.append(message)
            body += message.get("body", b"")
            if not message.get("more_body") or len(body) > MAX_LOGIN_BODY:
                break
        fields = parse_qs(body.decode("utf-8", "replace"))
        client = scope.get("client")
        keys = throttle_keys((fields.get("username") or [""])[0], client[0] if client else None)
        wait = self.throttle.wait_s(keys)
        if wait > 0:
            await _refuse(send, wait)
            return

        async def replay():  # noqa: ANN202 - the buffered body, then whatever the client sends after it
            return messages.pop(0) if messages else await receive()

        status: list[int] = []

        async def watch(message) -> None:  # noqa: ANN001
            if message["type"] == "http.response.start":
                status.append(message["status"])
            await send(message)

        await self.app(scope, replay, watch)
        if status and status[0] == 200:
            self.throttle.succeeded(keys)
        elif status and status[0] in (400, 401):
            self.throttle.failed(keys)


async def _refuse(send, wait_s: float) -> None:  # noqa: ANN001
    seconds = math.ceil(wait_s)
    body = (f'{{"detail": "Too many failed logins: try again in {seconds} s."}}').encode()
    await send({"type": "http.response.start", "status": 429,
                "headers": [(b"content-type", b"application/json"), (b"retry-after", str(seconds).encode()),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
