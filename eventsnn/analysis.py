"""Small spike-train statistics used by the examples, the command line and
:mod:`eventsnn.plot` (NumPy only, no loop over spikes)."""
from __future__ import annotations

import math

import numpy as np

__all__ = ["isi", "cv_per_neuron", "cv_isi", "binned_counts"]


def isi(times, ids):
    """Inter-spike intervals of every neuron.

    Parameters
    ----------
    times : array of float
        Spike times (ms), in any order.
    ids : array of int
        Neuron ids (local or global), aligned with ``times``.

    Returns
    -------
    intervals : ndarray of float
        Intervals between consecutive spikes of the same neuron (ms), grouped by
        neuron (ascending id), in time order within a neuron.
    owner : ndarray of int64
        The neuron of each interval.
    """
    times = np.asarray(times, dtype=float).ravel()
    ids = np.asarray(ids, dtype=np.int64).ravel()
    if times.shape != ids.shape:
        raise ValueError(f"times has {times.size} entries but ids has {ids.size}; they must be aligned")
    # group by neuron, time order within a neuron: consecutive entries of one
    # neuron are then its consecutive spikes
    order = np.lexsort((times, ids))
    t = times[order]
    i = ids[order]
    same = i[1:] == i[:-1]
    return np.diff(t)[same], i[1:][same]


def cv_per_neuron(times, ids, n: int | None = None, min_spikes: int = 3):
    """Coefficient of variation (std / mean) of the inter-spike intervals of every
    neuron that fired at least ``min_spikes`` times.

    Parameters
    ----------
    times, ids : arrays
        Spike times (ms) and neuron ids in [0, n).
    n : int or None
        Number of neurons (default: largest id + 1).
    min_spikes : int
        Neurons with fewer spikes are left out (at least 3: two intervals).

    Returns
    -------
    neurons : ndarray of int64
        Ids of the neurons kept, ascending.
    cv : ndarray of float
        Their CVs (dimensionless; population standard deviation of the intervals).
    """
    intervals, owner = isi(times, ids)
    if n is None:
        n = int(np.max(ids)) + 1 if np.size(ids) else 0
    counts = np.bincount(owner, minlength=n)
    ok = counts >= max(min_spikes - 1, 2)
    # sums of x and x^2 per neuron: the std without a loop over neurons
    s1 = np.bincount(owner, weights=intervals, minlength=n)
    s2 = np.bincount(owner, weights=intervals * intervals, minlength=n)
    mean = s1[ok] / counts[ok]
    var = s2[ok] / counts[ok] - mean * mean
    return np.flatnonzero(ok).astype(np.int64), np.sqrt(np.maximum(var, 0.0)) / mean


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
    if np.size(times) == 0:
        return float("nan")
    _, cv = cv_per_neuron(times, ids, n, min_spikes)
    return float(np.mean(cv)) if cv.size else float("nan")


def binned_counts(times, bin: float, t_start: float, t_stop: float):
    """Spikes per time bin; bin k is (k bin, (k+1) bin] (ms), the bins covering
    (t_start, t_stop].

    Parameters
    ----------
    times : array of float
        Spike times (ms); a spike at exactly ``t_start`` (a source spike at 0) goes to
        the first bin, spikes outside [t_start, t_stop] are left out.
    bin : float
        Bin width (ms), > 0.
    t_start, t_stop : float
        The interval (ms).

    Returns
    -------
    left : ndarray of float
        Left edges of the bins (ms).
    counts : ndarray of int64
        Spikes per bin.
    width : ndarray of float
        Part of each bin inside (t_start, t_stop] (ms): ``bin`` except possibly for
        the first and last bins.
    """
    bin = float(bin)
    if not (math.isfinite(bin) and bin > 0.0):
        raise ValueError(f"bin={bin!r} is not allowed; the bin width must be > 0 ms")
    if not t_stop >= t_start:
        raise ValueError(f"t_start={t_start!r}, t_stop={t_stop!r}: need t_start <= t_stop (ms)")
    k0 = math.floor(t_start / bin)
    k1 = max(math.ceil(t_stop / bin), k0 + 1)
    t = np.asarray(times, dtype=float).ravel()
    t = t[(t >= t_start) & (t <= t_stop)]
    # right-closed bins: t in (k bin, (k+1) bin] has ceil(t / bin) = k + 1
    k = np.clip(np.ceil(t / bin).astype(np.int64) - 1, k0, k1 - 1) - k0
    counts = np.bincount(k, minlength=k1 - k0).astype(np.int64)
    left = (np.arange(k0, k1) * bin).astype(float)
    width = np.minimum(left + bin, t_stop) - np.maximum(left, t_start)
    return left, counts, width
