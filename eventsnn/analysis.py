"""Small spike-train statistics used by the examples and the command line."""
from __future__ import annotations

import numpy as np


def cv_isi(times, ids, n: int, min_spikes: int = 3) -> float:
    """Mean coefficient of variation of inter-spike intervals over neurons that fired
    at least ``min_spikes`` times (nan if none did).

    Parameters
    ----------
    times : array of float
        Spike times (ms), sorted by time.
    ids : array of int
        Local neuron ids in [0, n).
    """
    times = np.asarray(times, dtype=float)
    ids = np.asarray(ids, dtype=np.int64)
    if times.size == 0:
        return float("nan")
    order = np.lexsort((times, ids))
    t = times[order]
    i = ids[order]
    isi = np.diff(t)
    same = i[1:] == i[:-1]
    isi = isi[same]
    owner = i[1:][same]
    counts = np.bincount(owner, minlength=n)
    ok = counts >= max(min_spikes - 1, 2)
    if not ok.any():
        return float("nan")
    s1 = np.bincount(owner, weights=isi, minlength=n)
    s2 = np.bincount(owner, weights=isi * isi, minlength=n)
    mean = s1[ok] / counts[ok]
    var = s2[ok] / counts[ok] - mean * mean
    return float(np.mean(np.sqrt(np.maximum(var, 0.0)) / mean))
