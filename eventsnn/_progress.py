"""A one-line progress bar on stderr for long runs (``Network.run(progress=...)``)."""
from __future__ import annotations

import math
import os
import sys
import time


def _terminal() -> bool:
    try:
        return sys.stderr.isatty() and not os.environ.get("EVENTSNN_QUIET")
    except (AttributeError, ValueError):
        return False


class Progress:
    """Cuts a run over (t0, t_end] (ms) into slices and draws a bar after each.

    enabled: True (always), False (never: one slice) or None (on a terminal only, and
    drawn only once the run has taken ``after`` seconds).  Slices aim at ``slice_s``
    seconds of wall time each, so the bar moves without costing the run much: every
    slice ends with the work a run's end does (the lazy drive of every driven neuron)."""

    def __init__(self, t0, t_end, enabled, label="run", width=30, after=2.0, slice_s=0.25):
        self.t0, self.t_end = t0, t_end
        self.on = _terminal() if enabled is None else bool(enabled)
        self.after = 0.0 if enabled else after
        self.label = label
        self.width = width
        self.slice_s = slice_s
        self.w0 = self.w_last = time.perf_counter()
        self.step = (t_end - t0) / 100.0
        self.drawn = False

    def next_stop(self, t, limit):
        """The end (ms) of the slice after t, at most ``limit``."""
        if not self.on:
            return limit
        return min(t + self.step, limit) if t + self.step < limit else limit

    def update(self, t):
        if not self.on:
            return
        now = time.perf_counter()
        took = now - self.w_last
        self.w_last = now
        if took > 0:
            # the next slice should take about slice_s seconds
            self.step *= min(4.0, max(0.25, self.slice_s / took))
        el = now - self.w0
        if el < self.after:
            return
        total = self.t_end - self.t0
        f = (t - self.t0) / total if total > 0 else 1.0
        k = int(round(f * self.width))
        eta = el / f - el if f > 0 else math.nan
        sys.stderr.write(f"\r{self.label} [{'#' * k}{'.' * (self.width - k)}] {100 * f:5.1f}% "
                         f"{el:6.1f} s, ~{eta:5.1f} s left ")
        sys.stderr.flush()
        self.drawn = True

    def close(self):
        if self.drawn:
            sys.stderr.write("\n")
            sys.stderr.flush()
