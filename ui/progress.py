"""An IngestProgress that the upload handler polls, so the browser sees each file's progress live."""

from __future__ import annotations

import threading
from pathlib import Path


class QueueProgress:
    def __init__(self) -> None:
        self.done = threading.Event()
        self._lock = threading.Lock()
        self._files: dict[str, list] = {}

    def batch_started(self, total_files: int) -> None: ...

    def file_started(self, path: str, chunks: int, pages: int | None = None) -> None:
        with self._lock:
            self._files[path] = [0, max(chunks, 1), "ingesting", ""]

    def file_advanced(self, path: str, chunks: int) -> None:
        with self._lock:
            self._files.setdefault(path, [0, 1, "ingesting", ""])[0] += chunks

    def file_finished(self, path: str, status: str, detail: str) -> None:
        with self._lock:
            entry = self._files.setdefault(path, [0, 1, status, detail])
            entry[0], entry[2], entry[3] = entry[1], status, detail

    def fail_unfinished(self, paths: list[str], reason: str) -> None:
        """Mark every file of the batch that has no outcome yet as failed, with `reason`."""
        reason = reason.encode("utf-8", "replace").decode("utf-8")  # never a lone surrogate in the response
        with self._lock:
            for path in paths:
                entry = self._files.setdefault(path, [0, 1, "ingesting", ""])
                if entry[2] == "ingesting":
                    entry[0], entry[2], entry[3] = entry[1], "failed", reason

    def lines(self) -> list[str]:
        with self._lock:
            return [f"- {Path(p).name}: {s} {100 * d // t}% {detail}".rstrip()
                    for p, (d, t, s, detail) in self._files.items()]
