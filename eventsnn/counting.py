"""Operation counts of a run set beside a clock-driven simulator and a dense ANN, with
NeuroBench-style figures and an energy estimate.

Everything here starts from exact counts: the engine's :class:`~eventsnn.OpCounts`, the
spikes of the run and the connectivity.  The report puts side by side, for the same
network and the same simulated interval:

* **event-driven** (this run): synaptic accumulates, neuron state advances, threshold
  tests, queue pushes and pops, plasticity trace and weight updates;
* **clock-driven** with step dt: measured by :class:`eventsnn.engine.clock.ClockEngine`,
  or from the formula (N x T/dt neuron updates and threshold tests, plus the synaptic
  events and drive arrivals of this run);
* **dense ANN** with the same layers (populations and sources) and one dense weight
  matrix per projection: MACs per inference = sum over neurons of their dense fan-in;
* **NeuroBench** figures (Yik et al. 2025, "The NeuroBench framework for benchmarking
  neuromorphic computing algorithms and systems", Nat. Commun. 16:1545), on the spikes
  binned into time steps of dt (see :func:`neurobench_metrics`);
* **energy** from a table of picojoules per operation that the user can replace
  (:class:`EnergyTable`; defaults: 45 nm, 32-bit float add 0.9 pJ and multiply 3.7 pJ,
  M. Horowitz, "Computing's energy problem (and what we can do about it)", ISSCC 2014).

Cost of one operation (exp, mul, add); energy = n_exp e_exp + n_mul e_mul + n_add e_add:

=========================================  =====  =====  =====
operation                                    exp    mul    add
=========================================  =====  =====  =====
synaptic accumulate (AC), drive arrival        0      0      1
event state advance, delta frame neuron        0      1      0   (weight x shared frame factor)
event state advance, exp-synapse frame         0      3      1
event state advance, general neuron        <= 10  <= 25  <= 10  (closed form, upper bound)
drive arrival in a frame population            1      0      0   (its own frame factor)
clock neuron update, delta synapses            0      1      2
clock neuron update, exp synapses              0      5      4
threshold test                                 0      0      1   (a comparison)
plasticity trace update                        1      1      1   (lazy decay, increment)
plasticity weight update                       0      2      2   (pair rule, with bound)
MAC (dense ANN)                                0      1      1
=========================================  =====  =====  =====

The event engine counts state advances of all populations in one counter; when a
network mixes representations the report charges every advance at the most expensive
one present and says so in ``notes``.  Queue operations and memory traffic cost energy
only through the optional memory row (``EnergyTable.mem_pj`` per 64-bit access; words
per operation in ``MEM_WORDS``), which is off by default.
"""
from __future__ import annotations

import json
import math
import zipfile
from dataclasses import asdict, dataclass, field, fields

import numpy as np
from numba import njit

from . import connectivity as cx
from ._validate import integer, real
from .engine.clock import ClockEngine
from .models import P_DE, P_DI, P_FRAME
from .plan import build_plan, is_network, synapse_bytes
from .results import OpCounts, Result

__all__ = ["EnergyTable", "OP_COSTS", "MEM_WORDS", "RunRecord", "Report", "record", "report",
           "neurobench_metrics", "source_spikes", "save_record", "load_record"]

#: (exp, mul, add) per operation; see the module docstring
OP_COSTS = {
    "ac": (0, 0, 1),
    "mac": (0, 1, 1),
    "advance_frame_delta": (0, 1, 0),
    "advance_frame_exp": (0, 3, 1),
    "advance_general": (10, 25, 10),
    "drive_frame_factor": (1, 0, 0),
    "clock_update_delta": (0, 1, 2),
    "clock_update_exp": (0, 5, 4),
    "threshold_test": (0, 0, 1),
    "trace_update": (1, 1, 1),
    "weight_update": (0, 2, 2),
}

#: 64-bit memory accesses per operation for the optional memory-energy row: a synaptic
#: event reads a target index and a weight and updates the target's state (read and
#: write); a state advance or clock update reads and writes V and two currents; a queue
#: push or pop moves one 48-byte entry (a lower bound: the heap moves log2(n) entries).
MEM_WORDS = {"syn_event": 4, "state_advance": 6, "queue_op": 6, "threshold_test": 1}


@dataclass(frozen=True)
class EnergyTable:
    """Energy per operation (pJ).  Replace any field to model other hardware.

    Attributes
    ----------
    add_pj : float
        32-bit floating-point add (pJ); 0.9 pJ at 45 nm (Horowitz 2014).  One AC.
    mul_pj : float
        32-bit floating-point multiply (pJ); 3.7 pJ at 45 nm (Horowitz 2014).  A MAC is
        mul + add = 4.6 pJ.
    exp_pj : float
        One exp/expm1 evaluation (pJ).  Horowitz gives no figure; the default, 36.8 pJ,
        is eventsnn's assumption of 8 multiplies and 8 adds (range reduction and a
        polynomial), stated so that it can be replaced.
    mem_pj : float or None
        One 64-bit memory access (pJ), or None to leave memory out (the default).
        Horowitz 2014 gives 10 pJ for an 8 KB cache, 20 pJ for 32 KB, 100 pJ for 1 MB
        and 1.3-2.6 nJ for DRAM.
    """

    add_pj: float = 0.9
    mul_pj: float = 3.7
    exp_pj: float = 8 * (0.9 + 3.7)
    mem_pj: float | None = None

    def __post_init__(self):
        for f in ("add_pj", "mul_pj", "exp_pj"):
            object.__setattr__(self, f, real(f, getattr(self, f), lo=0.0))
        if self.mem_pj is not None:
            object.__setattr__(self, "mem_pj", real("mem_pj", self.mem_pj, lo=0.0))

    @property
    def ac_pj(self) -> float:
        """One accumulate (pJ)."""
        return self.add_pj

    @property
    def mac_pj(self) -> float:
        """One multiply-accumulate (pJ)."""
        return self.add_pj + self.mul_pj

    def op_pj(self, cost) -> float:
        """Energy (pJ) of one operation of cost (exp, mul, add)."""
        e, m, a = cost
        return e * self.exp_pj + m * self.mul_pj + a * self.add_pj


# ============================================================================ what a report needs


@dataclass
class RunRecord:
    """Everything a report needs about a network and one simulated interval; plain
    data, saved by :func:`save_record` and read back by :func:`load_record`.

    Attributes
    ----------
    counts : OpCounts
        Counts of the event-driven run.
    t_start, t_stop : float
        The simulated interval (t_start, t_stop] (ms).
    populations : list of dict
        name, size, representation ("frame" or "general"), synapse kind ("delta",
        "exp" or "mixed"), of every neuron population, in global-id order.
    sources : list of dict
        name, size, kind ("spike_train" or "poisson") of every source group.
    projections : list of dict
        pre, post (names), n_pre, n_post, n_synapses (stored, zero weights and
        multapses included), n_nonzero (non-zero entries of the dense weight matrix).
    n_drive_streams : int
        Lazy Poisson drive streams (one per driven neuron and drive).
    footprint : dict
        Bytes of connectivity, neuron state, random streams and parameters.
    node_group : int array
        Group (population, then source group) of every node (neurons, then sources).
    eff_fanout, stored_fanout, dense_fanout : int arrays
        Per node, summed over its projections: non-zero entries of its dense weight
        rows, stored synapses, and post-population sizes.
    spike_nodes, spike_times : arrays
        Spikes of neurons and sources in the interval (node ids as above; ms).
    clock : dict or None
        {"dt": ms, "counts": OpCounts} of a clock-driven run of the same interval.
    """

    counts: OpCounts
    t_start: float
    t_stop: float
    populations: list
    sources: list
    projections: list
    n_drive_streams: int
    footprint: dict
    node_group: np.ndarray
    eff_fanout: np.ndarray
    stored_fanout: np.ndarray
    dense_fanout: np.ndarray
    spike_nodes: np.ndarray
    spike_times: np.ndarray
    clock: dict | None = None

    @property
    def n_neurons(self) -> int:
        return sum(p["size"] for p in self.populations)

    @property
    def duration(self) -> float:
        return self.t_stop - self.t_start


def source_spikes(net, t_start: float = 0.0, t_stop: float | None = None):
    """Spikes of the network's spike-train and Poisson sources in (t_start, t_stop] (ms;
    a spike at t = 0 counts when t_start = 0), as the runs so far emitted them.

    Returns (times, node ids), node ids counting after the neurons (source k of the
    network has node id N + k)."""
    t_stop = net.t if t_stop is None else t_stop
    sp = net.source_spikes
    m = (sp.times > t_start) & (sp.times <= t_stop)
    if t_start == 0.0:
        m |= sp.times == 0.0
    return sp.times[m], sp.ids[m]


@njit(cache=True)
def _row_nonzero(indptr, indices, weights, wm):
    """Per CSR row: targets whose summed weight is non-zero (the non-zero entries of the
    row of the dense weight matrix; several synapses to one target are one entry).
    ``wm`` is -1, or 0 for one weight shared by all synapses (``weights[:1]``)."""
    n = indptr.shape[0] - 1
    out = np.zeros(n, np.int64)
    for r in range(n):
        a = indptr[r]
        b = indptr[r + 1]
        if b == a:
            continue
        order = np.argsort(indices[a:b], kind="mergesort")
        k = 0
        while k < b - a:
            t = indices[a + order[k]]
            acc = 0.0
            while k < b - a and indices[a + order[k]] == t:
                acc += weights[(a + order[k]) & wm]
                k += 1
            if acc != 0.0:
                out[r] += 1
    return out


def _fanouts(plan):
    """Per node: non-zero dense entries, stored synapses and dense width of its rows."""
    n_nodes = plan.n_neurons + sum(g.size for g in plan.sources)
    eff = np.zeros(n_nodes, np.int64)
    stored = np.zeros(n_nodes, np.int64)
    dense = np.zeros(n_nodes, np.int64)
    projs = []
    for pr in plan.projections:
        pre_off = pr.pre.node_off
        ip = np.ascontiguousarray(pr.csr.indptr, np.int64)
        # (the builder's weights are now's, reward-modulated ones integrated; a process of
        # a partitioned run holds only its own synapses, and their weights)
        whole = pr.obj is not None and plan.part[1] == 1
        w, wm = cx._kernel_weights(pr.obj.weights if whole else pr.csr.weights)
        nz = _row_nonzero(ip, np.ascontiguousarray(pr.csr.indices), np.ascontiguousarray(w), wm)
        stored[pre_off:pre_off + pr.pre.size] += np.diff(ip)
        eff[pre_off:pre_off + pr.pre.size] += nz
        dense[pre_off:pre_off + pr.pre.size] += pr.post.size
        projs.append(dict(pre=pr.pre.name, post=pr.post.name, n_pre=pr.pre.size, n_post=pr.post.size,
                          n_synapses=int(pr.csr.nnz), n_nonzero=int(nz.sum())))
    return eff, stored, dense, projs


def _footprint(plan):
    """Bytes the event engine holds for the network (NeuroBench "footprint")."""
    syn = synapse_bytes(plan.projections)
    n_drive = sum(plan.groups[d[0]].size for d in plan.drives)
    srcs = plan.sources
    st_times = sum(g.times.nbytes for g in srcs if g.times is not None)
    out = {"synapses": int(syn["synapse_bytes"]), "row_pointers": int(syn["indptr_bytes"]),
           "neuron_state": 64 * plan.n_neurons, "drive_streams": 16 * n_drive,
           "sources": 16 * sum(g.size for g in srcs) + int(st_times),
           "parameters": 160 * len(plan.populations)}
    out["total"] = sum(out.values())
    return out


def record(net, result=None, *, clock=None) -> RunRecord:
    """Collect what a report needs from a network's run plan and one of its runs.

    Parameters
    ----------
    net : Network
        The network that made ``result``.
    result : Result, optional
        An event-engine result; default: the whole history of ``net`` (all its runs,
        counts ``net.counts``, interval (0, net.t]).
    clock : Result or float or None
        A clock-engine result over the same interval, or a step dt (ms) to run the clock
        engine now over that interval (from the initial state), or None for the formula.
    """
    if not is_network(net):
        raise TypeError(f"net must be an eventsnn.Network, got {type(net).__name__}")
    if not net.records_every_spike:
        raise ValueError("net records only some spikes (net.record_spikes or net.record_source_spikes), "
                         "but the NeuroBench figures of the report need every spike of every neuron and "
                         "source: build the network without those calls, or with record_spikes('all')")
    if result is None:
        counts, t0, t1, spk = net.counts, 0.0, float(net.t), net.spikes
        src = net.source_spikes
    elif isinstance(result, Result):
        counts, t0, t1, spk = result.counts, result.t_start, result.t_stop, result.spikes
        src = result.source_spikes
        if src is None:
            raise ValueError("result has no source spikes (a clock-engine result?); pass an "
                             "event-engine Result of net")
    else:
        raise TypeError(f"result must be an eventsnn.Result or None, got {type(result).__name__}")
    # the network's plan, or (never run) the one it would get: build_plan changes nothing
    plan = net.plan if net.plan is not None else build_plan(net)
    pops = []
    for g in plan.populations:
        r = g.obj.model.row()
        kind = "delta" if (r[P_DE] and r[P_DI]) else ("exp" if not (r[P_DE] or r[P_DI]) else "mixed")
        pops.append(dict(name=g.name, size=g.size, representation="frame" if r[P_FRAME] else "general",
                         synapses=kind))
    srcs = [dict(name=g.name, size=g.size, kind=g.kind) for g in plan.sources]
    eff, stored, dense, projs = _fanouts(plan)
    footprint = _footprint(plan)
    comm = getattr(net, "_comm", None)
    if comm is not None and plan.part[1] > 1:
        # each process holds the synapses onto its own neurons: the network's are the sum
        every = comm.allgather((eff, stored, [(p["n_synapses"], p["n_nonzero"]) for p in projs],
                                footprint["synapses"], footprint["row_pointers"]))
        eff, stored = sum(x[0] for x in every), sum(x[1] for x in every)
        for q, p in enumerate(projs):
            p["n_synapses"] = sum(x[2][q][0] for x in every)
            p["n_nonzero"] = sum(x[2][q][1] for x in every)
        footprint["synapses"] = sum(x[3] for x in every)
        footprint["row_pointers"] = sum(x[4] for x in every)
        footprint["total"] = sum(v for k, v in footprint.items() if k != "total")
    node_group = np.repeat(np.arange(len(pops) + len(srcs), dtype=np.int32),
                           [p["size"] for p in pops] + [s["size"] for s in srcs])
    rec = RunRecord(counts=counts, t_start=float(t0), t_stop=float(t1), populations=pops, sources=srcs,
                    projections=projs, n_drive_streams=sum(plan.groups[d[0]].size for d in plan.drives),
                    footprint=footprint, node_group=node_group, eff_fanout=eff,
                    stored_fanout=stored, dense_fanout=dense,
                    spike_nodes=np.concatenate([np.asarray(spk.ids, np.int64), np.asarray(src.ids, np.int64)]),
                    spike_times=np.concatenate([np.asarray(spk.times, np.float64),
                                                np.asarray(src.times, np.float64)]))
    if clock is not None:
        if isinstance(clock, Result):
            if clock.dt is None:
                raise ValueError("clock must be a Result of the clock engine (it carries dt), a step "
                                 "dt in ms, or None")
            if (clock.t_start, clock.t_stop) != (rec.t_start, rec.t_stop):
                raise ValueError(f"clock covers ({clock.t_start}, {clock.t_stop}] ms but the run covers "
                                 f"({rec.t_start}, {rec.t_stop}] ms; they must be the same interval")
            rec.clock = {"dt": float(clock.dt), "counts": clock.counts}
        else:
            dt = real("clock", clock, lo=0.0, lo_open=True)
            eng = ClockEngine(net, dt)
            if t0 > 0:
                eng.run(t0)
            rec.clock = {"dt": dt, "counts": eng.run(t1 - t0).counts}
    return rec


# ============================================================================ NeuroBench


@njit(cache=True)
def _binned(nodes, bins, node_group, eff_fanout, n_neurons, ngroups, nbins):
    """Walk (node, bin) pairs sorted by node then bin.  A group's output in a bin is
    non-binary when one of its nodes spiked more than once in it (NeuroBench then
    counts that layer's operations as MACs).  Returns (effective ACs, effective MACs,
    active neuron-bins, non-binary (group, bin) pairs)."""
    m = nodes.shape[0]
    multi = np.zeros((ngroups, nbins), np.bool_)
    i = 0
    while i < m:
        j = i
        while j + 1 < m and nodes[j + 1] == nodes[i] and bins[j + 1] == bins[i]:
            j += 1
        if j > i:
            multi[node_group[nodes[i]], bins[i]] = True
        i = j + 1
    ac = 0
    mac = 0
    active = 0
    i = 0
    while i < m:
        j = i
        while j + 1 < m and nodes[j + 1] == nodes[i] and bins[j + 1] == bins[i]:
            j += 1
        n = nodes[i]
        if multi[node_group[n], bins[i]]:
            mac += eff_fanout[n]
        else:
            ac += eff_fanout[n]
        if n < n_neurons:
            active += 1
        i = j + 1
    nmulti = 0
    for g in range(ngroups):
        for b in range(nbins):
            if multi[g, b]:
                nmulti += 1
    return ac, mac, active, nmulti


def neurobench_metrics(rec: RunRecord, dt: float) -> dict:
    """NeuroBench figures of a run whose spikes are binned into steps of ``dt`` ms.

    Definitions (NeuroBench's, applied with one dense weight matrix of shape
    (n_pre, n_post) per projection and one model execution per time bin; a bin j holds
    the spikes in [t_start + j dt, t_start + (j+1) dt), as a clock-driven tool's step j
    holds the spikes at j dt (``nir_io``'s inputs); the run's last instant, t_stop,
    counts in the last bin):

    * ``Dense``: every weight of every projection, zero or not, in every bin
      (sum of n_pre x n_post x bins).  Biases are not counted.
    * ``Effective_ACs`` / ``Effective_MACs``: products of a non-zero input and a
      non-zero weight, i.e. for each (presynaptic node, bin) with a spike, the number of
      non-zero entries of its dense weight rows (several synapses between one pair are
      summed into one weight first).  A projection's input in a bin counts as spiking,
      and its operations as ACs, only if every value is -1, 0 or 1 (no node of its
      presynaptic group spiked twice in the bin); otherwise they are MACs.
    * ``activation_sparsity``: 1 - (neuron, bin) pairs with a spike / (N x bins).
    * ``connection_sparsity``: zero entries / all entries of the dense matrices.
    * ``footprint_bytes``: memory the event engine holds for the network.

    The lazy external Poisson drive (``Network.poisson_drive``) has no weight matrix and
    is left out, as NeuroBench leaves out inputs that enter without a connection layer.

    Also returned, for comparison with Sinabs and SpikingJelly, which count every spike
    times the full fan-out of its layer (zero weights included): ``SynOps_fanout``
    (spikes x stored synapses of the source row, as eventsnn's synaptic events but
    counted at emission) and ``SynOps_dense_fanout`` (spikes x size of the target
    populations, the fan-out of a dense layer).
    """
    dt = real("dt", dt, lo=0.0, lo_open=True)
    T = rec.duration
    nbins = max(1, int(math.ceil(T / dt - 1e-9)))
    t = rec.spike_times - rec.t_start
    bins = np.clip(np.floor(t / dt + 1e-9).astype(np.int64), 0, nbins - 1)
    nodes = rec.spike_nodes.astype(np.int64)
    order = np.lexsort((bins, nodes))
    ngroups = len(rec.populations) + len(rec.sources)
    N = rec.n_neurons
    ac, mac, active, nmulti = _binned(nodes[order], bins[order], rec.node_group.astype(np.int64),
                                      rec.eff_fanout.astype(np.int64), N, ngroups, nbins)
    dense_per_bin = sum(p["n_pre"] * p["n_post"] for p in rec.projections)
    nnz = sum(p["n_nonzero"] for p in rec.projections)
    return {
        "bin_ms": dt, "bins": nbins,
        "Effective_ACs": int(ac), "Effective_MACs": int(mac), "Dense": int(dense_per_bin * nbins),
        "activation_sparsity": 1.0 - active / (N * nbins) if N else 0.0,
        "connection_sparsity": 1.0 - nnz / dense_per_bin if dense_per_bin else 0.0,
        "footprint_bytes": int(rec.footprint["total"]),
        "nonbinary_group_bins": int(nmulti),
        "SynOps_fanout": int(rec.stored_fanout[nodes].sum()),
        "SynOps_dense_fanout": int(rec.dense_fanout[nodes].sum()),
    }


# ============================================================================ the report


def _advance_cost(pops):
    """(cost, name, mixed?) of one event-engine state advance for these populations."""
    kinds = set()
    for p in pops:
        if p["representation"] == "general":
            kinds.add("advance_general")
        elif p["synapses"] == "delta":
            kinds.add("advance_frame_delta")
        else:
            kinds.add("advance_frame_exp")
    order = ["advance_general", "advance_frame_exp", "advance_frame_delta"]
    worst = next(k for k in order if k in kinds)
    return worst, len(kinds) > 1


def _clock_update_cost(pops):
    """Mean (exp, mul, add) of one clock neuron update, weighted by population size
    (exact: every neuron is updated every step)."""
    n = sum(p["size"] for p in pops)
    tot = np.zeros(3)
    for p in pops:
        tot += p["size"] * np.array(OP_COSTS["clock_update_delta" if p["synapses"] == "delta"
                                             else "clock_update_exp"])
    return tuple(tot / n)


@dataclass
class Report:
    """The report: ``as_dict()`` / ``to_json()`` for machines, ``str()`` for people."""

    data: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return self.data

    def to_json(self, **kw) -> str:
        return json.dumps(self.data, **kw)

    def __getitem__(self, k):
        return self.data[k]

    def __str__(self) -> str:
        return _format(self.data)


def _row(ops, name, count, cost, tab):
    ops[name] = {"count": int(count), "cost_exp_mul_add": list(cost),
                 "energy_pj": float(count * tab.op_pj(cost))}


def report(rec: RunRecord, *, dt: float = 0.1, energy: EnergyTable | None = None,
           inferences: int = 1) -> Report:
    """The side-by-side report of a run (see the module docstring).

    Parameters
    ----------
    rec : RunRecord
        From :func:`record` (or :func:`load_record`).
    dt : float
        Step (ms) of the clock-driven comparison when ``rec`` holds no clock run, and bin
        width of the NeuroBench figures.  With a measured clock run, its own dt is used
        for the clock column.
    energy : EnergyTable, optional
        pJ per operation (default: 45 nm, Horowitz 2014).
    inferences : int
        Dense-ANN inferences the run stands for (default 1).
    """
    if not isinstance(rec, RunRecord):
        raise TypeError(f"rec must be a RunRecord (from eventsnn.counting.record), got {type(rec).__name__}")
    dt = real("dt", dt, lo=0.0, lo_open=True)
    inferences = integer("inferences", inferences, lo=1)
    tab = EnergyTable() if energy is None else energy
    if not isinstance(tab, EnergyTable):
        raise TypeError(f"energy must be an EnergyTable or None, got {type(energy).__name__}")
    c = rec.counts
    N = rec.n_neurons
    T = rec.duration
    notes = []
    # ---- event-driven
    ev_ops = {}
    n_ac = c.syn_events + c.source_syn_events + c.drive_events
    _row(ev_ops, "synaptic_accumulates", n_ac, OP_COSTS["ac"], tab)
    adv, mixed = _advance_cost(rec.populations)
    _row(ev_ops, "state_advances", c.state_advances, OP_COSTS[adv], tab)
    if mixed:
        notes.append(f"populations mix state representations: every event state advance is charged "
                     f"as {adv} (an upper bound)")
    if adv == "advance_general":
        notes.append("general-neuron advances are charged at their upper bound (10 exp, 25 mul, 10 add)")
    frame_drive = c.drive_events if any(p["representation"] == "frame" for p in rec.populations) else 0
    if frame_drive:
        _row(ev_ops, "drive_frame_factors", frame_drive, OP_COSTS["drive_frame_factor"], tab)
    _row(ev_ops, "threshold_tests", c.threshold_tests, OP_COSTS["threshold_test"], tab)
    ev_ops["queue_pushes"] = {"count": c.queue_pushes}
    ev_ops["queue_pops"] = {"count": c.queue_pops}
    if c.trace_updates or c.weight_updates:
        _row(ev_ops, "plasticity_trace_updates", c.trace_updates, OP_COSTS["trace_update"], tab)
        _row(ev_ops, "plasticity_weight_updates", c.weight_updates, OP_COSTS["weight_update"], tab)
    ev_mem = (c.syn_events + c.source_syn_events + c.drive_events) * MEM_WORDS["syn_event"] \
        + c.state_advances * MEM_WORDS["state_advance"] \
        + (c.queue_pushes + c.queue_pops) * MEM_WORDS["queue_op"] \
        + c.threshold_tests * MEM_WORDS["threshold_test"]
    event = _column("event-driven", ev_ops, ev_mem, tab)
    event["counts"] = c.as_dict()
    # ---- clock-driven
    if rec.clock is not None:
        cdt = float(rec.clock["dt"])
        cc = rec.clock["counts"]
        steps = int(round(T / cdt))
        source = "measured"
        syn, src_syn, drive = cc.syn_events, cc.source_syn_events, cc.drive_events
        updates, tests = cc.state_advances, cc.threshold_tests
        pushes, pops = cc.queue_pushes, cc.queue_pops
    else:
        cdt = dt
        steps = int(math.ceil(T / cdt - 1e-9))
        source = "formula"
        syn, src_syn, drive = c.syn_events, c.source_syn_events, c.drive_events
        updates = tests = N * steps
        pushes = pops = None
    cl_ops = {}
    _row(cl_ops, "synaptic_accumulates", syn + src_syn + drive, OP_COSTS["ac"], tab)
    _row(cl_ops, "neuron_updates", updates, _clock_update_cost(rec.populations), tab)
    _row(cl_ops, "threshold_tests", tests, OP_COSTS["threshold_test"], tab)
    cl_ops["queue_pushes"] = {"count": pushes}
    cl_ops["queue_pops"] = {"count": pops}
    cl_mem = (syn + src_syn + drive) * MEM_WORDS["syn_event"] + updates * MEM_WORDS["state_advance"] \
        + (0 if pushes is None else (pushes + pops) * MEM_WORDS["queue_op"]) \
        + tests * MEM_WORDS["threshold_test"]
    clock = _column(f"clock-driven (dt = {cdt:g} ms)", cl_ops, cl_mem, tab)
    clock.update(source=source, dt_ms=cdt, steps=steps)
    if source == "measured":
        clock["counts"] = cc.as_dict()
    # ---- dense ANN
    dense = sum(p["n_pre"] * p["n_post"] for p in rec.projections) * inferences
    same = sum(p["n_synapses"] for p in rec.projections) * inferences
    ann_ops = {}
    _row(ann_ops, "macs", dense, OP_COSTS["mac"], tab)
    ann = _column("dense ANN", ann_ops, 3 * dense, tab)
    ann.update(inferences=inferences, macs_per_inference=dense // inferences,
               macs_same_connectivity=same,
               layers=[p["name"] for p in rec.populations] + [s["name"] for s in rec.sources])
    # ---- comparisons
    nb = neurobench_metrics(rec, dt)
    # operations = accumulates + state advances (or neuron updates) + threshold tests
    # (+ plasticity updates); the per-arrival frame factor is an energy row only
    ev_work = sum(v["count"] for k, v in ev_ops.items() if "energy_pj" in v and k != "drive_frame_factors")
    cl_work = sum(v["count"] for k, v in cl_ops.items() if "energy_pj" in v)
    ratios = {
        "clock_over_event_ops": cl_work / ev_work if ev_work else math.inf,
        "clock_over_event_energy": clock["energy_pj"]["total"] / event["energy_pj"]["total"]
        if event["energy_pj"]["total"] else math.inf,
        "ann_over_event_energy": ann["energy_pj"]["total"] / event["energy_pj"]["total"]
        if event["energy_pj"]["total"] else math.inf,
    }
    data = {
        "network": {"n_neurons": N, "n_synapses": sum(p["n_synapses"] for p in rec.projections),
                    "populations": rec.populations, "sources": rec.sources,
                    "n_drive_streams": rec.n_drive_streams, "t_start_ms": rec.t_start,
                    "t_stop_ms": rec.t_stop, "duration_ms": T},
        "event": event, "clock": clock, "ann": ann, "neurobench": nb, "ratios": ratios,
        "energy_table_pj": {**asdict(tab), "ac_pj": tab.ac_pj, "mac_pj": tab.mac_pj},
        "op_costs_exp_mul_add": {k: list(v) for k, v in OP_COSTS.items()},
        "notes": notes,
    }
    return Report(data)


def _column(title, ops, mem_words, tab):
    en = {k: v["energy_pj"] for k, v in ops.items() if "energy_pj" in v}
    if tab.mem_pj is not None:
        en["memory"] = float(mem_words * tab.mem_pj)
    en["total"] = float(sum(en.values()))
    return {"title": title, "ops": ops, "energy_pj": en}


def _fmt_n(x):
    if x is None:
        return "-"
    return f"{x:,}" if isinstance(x, (int, np.integer)) else f"{x:.4g}"


def _fmt_e(pj):
    for unit, f in (("J", 1e12), ("mJ", 1e9), ("uJ", 1e6), ("nJ", 1e3)):
        if pj >= f:
            return f"{pj / f:.3g} {unit}"
    return f"{pj:.3g} pJ"


def _format(d) -> str:
    net = d["network"]
    lines = [f"Operation counts: {net['n_neurons']:,} neurons, {net['n_synapses']:,} synapses, "
             f"({net['t_start_ms']:g}, {net['t_stop_ms']:g}] ms"]
    cols = [("event", d["event"]), ("clock", d["clock"]), ("ann", d["ann"])]
    for _, col in cols:
        extra = f" [{col['source']}]" if "source" in col else ""
        if "inferences" in col:
            extra = f" [{col['inferences']} inference(s), same connectivity: " \
                    f"{col['macs_same_connectivity']:,} MACs]"
        lines.append(f"\n{col['title']}{extra}")
        lines.append(f"  {'operation':<28}{'count':>18}{'exp/mul/add':>14}{'energy':>12}")
        for name, v in col["ops"].items():
            cost = "/".join(f"{x:g}" for x in v["cost_exp_mul_add"]) if "cost_exp_mul_add" in v else ""
            en = _fmt_e(v["energy_pj"]) if "energy_pj" in v else ""
            lines.append(f"  {name:<28}{_fmt_n(v['count']):>18}{cost:>14}{en:>12}")
        if "memory" in col["energy_pj"]:
            lines.append(f"  {'memory':<28}{'':>18}{'':>14}{_fmt_e(col['energy_pj']['memory']):>12}")
        lines.append(f"  {'total':<28}{'':>18}{'':>14}{_fmt_e(col['energy_pj']['total']):>12}")
    r = d["ratios"]
    lines.append(f"\nclock / event: {r['clock_over_event_ops']:.3g}x operations, "
                 f"{r['clock_over_event_energy']:.3g}x energy;  dense ANN / event: "
                 f"{r['ann_over_event_energy']:.3g}x energy")
    nb = d["neurobench"]
    lines.append(f"\nNeuroBench (bins of {nb['bin_ms']:g} ms, {nb['bins']:,} bins)")
    for k in ("Effective_ACs", "Effective_MACs", "Dense", "activation_sparsity", "connection_sparsity",
              "footprint_bytes", "SynOps_fanout", "SynOps_dense_fanout"):
        v = nb[k]
        lines.append(f"  {k:<28}{(f'{v:.6f}' if isinstance(v, float) else f'{v:,}'):>18}")
    t = d["energy_table_pj"]
    mem = "off" if t["mem_pj"] is None else f"{t['mem_pj']:g} pJ per 64-bit access"
    lines.append(f"\nenergy per op: add {t['add_pj']:g} pJ, mul {t['mul_pj']:g} pJ (45 nm, Horowitz 2014), "
                 f"exp {t['exp_pj']:g} pJ (assumed), memory {mem}")
    for n in d["notes"]:
        lines.append(f"note: {n}")
    return "\n".join(lines)


# ============================================================================ save / load

_ARRAYS = ("node_group", "eff_fanout", "stored_fanout", "dense_fanout", "spike_nodes", "spike_times")
FORMAT = "eventsnn-run-record/1"


def save_record(rec: RunRecord, path) -> None:
    """Write a run record to ``path`` (.npz: the arrays plus one JSON string)."""
    meta = {"format": FORMAT, "counts": rec.counts.as_dict(), "t_start": rec.t_start, "t_stop": rec.t_stop,
            "populations": rec.populations, "sources": rec.sources, "projections": rec.projections,
            "n_drive_streams": rec.n_drive_streams, "footprint": rec.footprint,
            "clock": None if rec.clock is None else {"dt": rec.clock["dt"],
                                                      "counts": rec.clock["counts"].as_dict()}}
    np.savez_compressed(path, meta=np.array(json.dumps(meta)), **{k: getattr(rec, k) for k in _ARRAYS})


def load_record(path) -> RunRecord:
    """Read a record written by :func:`save_record`; ValueError if it is not one."""
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path!s} is not an eventsnn run record (not an .npz archive)")
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            arrays = {k: z[k] for k in _ARRAYS}
    except (OSError, KeyError, ValueError, json.JSONDecodeError) as e:
        raise ValueError(f"{path!s} is not an eventsnn run record ({type(e).__name__}: {e})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"{path!s} is not an eventsnn run record (format {meta.get('format')!r}, "
                         f"expected {FORMAT!r})")
    names = [f.name for f in fields(OpCounts)]
    clock = meta["clock"]
    if clock is not None:
        clock = {"dt": clock["dt"], "counts": OpCounts(**{k: clock["counts"].get(k, 0) for k in names})}
    return RunRecord(counts=OpCounts(**{k: meta["counts"].get(k, 0) for k in names}),
                     t_start=meta["t_start"], t_stop=meta["t_stop"], populations=meta["populations"],
                     sources=meta["sources"], projections=meta["projections"],
                     n_drive_streams=meta["n_drive_streams"], footprint=meta["footprint"], clock=clock,
                     **arrays)
