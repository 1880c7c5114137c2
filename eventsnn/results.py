"""What a run returns: spikes, operation counts and sampled states (plain arrays)."""
from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np


@dataclass(frozen=True)
class OpCounts:
    """Exact operation counts of a run (all int).

    Attributes
    ----------
    spikes : neuron spikes.
    syn_events : synaptic events from neuron spikes (one accumulate each; equals the sum
        over spikes of the source's out-degree, discarded refractory inputs included).
    source_syn_events : synaptic events from spike-train and Poisson sources.
    drive_events : external Poisson drive arrivals applied inside neuron updates (no
        queue work, no CSR walk).
    state_advances : neuron state updates: closed-form propagations of general neurons
        (3-5 exp each) plus input applications of frame neurons (1 multiply-add each).
    queue_pushes, queue_pops : heap operations.
    stale_candidates : threshold-crossing candidates dropped because later input
        changed the neuron's trajectory (lazy deletion).
    candidates : threshold-crossing candidates pushed.
    source_spikes : spikes of spike-train and Poisson sources.
    discarded : delta inputs discarded because the target was refractory.
    threshold_tests : threshold comparisons.
    trace_updates : plasticity trace updates (one lazy decay-and-increment of one
        pre- or postsynaptic trace).
    weight_updates : plasticity weight updates: synapses visited by a pre- or
        postsynaptic spike of a plastic projection with learning on (each is one
        evaluation of the rule, counted also when the change is zero, e.g. a trace
        that has decayed to 0); for RewardSTDP one visit integrates the weight and
        updates the eligibility.
    """

    spikes: int = 0
    syn_events: int = 0
    source_syn_events: int = 0
    drive_events: int = 0
    state_advances: int = 0
    queue_pushes: int = 0
    queue_pops: int = 0
    stale_candidates: int = 0
    candidates: int = 0
    source_spikes: int = 0
    discarded: int = 0
    threshold_tests: int = 0
    trace_updates: int = 0
    weight_updates: int = 0

    @classmethod
    def from_array(cls, a) -> "OpCounts":
        return cls(*(int(x) for x in a))

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def __add__(self, other: "OpCounts") -> "OpCounts":
        return OpCounts(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))


@dataclass(frozen=True)
class Spikes:
    """Spike times (float64, ms) and global neuron ids (int64), sorted by (time, id)."""

    times: np.ndarray
    ids: np.ndarray

    def __len__(self):
        return len(self.times)


def _spike_order(times, ids):
    """The permutation that sorts spikes by (time, id), or None if they already are.

    The engine records spikes in time order but for ties within an instant (recorded in
    the order their tests ran) and for spikes of driven neurons found late (see
    ``engine.deliver``), so a linear check usually saves the sort: for the 2.6 million
    spikes of the 10^6-neuron case ``np.lexsort`` takes 0.6 s (4 % of the run), the
    check 10 ms.  Otherwise the times alone are sorted (7x faster than ``np.lexsort`` on
    the 1.5 million source spikes of the STDP benchmark), which is the (time, id) order
    when no two times are equal; ``np.lexsort`` decides ties.
    """
    if times.shape[0] < 2:
        return None
    dt = np.diff(times)
    up = dt > 0.0
    if up.all() or (up | ((dt == 0.0) & (np.diff(ids) > 0))).all():
        return None
    order = np.argsort(times)
    st = times[order]
    if (st[1:] == st[:-1]).any():
        return np.lexsort((ids, times))
    return order


@dataclass(frozen=True)
class StateSamples:
    """Exact states sampled at chosen times (left limits: before any input at that time).

    ``v``, ``i_exc``, ``i_inh`` (mV) and ``theta`` (the adaptive threshold offset, mV)
    have shape (len(times), len(ids)); a variable the probe does not record is None.
    Frame (delta-synapse) neurons have no currents and report 0.
    """

    times: np.ndarray
    ids: np.ndarray
    v: np.ndarray | None
    i_exc: np.ndarray | None
    i_inh: np.ndarray | None
    theta: np.ndarray | None = None

    def to_pandas(self):
        """A long-format DataFrame: one row per (time, id), one column per recorded
        variable (needs pandas)."""
        pd = _pandas()
        T, K = len(self.times), len(self.ids)
        cols = {"time_ms": np.repeat(self.times, K), "id": np.tile(self.ids, T)}
        for name in ("v", "i_exc", "i_inh", "theta"):
            a = getattr(self, name)
            if a is not None:
                cols[name] = a.reshape(-1)
        return pd.DataFrame(cols)


@dataclass(frozen=True)
class PopulationRate:
    """Spikes of one population counted in time bins (k bin, (k+1) bin], k integer.

    ``times`` are the bins' left edges (ms), ``counts`` the spikes in each (int64),
    ``rate`` the mean rate per neuron (Hz).  A bin that a run covers only partly (the
    run ended inside it) counts the spikes of the covered part; it is completed when the
    next run continues.
    """

    bin: float
    size: int
    times: np.ndarray
    counts: np.ndarray

    @property
    def rate(self) -> np.ndarray:
        return self.counts / self.size / (self.bin / 1000.0)

    def to_pandas(self):
        """A DataFrame with columns time_ms, count, rate_hz (needs pandas)."""
        return _pandas().DataFrame({"time_ms": self.times, "count": self.counts, "rate_hz": self.rate})


def _pandas():
    try:
        import pandas as pd
    except ImportError:
        raise ImportError("to_pandas needs pandas: pip install pandas") from None
    return pd


@dataclass(frozen=True)
class Result:
    """The outcome of one ``Network.run`` call.

    Attributes
    ----------
    t_start, t_stop : float
        The simulated interval (t_start, t_stop] in ms.
    spikes : Spikes
        Spikes in that interval, sorted by (time, id); ids are global neuron ids.
    counts : OpCounts
        Operations done by this call.
    states : StateSamples or None
        The first state probe's samples taken in this run (None without probes).
    populations : dict
        name -> (offset, size) of every neuron population, for ``spikes_of``.
    dt : float or None
        Step (ms) of a clock-driven run (``eventsnn.engine.clock``); None for the exact
        event-driven engine.
    source_spikes : Spikes or None
        Spikes of the spike-train and Poisson sources in the interval (t = 0 included in
        the first run), sorted by (time, node); node ids count after the neurons (source
        k of the network is node N + k).  The counts of ``eventsnn.counting`` use them.
    probes : dict
        name -> StateSamples of every state probe (``Network.record_state``), this run.
    rates_binned : dict
        population name -> PopulationRate (``Network.record_rate``), the bins this run
        touched.
    weights : dict
        name -> (times, values) of the weight snapshots (``Projection.record_weights``)
        taken in this run; values has one row per time, in CSR order.
    """

    t_start: float
    t_stop: float
    spikes: Spikes
    counts: OpCounts
    states: StateSamples | None
    populations: dict
    dt: float | None = None
    source_spikes: Spikes | None = None
    probes: dict = field(default_factory=dict)
    rates_binned: dict = field(default_factory=dict)
    weights: dict = field(default_factory=dict)

    def spikes_of(self, population) -> Spikes:
        """Spikes of one population (object or name), ids local to the population."""
        name = population if isinstance(population, str) else getattr(population, "name", None)
        if name not in self.populations:
            raise ValueError(f"population={population!r} is not a neuron population of this network; "
                             f"known: {sorted(self.populations)}")
        off, n = self.populations[name]
        m = (self.spikes.ids >= off) & (self.spikes.ids < off + n)
        return Spikes(self.spikes.times[m], self.spikes.ids[m] - off)

    def rates(self, population) -> float:
        """Mean firing rate (Hz) of a population over this run."""
        name = population if isinstance(population, str) else getattr(population, "name", None)
        s = self.spikes_of(population)
        n = self.populations[name][1]
        dur = self.t_stop - self.t_start
        return len(s) / n / (dur / 1000.0) if dur > 0 else 0.0

    def to_pandas(self, what: str = "spikes", name=None):
        """This run's records as a pandas DataFrame (needs pandas).

        what : "spikes" (columns time_ms, id, population), "states" (the probe ``name``,
        default the first), "rates" (the rate recorder of population ``name``, default
        the first) or "counts" (one row of operation counts).
        """
        pd = _pandas()
        if what == "spikes":
            pops = sorted(self.populations.items(), key=lambda kv: kv[1][0])
            offs = np.array([o for _, (o, _) in pops], np.int64)
            names = np.array([k for k, _ in pops] or [""], dtype=object)
            which = np.searchsorted(offs, self.spikes.ids, side="right") - 1 if len(offs) else \
                np.zeros(len(self.spikes), np.int64)
            return pd.DataFrame({"time_ms": self.spikes.times, "id": self.spikes.ids,
                                 "population": names[np.maximum(which, 0)]})
        if what in ("states", "rates"):
            d = self.probes if what == "states" else self.rates_binned
            if not d:
                raise ValueError(f"what={what!r}: this run recorded no "
                                 f"{'state probes' if what == 'states' else 'binned rates'}")
            key = next(iter(d)) if name is None else name
            if key not in d:
                raise ValueError(f"name={name!r} is not one of {sorted(d)}")
            return d[key].to_pandas()
        if what == "counts":
            return pd.DataFrame([self.counts.as_dict()])
        raise ValueError(f"what={what!r}; allowed: 'spikes', 'states', 'rates', 'counts'")
