"""Worker processes that end with their parent: a killed `longlens ingest` leaves no parser workers behind.

A pool worker blocked on its task queue never learns that the parent is gone (kill -9 runs no clean-up), and
the resource tracker lives as long as any worker holds its pipe. So each worker asks the kernel for SIGKILL
when its parent dies (Linux `prctl(PR_SET_PDEATHSIG)`), and, where that is missing or does not apply, a
watchdog thread exits once the parent's pid is no longer its parent's.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
import threading
import time

PR_SET_PDEATHSIG = 1
WATCH_EVERY_S = 0.5


def die_with_parent(parent_pid: int) -> None:
    """Pool initializer: end this worker as soon as process `parent_pid` is gone."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except OSError:
            pass
    if os.getppid() != parent_pid:  # the parent died before the request took effect
        os._exit(1)
    threading.Thread(target=_watch, args=(parent_pid,), name="longlens-parent-watch", daemon=True).start()


def _watch(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(WATCH_EVERY_S)
    os._exit(1)
