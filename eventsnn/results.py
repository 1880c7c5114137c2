"""What a run returns: spikes, operation counts and sampled states (plain arrays)."""
from __future__ import annotations

from dataclasses import dataclass, fields

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

    ``v``, ``i_exc``, ``i_inh`` have shape (len(times), len(ids)), in mV.  Frame
    (delta-synapse) neurons have no currents and report 0.
    """

    times: np.ndarray
    ids: np.ndarray
    v: np.ndarray
    i_exc: np.ndarray
    i_inh: np.ndarray


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
        Samples whose times fall in the interval.
    populations : dict
        name -> (offset, size) of every neuron population, for ``spikes_of``.
    dt : float or None
        Step (ms) of a clock-driven run (``eventsnn.engine.clock``); None for the exact
        event-driven engine.
    source_spikes : Spikes or None
        Spikes of the spike-train and Poisson sources in the interval (t = 0 included in
        the first run), sorted by (time, node); node ids count after the neurons (source
        k of the network is node N + k).  The counts of ``eventsnn.counting`` use them.
    """

    t_start: float
    t_stop: float
    spikes: Spikes
    counts: OpCounts
    states: StateSamples | None
    populations: dict
    dt: float | None = None
    source_spikes: Spikes | None = None

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
