"""Notice and time kernel compilation.

Numba compiles a kernel the first time it meets new argument types and caches the
machine code on disk (``cache=True``); a later process loads it in milliseconds.  The
first run on a machine therefore spends tens of seconds compiling, which a new user
would otherwise take for simulation time.  A listener on Numba's ``numba:compile``
events (not sent for cache hits) says so once per process on stderr and adds up the
time, for ``compile_time()``.  ``EVENTSNN_QUIET=1`` silences the notice.
"""
from __future__ import annotations

import os
import sys
import threading
import time

from numba.core import event

__all__ = ["compile_time", "Stopwatch"]

NOTICE = ("eventsnn: compiling kernels (first run on this machine only, cached afterwards; "
          "about 20-90 s depending on the network's features) ...")


class _Watch(event.Listener):
    def __init__(self):
        self.depth = 0
        self.t0 = 0.0
        self.total = 0.0
        self.told = False
        self.lock = threading.Lock()

    def on_start(self, ev):
        with self.lock:
            if self.depth == 0:
                self.t0 = time.perf_counter()
                if not self.told:
                    self.told = True
                    if not os.environ.get("EVENTSNN_QUIET"):
                        print(NOTICE, file=sys.stderr, flush=True)
            self.depth += 1

    def on_end(self, ev):
        with self.lock:
            self.depth -= 1
            if self.depth == 0:
                self.total += time.perf_counter() - self.t0


_watch = _Watch()
event.register("numba:compile", _watch)


def compile_time() -> float:
    """Seconds this process has spent compiling kernels (0 when every kernel came from
    the on-disk cache)."""
    with _watch.lock:
        extra = time.perf_counter() - _watch.t0 if _watch.depth else 0.0
        return _watch.total + extra


class Stopwatch:
    """Wall time of a block, with the kernel compilation inside it counted apart::

        with ev.Stopwatch() as sim:
            res = net.run(1000.0)
        sim.seconds, sim.compile       # simulation (s), compilation (s; 0 on a warm cache)
    """

    def __enter__(self):
        self.compile = 0.0
        self.seconds = 0.0
        self._c = compile_time()
        self._w = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.compile = compile_time() - self._c
        self.seconds = time.perf_counter() - self._w - self.compile
        return False
