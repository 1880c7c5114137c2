"""Encoders that turn real-valued features into input spike trains (times in ms).

All encoders return :class:`SpikeInput`, a batch of spike trains in CSR layout
(sample ``b`` owns the spikes ``ptr[b]:ptr[b+1]``, sorted by (time, input id)), which
is what :mod:`eventsnn.gradients` consumes.

* :func:`latency` - time-to-first-spike coding: one spike per feature at a time
  linear in the feature value, optionally plus a *bias* spike from an extra input at a
  fixed time (Wunderlich & Pehle 2021 and Göltz et al. 2021 use such a reference
  spike for Yin-Yang).
* :func:`rate` - Poisson rate coding: each feature drives an independent Poisson
  train whose rate is proportional to the feature value.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._validate import boolean, integer, real


def _int_array(name, x):
    """x as a 1-D int64 array; TypeError unless it holds integers."""
    a = np.asarray(x)
    if a.dtype.kind not in "iu" and not (a.size == 0 and a.dtype.kind == "f"):
        raise TypeError(f"{name} must be integers, got {'dtype ' + str(a.dtype) if a.ndim else repr(x)}")
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {a.shape}")
    return np.array(a, dtype=np.int64)


__all__ = ["SpikeInput", "latency", "rate"]


class _SpikeInputFields(NamedTuple):
    ptr: np.ndarray
    times: np.ndarray
    ids: np.ndarray
    n_inputs: int


class SpikeInput(_SpikeInputFields):
    """A batch of input spike trains, validated when made and read-only afterwards.

    Attributes
    ----------
    ptr : ndarray of int64, shape (n_samples + 1,)
        Sample ``b`` owns the spikes ``ptr[b]:ptr[b+1]``; ptr[0] = 0, non-decreasing,
        ptr[-1] = the number of spikes.
    times : ndarray of float64
        Spike times (ms), finite and >= 0 (the encoders sort them by (time, id) within
        each sample; spikes of one time enter in the order given).
    ids : ndarray of int32
        Input index of each spike, in [0, n_inputs).
    n_inputs : int
        Number of inputs (features, plus one if a bias input was added), >= 1.

    Raises
    ------
    TypeError, ValueError
        Naming the argument and the bad value, when any of the above does not hold
        (the kernels index with ``ptr`` and ``ids``: unchecked values would make them
        read or write out of bounds).
    """

    __slots__ = ()

    def __new__(cls, ptr, times, ids, n_inputs):
        n_inputs = integer("n_inputs", n_inputs, lo=1)
        p = _int_array("ptr", ptr)
        t = np.asarray(times)
        if t.dtype.kind not in "iuf":
            raise TypeError(f"times must be real numbers (ms), got dtype {t.dtype}")
        t = np.array(t, dtype=np.float64).ravel()
        i = _int_array("ids", ids)
        if p.size < 1 or p[0] != 0:
            raise ValueError(f"ptr={p[:4]!r}... must start with 0 (ptr[b]:ptr[b+1] are sample b's spikes)")
        d = np.diff(p)
        if (d < 0).any():
            b = int(np.argmax(d < 0))
            raise ValueError(f"ptr must be non-decreasing; ptr[{b + 1}]={p[b + 1]} < ptr[{b}]={p[b]}")
        if p[-1] != t.size:
            raise ValueError(f"ptr[-1]={p[-1]} must equal the number of spikes, len(times)={t.size}")
        if i.shape != t.shape:
            raise ValueError(f"times and ids must have the same length, got {t.size} and {i.size}")
        ok = np.isfinite(t) & (t >= 0.0)
        if not ok.all():
            raise ValueError(f"times contains {float(t[~ok][0])!r}; spike times must be finite and >= 0 ms")
        bad = (i < 0) | (i >= n_inputs)
        if bad.any():
            raise ValueError(f"ids contains {int(i[bad][0])}; input ids must be in [0, {n_inputs})")
        i = i.astype(np.int32)
        for a in (p, t, i):
            a.flags.writeable = False
        return super().__new__(cls, p, t, i, n_inputs)

    @classmethod
    def _make(cls, iterable):
        # (NamedTuple's _replace and _make would skip the checks in __new__)
        return cls(*iterable)

    @property
    def n_samples(self) -> int:
        return len(self.ptr) - 1

    def sample(self, b):
        """(times, ids) of sample ``b`` (views)."""
        b = integer("b", b, lo=0, hi=self.n_samples - 1)
        s = slice(int(self.ptr[b]), int(self.ptr[b + 1]))
        return self.times[s], self.ids[s]

    def subset(self, idx) -> "SpikeInput":
        """The samples ``idx`` (an int array), in that order."""
        idx = np.asarray(idx, dtype=np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= self.n_samples):
            raise ValueError(f"idx must index samples in [0, {self.n_samples}), got {idx.min()}..{idx.max()}")
        cnt = self.ptr[idx + 1] - self.ptr[idx]
        ptr = np.zeros(len(idx) + 1, np.int64)
        np.cumsum(cnt, out=ptr[1:])
        sel = np.concatenate([np.arange(self.ptr[i], self.ptr[i + 1]) for i in idx]) if idx.size else \
            np.empty(0, np.int64)
        sel = sel.astype(np.int64)
        return SpikeInput(ptr, self.times[sel], self.ids[sel], self.n_inputs)


def _features(X):
    A = np.asarray(X)
    if A.dtype.kind not in "iuf":
        raise TypeError(f"X must be a real array of features, got dtype {A.dtype}")
    A = A.astype(np.float64)
    if A.ndim != 2 or A.shape[0] < 1 or A.shape[1] < 1:
        raise ValueError(f"X must have shape (n_samples, n_features) with both >= 1, got {A.shape}")
    ok = np.isfinite(A) & (A >= 0.0) & (A <= 1.0)
    if not ok.all():
        r, c = np.argwhere(~ok)[0]
        raise ValueError(f"X[{r}, {c}]={A[r, c]!r} is not allowed; features must lie in [0, 1] (scale them first)")
    return A


def _pack(times, ids, keep):
    """CSR-pack per-sample rows of (times, ids) where ``keep`` is True; sort each sample
    by (time, id)."""
    n = times.shape[0]
    cnt = keep.sum(axis=1)
    ptr = np.zeros(n + 1, np.int64)
    np.cumsum(cnt, out=ptr[1:])
    row = np.repeat(np.arange(n), times.shape[1]).reshape(times.shape)
    t = times[keep]
    i = ids[keep]
    r = row[keep]
    order = np.lexsort((i, t, r))
    return SpikeInput(ptr, np.ascontiguousarray(t[order]), np.ascontiguousarray(i[order].astype(np.int32)),
                      int(times.shape[1]))


def latency(X, t_min: float = 0.0, t_max: float = 30.0, *, invert: bool = False,
            bias_time: float | None = 0.0, skip_below: float | None = None) -> SpikeInput:
    """Time-to-first-spike (latency) coding: one spike per feature.

    Feature x in [0, 1] gives a spike at ``t_min + x (t_max - t_min)`` (ms), or at
    ``t_min + (1 - x)(t_max - t_min)`` with ``invert=True`` (large values fire early, as
    for image pixels).  With ``bias_time`` not None an extra input (index n_features)
    fires once at ``bias_time`` (ms) in every sample.

    Parameters
    ----------
    X : array_like, shape (n_samples, n_features)
        Features in [0, 1].
    t_min, t_max : float
        Coding interval (ms), 0 <= t_min < t_max.
    invert : bool
        Map large values to early spikes.
    bias_time : float or None
        Time (ms, >= 0) of the bias spike; None for no bias input.
    skip_below : float or None
        Features strictly below this value emit no spike (e.g. blank pixels); None
        keeps every feature.

    Returns
    -------
    SpikeInput
    """
    A = _features(X)
    t_min = real("t_min", t_min, lo=0.0)
    t_max = real("t_max", t_max)
    if not t_max > t_min:
        raise ValueError(f"t_max={t_max!r} is not allowed with t_min={t_min!r}; need t_max > t_min (ms)")
    invert = boolean("invert", invert)
    if bias_time is not None:
        bias_time = real("bias_time", bias_time, lo=0.0)
    if skip_below is not None:
        skip_below = real("skip_below", skip_below)
    n, f = A.shape
    u = 1.0 - A if invert else A
    times = t_min + u * (t_max - t_min)
    keep = np.ones_like(A, dtype=bool) if skip_below is None else (A >= skip_below)
    ids = np.broadcast_to(np.arange(f), (n, f))
    if bias_time is not None:
        times = np.concatenate([times, np.full((n, 1), bias_time)], axis=1)
        keep = np.concatenate([keep, np.ones((n, 1), bool)], axis=1)
        ids = np.broadcast_to(np.arange(f + 1), (n, f + 1))
    return _pack(times, np.ascontiguousarray(ids), keep)


def rate(X, duration: float = 100.0, max_rate: float = 100.0, *, seed: int = 0) -> SpikeInput:
    """Poisson rate coding: feature x drives a Poisson train of rate ``x * max_rate``.

    Each sample b draws from its own stream ``np.random.default_rng([seed, b])``, so a
    sample's trains do not depend on the other samples in the batch.

    Parameters
    ----------
    X : array_like, shape (n_samples, n_features)
        Features in [0, 1].
    duration : float
        Length of the trains (ms), > 0.
    max_rate : float
        Rate of a feature equal to 1 (Hz), >= 0.
    seed : int
        Seed (>= 0).
    """
    A = _features(X)
    duration = real("duration", duration, lo=0.0, lo_open=True)
    max_rate = real("max_rate", max_rate, lo=0.0)
    seed = integer("seed", seed, lo=0)
    n, f = A.shape
    ts, is_, cnt = [], [], np.zeros(n, np.int64)
    for b in range(n):   # one short vectorised draw per sample (own stream)
        rng = np.random.default_rng([seed, b])
        k = rng.poisson(A[b] * max_rate * duration / 1000.0)
        ids = np.repeat(np.arange(f, dtype=np.int32), k)
        t = rng.uniform(0.0, duration, ids.size)
        o = np.lexsort((ids, t))
        ts.append(t[o])
        is_.append(ids[o])
        cnt[b] = ids.size
    ptr = np.zeros(n + 1, np.int64)
    np.cumsum(cnt, out=ptr[1:])
    return SpikeInput(ptr, np.concatenate(ts), np.concatenate(is_).astype(np.int32), f)
