"""Recorders: what a run keeps besides its operation counts.

A network records every spike of every neuron unless told otherwise.  The recorders,
all added before the network first runs, choose:

* :class:`SpikeRecorder` (``Network.record_spikes``): the spikes of chosen neurons in a
  time window; 16 bytes per recorded spike, 1 byte per neuron for the engine's mask.
* :class:`StateProbe` (``Network.record_state``): exact V, I_exc, I_inh and threshold
  offset of chosen neurons at given times or on a regular grid; 8 bytes per variable,
  neuron and sample.
* :class:`RateRecorder` (``Network.record_rate``): spikes of a population counted in
  time bins inside the engine, without storing them; 8 bytes per bin.
* :class:`WeightRecorder` (``Projection.record_weights``): copies of a projection's
  weights at given times (8 bytes per synapse and snapshot); may be added at any time.

The engine writes spikes, bin counts and samples as it meets them (``engine.state.
Recording``); the network sizes the buffers before each run and hands their contents to
the recorders after it, so a recorder's data is the same however a run is split, saved
and loaded.  Weight snapshots split a run at their times (which changes no result).
"""
from __future__ import annotations

import math

import numpy as np

from ._validate import check_memory
from .engine.state import VAR_IE, VAR_II, VAR_THETA, VAR_V
from .results import PopulationRate, Spikes, StateSamples

__all__ = ["SpikeRecorder", "StateProbe", "RateRecorder", "WeightRecorder", "VARIABLES"]

#: the variables a probe can record, with their bits (``engine.state.VAR_*``)
VARIABLES = {"v": VAR_V, "i_exc": VAR_IE, "i_inh": VAR_II, "theta": VAR_THETA}


class SpikeRecorder:
    """Records the spikes of ``ids`` (global; None: every neuron) with start <= t <= stop
    (ms).  A network's record is the union of its recorders."""

    def __init__(self, net, ids, start, stop):
        self.net = net
        self.ids = ids
        self.start = start
        self.stop = stop

    def _member(self, ids):
        if self.ids is None:
            return np.ones(len(ids), bool)
        k = np.searchsorted(self.ids, ids)
        k[k >= len(self.ids)] = 0
        return self.ids[k] == ids if len(self.ids) else np.zeros(len(ids), bool)

    def select(self, spikes: Spikes) -> np.ndarray:
        """Boolean mask of the spikes this recorder records."""
        t = spikes.times
        return self._member(spikes.ids) & (t >= self.start) & (t <= self.stop)

    @property
    def spikes(self) -> Spikes:
        """This recorder's spikes over all runs so far, sorted by (time, id)."""
        s = self.net.spikes
        m = self.select(s)
        return Spikes(s.times[m], s.ids[m])

    def __repr__(self):
        what = "all neurons" if self.ids is None else f"{len(self.ids)} neurons"
        return f"SpikeRecorder({what}, start={self.start}, stop={self.stop})"


def record_filter(recs, spikes: Spikes) -> Spikes:
    """The spikes the recorders ``recs`` keep (None: all)."""
    if recs is None:
        return spikes
    m = np.zeros(len(spikes), bool)
    for r in recs:
        m |= r.select(spikes)
    return spikes if m.all() else Spikes(spikes.times[m], spikes.ids[m])


class StateProbe:
    """Samples ``variables`` of neurons ``ids`` at ``times`` or on the grid start + j dt
    (j = 0, 1, ... while <= stop).  ``samples`` holds every sample taken so far."""

    def __init__(self, net, name, ids, times, dt, start, stop, variables):
        self.net = net
        self.name = name
        self.ids = ids
        self.times = times
        self.dt = dt
        self.start = start
        self.stop = stop
        self.variables = tuple(variables)
        self.vars = sum(VARIABLES[v] for v in self.variables)
        self._parts = []

    @property
    def bytes_per_sample(self) -> int:
        """Bytes one sample time takes (8 per variable and neuron)."""
        return 8 * len(self.variables) * len(self.ids)

    @property
    def samples(self) -> StateSamples:
        """Every sample taken so far (all runs)."""
        return concat_samples(self._parts, self)

    def _bound(self, t0, t1):
        """At most this many samples fall in [t0, t1] (ms)."""
        if self.dt == 0.0:
            return int(np.searchsorted(self.times, t1, "right") - np.searchsorted(self.times, t0, "left"))
        hi = min(t1, self.stop)
        lo = max(t0, self.start)
        if hi < lo:
            return 0
        return int(math.floor((hi - lo) / self.dt)) + 3

    def __repr__(self):
        when = f"{len(self.times)} times" if self.dt == 0.0 else f"every {self.dt} ms from {self.start}"
        return f"StateProbe({self.name!r}, {len(self.ids)} neurons, {when}, {self.variables})"


def concat_samples(parts, probe) -> StateSamples:
    K = len(probe.ids)
    if not parts:
        empty = np.empty((0, K))
        return StateSamples(np.empty(0), probe.ids.copy(),
                            *[empty if VARIABLES[v] & probe.vars else None for v in VARIABLES])
    return cat_samples(parts)


def cat_samples(parts) -> StateSamples:
    """One StateSamples of one probe's consecutive samples ``parts`` (non-empty list)."""
    if len(parts) == 1:
        return parts[0]
    cat = {v: (np.concatenate([getattr(p, v) for p in parts]) if getattr(parts[0], v) is not None else None)
           for v in VARIABLES}
    return StateSamples(np.concatenate([p.times for p in parts]), parts[0].ids, **cat)


def add_bins(k0, counts, k1, more):
    """(first bin, counts) of bins starting at bin k0 plus bins starting at bin k1."""
    if not len(more):
        return k0, counts
    if not len(counts):
        return k1, more.copy()
    lo = min(k0, k1)
    out = np.zeros(max(k0 + len(counts), k1 + len(more)) - lo, np.int64)
    out[k0 - lo:k0 - lo + len(counts)] += counts
    out[k1 - lo:k1 - lo + len(more)] += more
    return lo, out


def merge_rates(parts) -> PopulationRate:
    """One PopulationRate of the bins of ``parts`` (one population, consecutive runs)."""
    k0, c = 0, np.zeros(0, np.int64)
    for q in parts:
        if len(q.times):
            k0, c = add_bins(k0, c, int(round(q.times[0] / q.bin)), q.counts)
    p = parts[-1]
    return PopulationRate(p.bin, p.size, (k0 + np.arange(len(c))) * p.bin, c)


class RateRecorder:
    """Counts the spikes of ``population`` in bins (k bin, (k+1) bin] (ms)."""

    def __init__(self, net, population, bin):
        self.net = net
        self.population = population
        self.bin = bin
        self._k0 = 0
        self._counts = np.zeros(0, np.int64)

    def _add(self, k0, counts):
        self._k0, self._counts = add_bins(self._k0, self._counts, k0, counts)

    @property
    def data(self) -> PopulationRate:
        """The bins of every run so far."""
        return PopulationRate(self.bin, self.population.size,
                              (self._k0 + np.arange(len(self._counts))) * self.bin, self._counts.copy())

    def __repr__(self):
        return f"RateRecorder({self.population.name!r}, bin={self.bin} ms)"


class WeightRecorder:
    """Copies of a projection's weights at ``times`` (ms): the weights after every event
    at that time.  ``values`` has one row per time taken, in CSR order."""

    def __init__(self, proj, times, name):
        self.proj = proj
        self.times = times
        self.name = name
        self._t = []
        self._w = []

    def _take(self, t):
        self._t.append(t)
        self._w.append(np.array(self.proj.weights, np.float64))

    @property
    def taken(self) -> np.ndarray:
        """The times (ms) of the snapshots taken so far."""
        return np.array(self._t, np.float64)

    @property
    def values(self) -> np.ndarray:
        """The snapshots taken so far: shape (len(taken), n_synapses), mV."""
        n = self.proj.n_synapses
        return np.array(self._w).reshape(len(self._w), n) if self._w else np.empty((0, n))

    def __repr__(self):
        return f"WeightRecorder({self.name!r}, {len(self.times)} times, {len(self._t)} taken)"


# ------------------------------------------------------------------ the run's buffers
def buffers(net, R, t0, t1):
    """The recording state ``R`` with empty buffers for a run over (t0, t1] (ms): rate
    bins covering it and room for every sample it can take.  Raises MemoryError (via
    the memory guard) before allocating more than the machine has."""
    rates = net._rate_recs
    base = np.array([math.ceil(t0 / r.bin) - 1 for r in rates], np.int64)
    top = np.array([math.ceil(t1 / r.bin) - 1 for r in rates], np.int64)
    off = np.concatenate([[0], np.cumsum(top - base + 1)]).astype(np.int64)
    nsamp = [pb._bound(t0, t1) for pb in net._probes]
    nvals = sum(n * len(pb.ids) * len(pb.variables) for n, pb in zip(nsamp, net._probes))
    check_memory("duration", t1 - t0, 8 * int(off[-1]) + 8 * nvals + 16 * sum(nsamp),
                 f"{nvals} sampled values and {int(off[-1])} rate bins in this run")
    return R._replace(rate_base=base, rate_off=off, rate_cnt=np.zeros(int(off[-1]), np.int64),
                      vals=np.empty(nvals), ev=np.empty((sum(nsamp), 2), np.int64), n=np.zeros(2, np.int64))


def collect(net, R, t0, t1):
    """Hand what the engine wrote into ``R`` to the recorders; returns this run's
    (probes, rates_binned) for the Result and empties the sample buffer."""
    probes = {}
    ne = int(R.n[1])
    ev = R.ev[:ne]
    sizes = np.array([len(pb.ids) * len(pb.variables) for pb in net._probes], np.int64)
    starts = np.concatenate([[0], np.cumsum(sizes[ev[:, 0]])])[:-1] if ne else np.empty(0, np.int64)
    for k, pb in enumerate(net._probes):
        sel = ev[:, 0] == k
        js = ev[sel, 1]
        K, nv = len(pb.ids), len(pb.variables)
        idx = starts[sel][:, None] + np.arange(K * nv)[None, :]
        vals = R.vals[idx].reshape(len(js), K, nv)
        times = pb.start + js * pb.dt if pb.dt > 0.0 else pb.times[js]
        cols = {}
        c = 0
        for v in ("v", "i_exc", "i_inh", "theta"):
            if VARIABLES[v] & pb.vars:
                cols[v] = np.ascontiguousarray(vals[:, :, c])
                c += 1
            else:
                cols[v] = None
        s = StateSamples(np.asarray(times, np.float64), pb.ids.copy(), **cols)
        if len(js):
            pb._parts.append(s)
        probes[pb.name] = s
    R.n[:] = 0
    rates = {}
    for k, r in enumerate(net._rate_recs):
        c = R.rate_cnt[R.rate_off[k]:R.rate_off[k + 1]].copy()
        k0 = int(R.rate_base[k])
        # the first bin may end at t0 (then it is empty): report the bins in (t0, t1]
        if len(c) and c[0] == 0 and (k0 + 1) * r.bin <= t0:
            c, k0 = c[1:], k0 + 1
        r._add(k0, c)
        rates[r.population.name] = PopulationRate(r.bin, r.population.size,
                                                  (k0 + np.arange(len(c))) * r.bin, c)
    return probes, rates
