"""The run plan: a network's populations, sources, connectivity and rules as the flat
arrays the engine reads, and the initial run state.

``build_plan(network)`` is a pure function of the builder (it never changes it): a
lazy drive into a population with plastic inputs becomes a Poisson source here, in the
plan, because plasticity needs every postsynaptic spike in time order and a lazily
applied drive can reveal a spike after later events were processed.
``initial_state(plan)`` gives the state at t = 0 (first source spikes and
threshold crossings queued); ``bind(plan, state)`` the per-run view of the
projections' own arrays (addresses, which change when a network is copied or loaded).

The builder's objects are read by their attributes (``eventsnn.network``), so this
module does not import the builder.
"""
from __future__ import annotations

import dataclasses
import hashlib
import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from . import connectivity as cx
from . import plasticity as PLM
from .engine.deliver import PREFETCH_POP, test_mode
from .engine.emit import (MAX_LANES, RENORM, SAMPLE, SAMPLE_SEQ, SWEEP, init_drives, init_sources,
                          qpush_n)
from .engine.queue import new_queue, push, reserve
from .engine.rng import STREAM_DRIVE, STREAM_SOURCES, seed_streams
from .engine.state import (C_PUSH, K_EV, K_FJ, K_NDIRTY, K_PHASE, NCOUNT, NCURF, NCURI, Bind, Consts,
                           Cursor, DriveState, Drives, Graph, Neurons, PlanArrays, Plastic,
                           PlasticState, Pops, Probes, Recording, Scratch, SourceState, Sources,
                           SpikeRecord, State, F_TCUR, cseq_view, neuron_block)
from .engine.threshold import init_candidates
from .models import P_ADAPT, P_FRAME, P_G, P_HASEXP, P_SE, P_SI, P_VINF

__all__ = ["Plan", "GroupInfo", "ProjInfo", "build_plan", "initial_state", "initial_drives", "bind",
           "check_state"]


@dataclass(frozen=True, eq=False)
class GroupInfo:
    """A group of nodes: a neuron population or a source group.

    ``kind`` is "population", "poisson" or "spike_train"; node ids ``node_off ..
    node_off + size - 1`` (neurons: their global ids; sources: N + source index);
    ``obj`` is the builder's object, or None for a group the plan made (a drive turned
    into a Poisson source).  ``rates`` (Hz) for Poisson groups, ``ptr``/``times`` (ms)
    for spike trains."""

    name: str
    kind: str
    index: int
    node_off: int
    size: int
    obj: object = None
    rates: np.ndarray | None = None
    ptr: np.ndarray | None = None
    times: np.ndarray | None = None


@dataclass(frozen=True, eq=False)
class ProjInfo:
    """A projection: pre and post groups, CSR (local ids; in a partitioned run this
    process's synapses), delay (ms, None: per synapse), rule, the builder's object (None
    for one the plan made), and what every process must agree on, of the whole
    projection: its synapse count, smallest delay (ms; inf without synapses) and weight
    sign (``_sign``)."""

    index: int
    pre: GroupInfo
    post: GroupInfo
    csr: cx.CSR
    delay: float | None
    plasticity: object = None
    learning: bool = True
    reward0: float = 0.0
    obj: object = None
    n_total: int = 0
    dmin: float = math.inf
    sign: int = 1


@dataclass(eq=False)
class Plan:
    """A network's run plan.

    Attributes
    ----------
    arrays : PlanArrays
        What the kernels read (``engine.state``).
    groups : list of GroupInfo
        Populations (in global-id order), then source groups, including sources the
        plan made for drives.
    projections : list of ProjInfo
        Every projection, including those the plan made.
    drives : list of (population index, rate Hz, weight mV)
        The lazy drives (applied inside neuron updates).
    kernel : dict
        The arrays the kernels read through addresses (per projection: int32 targets,
        kernel weights, delays): kept here so that they live as long as the plan.
    xc : bool
        False for networks of delta-synapse frame populations only.
    wheel : dict
        The source wheel's size (``engine.queue``).
    seed : int
    """

    arrays: PlanArrays
    groups: list
    projections: list
    drives: list
    kernel: dict
    xc: bool
    wheel: dict
    seed: int
    v_init: np.ndarray
    theta0: np.ndarray
    adapt0: np.ndarray
    #: the recording controls (``engine.state.Recording``) with empty buffers
    rec0: Recording
    #: float64 [N]: per-neuron voltage offsets (``engine.state.Neurons.voff``)
    voff: np.ndarray
    #: (rank, ranks): this process's part of a partitioned run (``own_range``)
    part: tuple = (0, 1)

    @property
    def populations(self) -> list:
        return [g for g in self.groups if g.kind == "population"]

    @property
    def sources(self) -> list:
        return [g for g in self.groups if g.kind != "population"]

    @property
    def n_neurons(self) -> int:
        return int(self.arrays.consts.n)

    @property
    def has_plastic(self) -> bool:
        return self.arrays.plastic.PL.shape[0] > 0

    @cached_property
    def min_step(self) -> tuple[float, str]:
        """The shortest interval (ms) the event loop adds to a time, and what it is: the
        smallest delay out of a population (a spike's own deliveries), the mean
        interval of a Poisson source or drive, or the interval of the frame moves.
        Where float64 time cannot resolve it, a spike would arrive in the instant that
        sent it (or a source draw its next spike there, again and again): an instant
        that never ends.  Computed once per plan (per-synapse delays are scanned), not
        per run."""
        out = (math.inf, "")
        for pr in self.projections:
            if pr.pre.kind == "population" and pr.n_total:
                out = min(out, (pr.dmin, f"the delay of projection {pr.index} ({pr.pre.name} -> {pr.post.name})"))
        for g in self.groups:
            if g.kind == "poisson" and g.size and g.rates.max() > 0:
                out = min(out, (1000.0 / float(g.rates.max()), f"the mean interval of Poisson source {g.name}"))
        for p, rate, _ in self.drives:
            if rate > 0:
                out = min(out, (1000.0 / float(rate), f"the mean interval of the drive of {self.groups[p].name}"))
        r = self.arrays.consts.renorm_dt
        return min(out, (float(r), "the interval at which the fastest time constant is renormalised "
                                   "(100 time constants)"))


def is_network(x) -> bool:
    """Whether x is a network builder (``eventsnn.Network``), by what this module reads
    of it."""
    return all(hasattr(x, a) for a in ("_pops", "_sources", "_projs", "_drives", "prepare"))


def synapse_bytes(projections) -> dict:
    """Bytes of connectivity of these projections (builder or plan ones): total, per
    synapse (targets + weights [+ delays]), row pointers, and the plasticity structures
    (transpose index and row lookup per synapse, eligibility of reward rules; traces and
    transpose pointers per neuron)."""
    syn = sum(pr.csr.indices.nbytes + pr.csr._weight_bytes() +
              (0 if pr.csr.delays is None else pr.csr.delays.nbytes) for pr in projections)
    ptr = sum(pr.csr.indptr.nbytes for pr in projections)
    nnz = sum(pr.csr.nnz for pr in projections)
    plastic = [pr for pr in projections if pr.plasticity is not None]
    pl_syn = sum(4 * pr.csr.nnz + 4 * ((pr.csr.nnz >> PLM.BLOCK_SHIFT) + 2) +
                 (16 * pr.csr.nnz if pr.plasticity.is_reward else 0) for pr in plastic)
    # traces (32 bytes per neuron and side), transpose pointers, and the run's ring of
    # deferred potentiations per postsynaptic neuron (pair and triplet rules)
    pl_neuron = sum(32 * (pr.pre.size + pr.post.size) + 8 * (pr.post.size + 1)
                    + 24 * PLM.RING * pr.post.size for pr in plastic)
    return {"synapse_bytes": syn, "indptr_bytes": ptr,
            "bytes_per_synapse": syn / nnz if nnz else 0.0,
            "plasticity_synapse_bytes": pl_syn, "plasticity_neuron_bytes": pl_neuron}


def _sign(w, rule=None):
    """1 if all weights are >= 0, -1 if all are < 0, else 0 (the engine skips or fuses
    threshold tests on such rows).  With a plasticity rule the bounds decide: weights
    never leave them."""
    if rule is not None:
        return 1 if rule.w_min >= 0 else -1
    if w.size == 0 or w.min() >= 0:
        return 1
    if w.max() < 0:
        return -1
    return 0


def _wheel_size(src_kind, src_rate, st_ptr, st_times):
    """Bucket width (ms, a power of two) and count of the source wheel (``engine.queue``):
    about 32 spikes per bucket at the sources' total rate, and a horizon of some 16 mean
    intervals of a source, beyond which a spike goes to the heap.  Every source queues
    there, a fused one at its spike's arrival.  Performance only: any size gives the
    same results."""
    n = src_kind.shape[0]
    if n == 0:
        return dict(wheel_width=0.0, wheel_buckets=1)
    rate = float(src_rate[src_kind == 1].sum())           # spikes per ms
    trains = np.flatnonzero(src_kind == 0)
    if trains.size and st_times.size:
        cnt = int((st_ptr[trains + 1] - st_ptr[trains]).sum())
        span = float(st_times.max() - st_times.min()) if cnt > 1 else 0.0
        rate += cnt / max(span, 1.0)
    width = 2.0 ** int(np.clip(np.round(np.log2(32.0 / rate)), -12, 6)) if rate > 0 else 1.0
    buckets = 64
    while buckets < n // 2 and buckets < 2 ** 16:
        buckets *= 2
    return dict(wheel_width=width, wheel_buckets=buckets)


# ---------------------------------------------------------------------- groups
def own_range(size: int, rank: int, ranks: int) -> tuple:
    """The neurons [lo, hi) (ids within a population of ``size``) that process ``rank``
    of ``ranks`` simulates: every population is cut into ``ranks`` contiguous blocks of
    sizes differing by at most one, so that each process gets a share of every
    population (their rates and costs differ) and its neurons stay contiguous."""
    return size * rank // ranks, size * (rank + 1) // ranks


def owner(pop_off: np.ndarray, ids: np.ndarray, ranks: int) -> np.ndarray:
    """int64: the process that simulates each of the global neuron ``ids``
    (``own_range``: the last rank whose block starts at or before the neuron)."""
    ids = np.asarray(ids, np.int64)
    p = np.searchsorted(pop_off, ids, side="right") - 1
    size = pop_off[p + 1] - pop_off[p]
    local = ids - pop_off[p]
    r = np.zeros(len(ids), np.int64)
    for q in range(1, ranks):
        r[local >= size * q // ranks] = q
    return r


def network_digest(net) -> str:
    """sha256 of what a builder holds (seed, populations and models, sources,
    projections and their synapses, drives): processes of a partitioned run compare
    it to check that they built the same network."""
    h = hashlib.sha256()
    h.update(repr((net.seed, [(p.name, p.size, tuple(p.model.row())) for p in net._pops],
                   [(s.name, s.size) for s in net._sources],
                   [(pr.index, pr.delay, repr(pr._spec), repr(pr.plasticity)) for pr in net._projs],
                   [(p.index, r, w) for p, r, w in net._drives])).encode())
    for pr in net._projs:
        if pr._spec is not None:
            continue        # its rule, weight and seed decide it (not built here)
        w = pr.csr.weights[:1] if cx.is_shared(pr.csr.weights) else pr.csr.weights
        for a in (pr.csr.indptr, pr.csr.indices, w, pr.csr.delays):
            if a is not None:
                h.update(np.ascontiguousarray(a))
    for s in net._sources:
        for a in ("rates", "times", "ptr"):
            if getattr(s, a, None) is not None:
                h.update(np.ascontiguousarray(getattr(s, a)))
    return h.hexdigest()


def local_synapses(csr: cx.CSR, lo: int, hi: int) -> np.ndarray:
    """bool [nnz]: the synapses of ``csr`` onto targets lo <= j < hi."""
    return (csr.indices >= lo) & (csr.indices < hi)


def _local_csr(csr: cx.CSR, lo: int, hi: int) -> cx.CSR:
    """The synapses of ``csr`` onto targets lo <= j < hi, rows kept (post-side storage:
    every presynaptic row, each with the synapses this process owns)."""
    # (positions of the kept synapses: 8 bytes per kept synapse, not per synapse)
    pos = np.flatnonzero(local_synapses(csr, lo, hi))
    indptr = np.searchsorted(pos, np.asarray(csr.indptr)).astype(np.int64)
    w = csr.weights
    nk = len(pos)
    w = np.broadcast_to(w[:1], (nk,)) if cx.is_shared(w) and nk > 1 else np.array(w[pos])
    d = None if csr.delays is None else np.array(csr.delays[pos])
    return cx.CSR(indptr, np.array(csr.indices[pos]), w, d, n_post=csr.n_post, check="none")


def _groups(net, part=(0, 1)):
    """(groups, projections, lazy drives): the builder's, plus a Poisson source and a
    one-to-one projection (delay 0) for each drive into a population with plastic
    inputs, appended in the order the drives were added.  In a partitioned run
    (``part`` = (rank, ranks)), each projection keeps only the synapses onto the
    neurons this process simulates (``own_range``)."""
    pops = [GroupInfo(p.name, "population", p.index, p.offset, p.size, p) for p in net._pops]
    srcs = []
    n = net.n_neurons
    off = n
    for k, s in enumerate(net._sources):
        if hasattr(s, "rates"):
            srcs.append(GroupInfo(s.name, "poisson", k, off, s.size, s, rates=s.rates))
        else:
            srcs.append(GroupInfo(s.name, "spike_train", k, off, s.size, s, ptr=s.ptr, times=s.times))
        off += s.size
    info = {id(g.obj): g for g in pops + srcs}

    def local(csr, post):
        return csr if part[1] == 1 else _local_csr(csr, *own_range(post.size, *part))

    def whole(pr, spec=None):
        """(CSR to simulate, n_total, smallest delay, sign)."""
        if spec is not None and part[1] > 1:
            # one process's part, built without the whole (``cx.RuleSpec``)
            csr, n = spec.build(own_range(pr.post.size, *part))
            w = np.full(min(n, 1), spec.weight)
            return csr, n, (pr.delay if n else math.inf), _sign(w, pr.plasticity)
        full = pr.csr
        d = math.inf if not full.nnz else pr.delay if pr.delay is not None else float(full.delays.min())
        return local(full, pr.post), full.nnz, float(d), _sign(full.weights, pr.plasticity)

    projs = []
    for pr in net._projs:
        csr, n, d, sg = whole(pr, pr._spec if pr._csr is None else None)
        projs.append(ProjInfo(pr.index, info[id(pr.pre)], info[id(pr.post)], csr, pr.delay, pr.plasticity,
                              pr._learning, pr._reward0, pr, n, float(d), sg))
    plastic_post = {pr.post.index for pr in projs if pr.plasticity is not None}
    drives = []
    for pop, rate, weight in net._drives:
        if pop.index not in plastic_post:
            drives.append((pop.index, rate, weight))
            continue
        k = len(srcs)
        g = GroupInfo(f"{pop.name}_drive{k}", "poisson", k, off, pop.size,
                      rates=np.full(pop.size, float(rate)))
        off += pop.size
        srcs.append(g)
        csr = cx.connect(cx.one_to_one(), pop.size, pop.size, weight, None, seed=0)
        projs.append(ProjInfo(len(projs), g, pops[pop.index], local(csr, pop), 0.0, n_total=pop.size,
                              dmin=0.0 if pop.size else math.inf, sign=_sign(csr.weights)))
    return pops + srcs, projs, drives


# ------------------------------------------------------------------ sub-builders
def _pops(pops, part=(0, 1)):
    P = np.stack([g.obj.model.row() for g in pops])
    pop_off = np.zeros(len(pops) + 1, np.int64)
    pop_off[1:] = np.cumsum([g.size for g in pops])
    own = np.array([[g.node_off + x for x in own_range(g.size, *part)] for g in pops], np.int64)
    return Pops(P, pop_off, own.reshape(len(pops), 2))


def _graph(groups, projs, n_total, pf_pop, part=(0, 1)):
    """Connectivity arrays, lanes, and the kernels' per-projection arrays."""
    gidx = {id(g): k for k, g in enumerate(groups)}
    by_group = [[] for _ in groups]
    for pr in projs:
        by_group[gidx[id(pr.pre)]].append(pr.index)
    grp_proj_ptr = np.zeros(len(groups) + 1, np.int64)
    grp_proj_ptr[1:] = np.cumsum([len(b) for b in by_group])
    grp_proj = np.array([q for b in by_group for q in b], dtype=np.int32)
    proj_pre_off = np.array([pr.pre.node_off for pr in projs], dtype=np.int64)
    proj_post_off = np.array([pr.post.node_off for pr in projs], dtype=np.int64)
    proj_post_pop = np.array([pr.post.index for pr in projs], dtype=np.int64)
    proj_delay = np.array([-1.0 if pr.delay is None else pr.delay for pr in projs], dtype=np.float64)
    indptr = [np.ascontiguousarray(pr.csr.indptr, dtype=np.int64) for pr in projs]
    kernel = dict(idx=[np.ascontiguousarray(pr.csr.indices, dtype=np.int32) for pr in projs],
                  w=[cx._kernel_weights(pr.csr.weights)[0] for pr in projs],
                  d=[None if pr.csr.delays is None else np.ascontiguousarray(pr.csr.delays, np.float64)
                     for pr in projs])
    # every projection's row pointers in one array (8 bytes per presynaptic node and
    # projection, a copy of the CSR's) and, with per-synapse delays, each row's first
    # delay: emitting a spike reads these, not the projections' own arrays
    row_ptr_off = np.zeros(len(projs) + 1, np.int64)
    row_ptr_off[1:] = np.cumsum([len(ip) for ip in indptr])
    row_ptr = np.concatenate(indptr) if projs else np.zeros(1, np.int64)
    row_d0_off = np.full(len(projs), -1, np.int64)
    d0_parts, n_d0 = [], 0
    for k, pr in enumerate(projs):
        if pr.csr.delays is not None:
            ip = indptr[k]
            first = np.minimum(ip[:-1], max(pr.csr.nnz - 1, 0))
            d0_parts.append(pr.csr.delays[first] if pr.csr.nnz else np.zeros(len(ip) - 1))
            row_d0_off[k] = n_d0
            n_d0 += len(ip) - 1
    row_d0 = np.concatenate(d0_parts) if d0_parts else np.zeros(1)
    # lanes: the deliveries of each homogeneous delay form a FIFO (engine.queue); the
    # projections of a group that share a lane, in projection order, per (group, lane).
    # Neurons and sources never share a lane: a neuron's spike is queued at the end of
    # its emission window, a source's at once, so together they would not be in order.
    lane_of = {}
    for pr in projs:
        key = _lane_key(pr)
        if pr.delay is not None and key not in lane_of and len(lane_of) < MAX_LANES:
            lane_of[key] = len(lane_of)
    nl = len(lane_of)
    proj_lane = np.array([lane_of.get(_lane_key(pr), -1) if pr.delay is not None else -1
                          for pr in projs], dtype=np.int64)
    lane_delay = np.array([k[0] for k in sorted(lane_of, key=lane_of.get)], dtype=np.float64)
    grp_lane = [[] for _ in range(len(groups) * nl)]
    for g, b in enumerate(by_group):
        for q in b:
            if proj_lane[q] >= 0:
                grp_lane[g * nl + proj_lane[q]].append(q)
    grp_lane_ptr = np.zeros(len(grp_lane) + 1, np.int64)
    grp_lane_ptr[1:] = np.cumsum([len(x) for x in grp_lane])
    grp_lane_proj = np.array([q for x in grp_lane for q in x], dtype=np.int32)
    # first node id of every group (and the node count): a group found by binary
    # search in this short array costs no cache miss, unlike a per-node table
    grp_off = np.array([g.node_off for g in groups] + [n_total], dtype=np.int64)
    # lanes into large populations load their next rows ahead
    lane_pf = np.zeros(max(nl, 1), np.int64)
    for pr in projs:
        if proj_lane[pr.index] >= 0 and pr.post.size > pf_pop:
            lane_pf[proj_lane[pr.index]] = 1
    # populations whose spikes reach synapses wait for the end of their emission window
    # (decided on the whole network, so that every process of a partitioned run agrees)
    grp_buffer = np.array([1 if g.kind == "population" and any(projs[q].n_total for q in b) else 0
                           for g, b in zip(groups, by_group)], dtype=np.int64)
    # (a partitioned run's, set at prepare by ``count_rows``)
    row_cnt = np.zeros(0 if part[1] == 1 else len(row_ptr), np.uint8)
    G = Graph(grp_off, grp_proj_ptr, grp_proj, proj_pre_off, proj_post_off, proj_post_pop,
              proj_delay, row_ptr, row_ptr_off, row_d0, row_d0_off, proj_lane, lane_delay,
              grp_lane_ptr, grp_lane_proj, lane_pf, grp_buffer, row_cnt)
    return G, kernel, lane_of


def nonempty_rows(row_ptr, row_ptr_off) -> np.ndarray:
    """bool [len(row_ptr)]: entry row_ptr_off[k] + i is True where row i of projection k
    has synapses (the end slot of every projection is False)."""
    ne = np.zeros(len(row_ptr), bool)
    ne[:-1] = row_ptr[1:] > row_ptr[:-1]
    ne[np.asarray(row_ptr_off[1:]) - 1] = False
    return ne


def _fused_pop(SRC, G, projs, nonempty, share):
    """``Sources.fused_pop`` given which rows have synapses (in the whole network)."""
    n_src = SRC.kind.shape[0]
    has = np.zeros(n_src, bool)
    for k, pr in enumerate(projs):
        if pr.pre.kind != "population":
            lo = pr.pre.node_off - int(SRC.off[0])
            has[lo:lo + pr.pre.size] |= nonempty[G.row_ptr_off[k]:G.row_ptr_off[k] + pr.pre.size]
    return np.where((SRC.lane >= 0) & ~has, share, 0).astype(np.int64)


def count_rows(plan, every, rank):
    """Set which rows this process counts in a partitioned run (``Graph.row_cnt``): those
    no lower-ranked process has synapses of (``every``: each process's ``np.packbits`` of
    its ``nonempty_rows``, this one's at ``rank``), so that every row with synapses in the
    whole network is counted once.  Rows with per-synapse delays are counted by every
    process that has synapses of them (their queue work, one event per delay group,
    is per process).  Also ``Sources.fused_pop`` from the whole network's rows."""
    A = plan.arrays
    G, SRC = A.graph, A.sources
    n = G.row_cnt.shape[0]
    rows = [np.unpackbits(bits, count=n).astype(bool) for bits in every]
    mine = rows[rank]
    lower = np.logical_or.reduce(rows[:rank]) if rank else np.zeros(n, bool)
    whole = np.logical_or.reduce(rows)
    cnt = mine & ~lower
    for k, pr in enumerate(plan.projections):
        if pr.delay is None:
            cnt[G.row_ptr_off[k]:G.row_ptr_off[k + 1]] = mine[G.row_ptr_off[k]:G.row_ptr_off[k + 1]]
    G.row_cnt[:] = cnt
    SRC.fused_pop[:] = _fused_pop(SRC, G, plan.projections, whole, int(SRC.share[0]))


def _lane_key(pr):
    """The lane a projection with a homogeneous delay shares: its delay and whether it
    leaves a population."""
    return (pr.delay, pr.pre.kind == "population")


def _sources(srcs, projs, n, lane_of, pf_pop, record=True, part=(0, 1)):
    S_tot = sum(s.size for s in srcs)
    kind = np.zeros(S_tot, np.int32)
    rate = np.zeros(S_tot, np.float64)
    st_ptr_parts = [np.zeros(1, np.int64)]
    st_times_parts = []
    base = 0
    for s in srcs:
        sl = slice(s.node_off - n, s.node_off - n + s.size)
        if s.kind == "poisson":
            kind[sl] = 1
            rate[sl] = s.rates / 1000.0  # Hz -> 1/ms
            st_ptr_parts.append(np.full(s.size, base, np.int64))
        else:
            st_ptr_parts.append(s.ptr[1:] + base)
            st_times_parts.append(s.times)
            base += int(s.ptr[-1])
    st_ptr = np.concatenate(st_ptr_parts)
    st_times = np.concatenate(st_times_parts) if st_times_parts else np.empty(0)
    # a source whose projections share one delay and reach only small populations is
    # fused (its spikes are queued at their arrival and delivered there, one queue
    # entry each instead of two); sources into large populations go through the lanes,
    # whose rows are loaded ahead
    lane = np.full(S_tot, -1, np.int64)
    dly = np.zeros(S_tot)
    for s in srcs:
        out = [pr for pr in projs if pr.pre is s]
        ds = {pr.delay for pr in out}
        if (len(ds) == 1 and None not in ds and _lane_key(out[0]) in lane_of
                and all(pr.post.size <= pf_pop for pr in out)):
            sl = slice(s.node_off - n, s.node_off - n + s.size)
            lane[sl] = lane_of[_lane_key(out[0])]
            dly[sl] = out[0].delay
    return Sources(np.array([n], np.int64), kind, rate, st_ptr, st_times, lane, dly,
                   np.array([1 if record else 0], np.int64), np.array([1 if part[0] == 0 else 0], np.int64),
                   np.zeros(S_tot, np.int64))


def _drives(drives, pops):
    npop = len(pops)
    drives = sorted(drives, key=lambda d: d[0])
    pop_drv_ptr = np.zeros(npop + 1, np.int64)
    for d in drives:
        pop_drv_ptr[d[0] + 1] += 1
    pop_drv_ptr = np.cumsum(pop_drv_ptr)
    rate = np.array([d[1] / 1000.0 for d in drives], dtype=np.float64)
    w = np.array([d[2] for d in drives], dtype=np.float64)
    n = np.array([pops[d[0]].size for d in drives], dtype=np.int64)
    base = np.zeros(len(drives), np.int64)
    if drives:
        base[1:] = np.cumsum(n)[:-1]
    # a zero-rate drive draws with rate 1 and never fires (its arrivals are inf)
    rate_safe = np.where(rate <= 0, 1.0, rate)
    return Drives(pop_drv_ptr, rate_safe, w, base), rate <= 0, n


def _plastic(projs, npop):
    """Flat arrays of the plastic projections (rule table, transpose index, offsets)."""
    plastic = [pr for pr in projs if pr.plasticity is not None]
    proj_pl = np.full(len(projs), -1, np.int32)
    pl_proj = np.array([pr.index for pr in plastic], dtype=np.int32)
    PL = np.zeros((len(plastic), PLM.NPL))
    by_pop = [[] for _ in range(npop)]
    tp, ts, bk = [], [], []
    for k, pr in enumerate(plastic):
        proj_pl[pr.index] = k
        PL[k] = pr.plasticity.table_row()
        tptr, tsyn, blk = PLM.build_transpose(np.ascontiguousarray(pr.csr.indptr, np.int64),
                                              np.ascontiguousarray(pr.csr.indices, np.int32),
                                              pr.post.size)
        tp.append(tptr)
        ts.append(tsyn)
        bk.append(blk)
        by_pop[pr.post.index].append(k)

    def offsets(sizes):
        o = np.zeros(len(sizes) + 1, np.int64)
        o[1:] = np.cumsum(sizes)
        return o

    def cat(parts, dtype):
        return np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(1, dtype)

    pop_pl_ptr = np.zeros(npop + 1, np.int64)
    pop_pl_ptr[1:] = np.cumsum([len(b) for b in by_pop])
    pop_pl = np.array([k for b in by_pop for k in b], dtype=np.int32)
    return Plastic(proj_pl, pl_proj, PL,
                   offsets([pr.pre.size for pr in plastic]), offsets([pr.post.size for pr in plastic]),
                   cat(tp, np.int64), offsets([len(x) for x in tp]),
                   cat(ts, np.int32), offsets([len(x) for x in ts]),
                   cat(bk, np.int32), offsets([len(x) for x in bk]),
                   offsets([pr.csr.nnz if pr.plasticity.is_reward else 0 for pr in plastic]),
                   pop_pl_ptr, pop_pl,
                   np.array([max([1] + [int(np.diff(pr.csr.indptr).max()) for pr in plastic
                                        if pr.csr.indptr.shape[0] > 1])], np.int64))


def _bookkeeping(P, pops, projs):
    """(window_dt, renorm_dt) in ms (see ``engine.loop``)."""
    window_dt = math.inf
    for pr in projs:
        if pr.pre.kind == "population" and pr.n_total:
            window_dt = min(window_dt, pr.dmin)
    # frame coefficients grow like e^{rate (t - t_f)}: move t_f before they can overflow
    frame_rates = [max(P[p, P_G], P[p, P_SE], P[p, P_SI]) for p in range(len(pops)) if P[p, P_FRAME]]
    frame_rates = [r for r in frame_rates if r > 0]
    renorm_dt = 100.0 / max(frame_rates) if frame_rates else math.inf
    return float(window_dt), float(renorm_dt)


# ------------------------------------------------------------------------ the plan
def build_plan(net, *, pf_pop: int | None = None, part: tuple = (0, 1)) -> Plan:
    """The run plan of a built network (``eventsnn.Network``); the network is not changed.

    ``pf_pop``: populations over this many neurons get their rows loaded ahead (and
    sources into them are not fused); default ``deliver.PREFETCH_POP``.  Results never
    depend on it (tests reach those paths with small networks through it)."""
    if not net._pops:
        raise RuntimeError("the network has no neuron population")
    pf_pop = PREFETCH_POP if pf_pop is None else int(pf_pop)
    groups, projs, drives = _groups(net, part)
    pops = [g for g in groups if g.kind == "population"]
    srcs = [g for g in groups if g.kind != "population"]
    N = net.n_neurons
    n_total = N + sum(s.size for s in srcs)
    PO = _pops(pops, part)
    P = PO.P
    G, kernel, lane_of = _graph(groups, projs, n_total, pf_pop, part)
    if part[1] > 1:
        # a process's own CSRs belong to the plan alone: their row pointers become views of
        # the kernels' copy (``Graph.row_ptr``), not a second 8 bytes per row
        projs = [dataclasses.replace(pr, csr=cx.CSR(
            G.row_ptr[G.row_ptr_off[k]:G.row_ptr_off[k + 1]], pr.csr.indices, pr.csr.weights,
            pr.csr.delays, n_post=pr.csr.n_post, check="none")) for k, pr in enumerate(projs)]
    SRC = _sources(srcs, projs, N, lane_of, pf_pop, net._record_sources, part)
    # (this process's rows; a partitioned run sets them from every process's: count_rows)
    if part[1] == 1:
        # (a partitioned run's come from every process's rows: count_rows)
        SRC.fused_pop[:] = _fused_pop(SRC, G, projs, nonempty_rows(G.row_ptr, G.row_ptr_off), 1)
    DR, zero_rate, drv_n = _drives(drives, pops)
    PLA = _plastic(projs, len(pops))
    window_dt, renorm_dt = _bookkeeping(P, pops, projs)
    pmax = 0
    for g in range(len(groups)):
        pmax = max(pmax, int(G.grp_proj_ptr[g + 1] - G.grp_proj_ptr[g]))
    # per-neuron arrays are indexed by global id; a process of a partitioned run sets
    # only its own neurons' entries (the others stay zero pages, never backed by memory)
    own = [(g, int(PO.own[g.index, 0]), int(PO.own[g.index, 1])) for g in pops]
    # neurons with their own bias current b hold V - voff, voff = b tau_m / tau_in
    voff = np.zeros(N)
    for g, lo, hi in own:
        if g.obj._bias is not None:
            m = g.obj.model
            tau_in = m.tau_m if m.tau_in is None else m.tau_in
            voff[lo:hi] = g.obj._bias[lo - g.node_off:hi - g.node_off] * (m.tau_m / tau_in)
    # initial potentials: a frame population stores U = V - v_inf at t_f = 0
    v_init = np.zeros(N)
    theta0 = np.zeros(N)
    for g, lo, hi in own:
        r = P[g.index]
        v0 = g.obj.v_init[lo - g.node_off:hi - g.node_off] - voff[lo:hi]
        v_init[lo:hi] = v0 - r[P_VINF] if (r[P_FRAME] and r[P_G] > 0) else v0
        theta0[lo:hi] = g.obj._theta0[lo - g.node_off:hi - g.node_off] - voff[lo:hi]
    adapt0 = np.array([2 if g.obj._bias is not None else
                       (1 if (P[g.index, P_ADAPT] or g.obj._theta0.any()) else 0) for g in pops], np.int64)
    arrays = PlanArrays(PO, G, SRC, DR, PLA, _probes(net._probes),
                        Consts(int(N), int(pmax), window_dt, renorm_dt, int(pf_pop), int(part[1])))
    return Plan(arrays, groups, projs, [(d[0], d[1], d[2]) for d in sorted(drives, key=lambda d: d[0])],
                kernel, not all(r[P_FRAME] and not r[P_HASEXP] for r in P),
                _wheel_size(SRC.kind, SRC.rate, SRC.st_ptr, SRC.times),
                int(net.seed), v_init, theta0, adapt0, _recording(net, pops, projs), voff, tuple(part))


def _probes(probes) -> Probes:
    """The kernels' view of the state probes (``Network.record_state``)."""
    def cat(parts, dtype):
        return np.concatenate([np.asarray(x, dtype) for x in parts]) if parts else np.empty(0, dtype)

    def ptr(parts):
        return np.concatenate([[0], np.cumsum([len(x) for x in parts])]).astype(np.int64)

    ids = [pb.ids for pb in probes]
    times = [pb.times if pb.times is not None else np.empty(0) for pb in probes]
    return Probes(cat(ids, np.int64), ptr(ids), np.array([pb.vars for pb in probes], np.int64),
                  np.array([pb.dt for pb in probes], np.float64),
                  np.array([pb.start for pb in probes], np.float64),
                  np.array([pb.stop for pb in probes], np.float64), cat(times, np.float64), ptr(times))


def _recording(net, pops, projs) -> Recording:
    """The recording controls: which neurons' spikes are recorded (``net.record_spikes``:
    all of them unless it was called), counted in rate bins (``net.record_rate``) or kept
    for the postsynaptic rules only."""
    N = net.n_neurons
    mask = np.zeros(N, np.uint8)
    recs = net._spike_recs
    if recs is None:
        mask[:] = 1
        win = np.array([-np.inf, np.inf])
    else:
        for r in recs:
            if r.ids is None:
                mask[:] = 1
            else:
                mask[r.ids] = 1
        win = np.array([min((r.start for r in recs), default=np.inf),
                        max((r.stop for r in recs), default=-np.inf)])
    npop = len(pops)
    rate_of = np.full(npop, -1, np.int64)
    for k, r in enumerate(net._rate_recs):
        p = r.population
        rate_of[p.index] = k
        mask[p.offset:p.offset + p.size] |= 2
    plastic_post = {pr.post.index for pr in projs if pr.plasticity is not None}
    keep = recs is not None and bool(plastic_post)
    if keep:
        for g in pops:
            if g.index in plastic_post:
                mask[g.node_off:g.node_off + g.size] |= 4
    mode = 1 if recs is None and not net._rate_recs else (2 if keep else 0)
    return Recording(mask, win, np.array([mode], np.int64), rate_of,
                     np.array([r.bin for r in net._rate_recs], np.float64), np.zeros(len(net._rate_recs), np.int64),
                     np.zeros(len(net._rate_recs) + 1, np.int64), np.zeros(0, np.int64), np.zeros(0),
                     np.zeros((0, 2), np.int64), np.zeros(2, np.int64))


def initial_drives(plan: Plan) -> DriveState:
    """The drive streams at t = 0, each after drawing its first arrival: one stream per
    (drive, neuron), the k-th neuron of a drive has stream ``base + k``."""
    A = plan.arrays
    drv_n = np.array([plan.groups[d[0]].size for d in plan.drives], dtype=np.int64)
    n_streams = int(drv_n.sum())
    DS = DriveState(np.full(n_streams, np.inf), seed_streams(plan.seed, STREAM_DRIVE, n_streams))
    init_drives(DS.next, DS.rng, A.drives.rate, A.drives.base, drv_n, 0.0)
    for k, d in enumerate(plan.drives):
        b = A.drives.base[k]
        if d[1] <= 0:
            DS.next[b:b + drv_n[k]] = np.inf
        # the streams of neurons other processes simulate never arrive here
        lo, hi = own_range(int(drv_n[k]), *plan.part)
        DS.next[b:b + lo] = np.inf
        DS.next[b + hi:b + drv_n[k]] = np.inf
    return DS


def initial_state(plan: Plan) -> State:
    """The run state at t = 0: neurons at their initial potentials, the first spike of
    every source, every drive's first arrival and every spontaneous crossing queued.
    Its queue work (pushes) is counted."""
    A = plan.arrays
    P = A.pops.P
    N = A.consts.n
    npop = P.shape[0]
    S_tot = A.sources.kind.shape[0]
    own = A.pops.own
    block = neuron_block(N, plan.v_init, own)
    theta, voff = np.zeros(N), np.zeros(N)
    for lo, hi in own:
        theta[lo:hi] = plan.theta0[lo:hi]
        voff[lo:hi] = plan.voff[lo:hi]
    neurons = Neurons(block, cseq_view(block), np.zeros(npop), theta, plan.adapt0.copy(), voff)
    DS = initial_drives(plan)
    n_rec = A.probes.dt.shape[0]
    Q = new_queue(N + S_tot + n_rec + 16, nlanes=A.graph.lane_delay.shape[0], n_sources=S_tot,
                  **plan.wheel)
    # (loads, or on a cold cache compiles, the queue's growth now rather than in the
    # middle of the first run that needs it; Q has room, so Q comes back)
    Q = reserve(Q, 0, 0)
    cnt = np.zeros(NCOUNT, np.int64)
    share = int(A.sources.share[0])
    if A.consts.window_dt < math.inf:
        qpush_n(Q, cnt, share, A.consts.window_dt, SWEEP, 0, 0, 0.0)
    if A.consts.renorm_dt < math.inf:
        qpush_n(Q, cnt, share, A.consts.renorm_dt, RENORM, 0, 0, 0.0)
    SS = SourceState(seed_streams(plan.seed, STREAM_SOURCES, S_tot), np.zeros(S_tot, np.int64),
                     np.zeros(S_tot, np.int64))
    RS = SpikeRecord(np.empty(S_tot + 1024), np.empty(S_tot + 1024, np.int64), np.zeros(1, np.int64))
    init_sources(A.sources, SS, Q, RS, cnt, 0.0)
    init_candidates(P, A.pops.pop_off, A.pops.own, neurons, Q, cnt, True if plan.xc else None)
    PR = A.probes
    for k in range(n_rec):
        # each probe's first sample (the loop queues the next one as it takes one)
        if PR.dt[k] > 0.0:
            if not PR.start[k] <= PR.stop[k]:
                continue
            tk = PR.start[k]
        elif PR.tptr[k + 1] > PR.tptr[k]:
            tk = PR.times[PR.tptr[k]]
        else:
            continue
        push(Q, float(tk), SAMPLE_SEQ + k, SAMPLE, k, 0, 0.0)
        cnt[C_PUSH] += share
    PLA = A.plastic
    plastic = [pr for pr in plan.projections if pr.plasticity is not None]
    pre_tr = np.zeros((int(PLA.pre_off[-1]), 4))
    pre_tr[:, PLM.T_LAST] = -np.inf
    post_tr = np.zeros((int(PLA.post_off[-1]), 4))
    post_tr[:, PLM.T_LAST] = -np.inf
    TR = PlasticState(pre_tr, post_tr, np.zeros((int(PLA.elig_off[-1]), 2)),
                      np.array([[pr.reward0, 0.0] for pr in plastic]).reshape(len(plastic), 2),
                      np.array([float(pr.learning) for pr in plastic]), np.zeros(1, np.int64))
    cur = Cursor(np.zeros(NCURI, np.int64), np.zeros(NCURF))
    cur.f[F_TCUR] = -np.inf
    return State(neurons, Q, SpikeRecord(np.empty(1024), np.empty(1024, np.int64), np.zeros(1, np.int64)),
                 RS, SpikeRecord(np.empty(1024), np.empty(1024, np.int64), np.zeros(1, np.int64)), SS, DS, TR, plan.rec0._replace(mask=plan.rec0.mask.copy()),
                 Scratch(np.zeros(N, np.int64), np.zeros((N + 63) // 64, np.uint64)), cur, cnt,
                 np.array([pr.sign for pr in plan.projections], np.int64))


def bind(plan: Plan, state: State | None) -> Bind:
    """The per-run view of the projections' arrays: their addresses (valid while
    ``plan.kernel`` holds them) and, given a state, the threshold-test mode of every
    projection (``deliver.test_mode``; without one, modes are left at 0)."""
    A = plan.arrays
    P = A.pops.P
    drv = A.drives.pop_drv_ptr
    K = plan.kernel
    nproj = len(plan.projections)
    idx_addr = np.array([a.ctypes.data for a in K["idx"]], dtype=np.int64)
    w_addr = np.array([a.ctypes.data for a in K["w"]], dtype=np.int64)
    d_addr = np.array([0 if d is None else d.ctypes.data for d in K["d"]], dtype=np.int64)
    w_mask = np.array([0 if w.shape[0] < pr.csr.nnz else -1 for w, pr in zip(K["w"], plan.projections)],
                      dtype=np.int64)
    mode = np.zeros(nproj, np.int64)
    undriven = np.zeros(nproj, np.int64)
    for pr in plan.projections if state is not None else ():
        p = pr.post.index
        und = drv[p + 1] == drv[p] and state.neurons.adapt[p] == 0
        mode[pr.index] = test_mode(P, p, int(state.proj_sign[pr.index]), und)
        undriven[pr.index] = 1 if und else 0
    return Bind(idx_addr, w_addr, d_addr, w_mask, mode, undriven)


def check_state(plan: Plan, S: State) -> None:
    """ValueError unless every array of a run state (one read from a file, say) has the
    shape its plan needs and every index the kernels follow lies in range: neuron, source
    and projection ids of queued events, lane and wheel positions, the spike records, the
    cursor.  (Values such as times and potentials need no check: no kernel indexes with
    them.)"""
    A = plan.arrays
    N = A.consts.n
    npop = A.pops.P.shape[0]
    S_tot = A.sources.kind.shape[0]
    nproj = len(plan.projections)
    nl = A.graph.lane_delay.shape[0]
    n_streams = sum(plan.groups[d[0]].size for d in plan.drives)

    def need(cond, what):
        if not cond:
            raise ValueError(f"the run state does not fit the network: {what}")

    def shape(a, sh, name):
        need(a.shape == sh, f"{name} has shape {a.shape}, not {sh}")

    Nn = S.neurons
    shape(Nn.block, (N, 8), "neurons.block")
    shape(Nn.tf, (npop,), "neurons.tf")
    shape(Nn.theta, (N,), "neurons.theta")
    shape(Nn.adapt, (npop,), "neurons.adapt")
    shape(Nn.voff, (N,), "neurons.voff")
    need(np.array_equal(Nn.voff, plan.voff) and np.array_equal(Nn.adapt == 2, plan.adapt0 == 2),
         "the neurons' own bias currents differ from the network's")
    shape(S.sources.rng, (S_tot,), "sources.rng")
    shape(S.sources.pos, (S_tot,), "sources.pos")
    need(((S.sources.pos >= 0) & (S.sources.pos <= A.sources.st_ptr[-1])).all(), "sources.pos out of range")
    shape(S.sources.ahead, (S_tot,), "sources.ahead")
    need((S.sources.ahead >= 0).all(), "sources.ahead out of range")
    shape(S.drives.next, (n_streams,), "drives.next")
    shape(S.drives.rng, (n_streams,), "drives.rng")
    shape(S.scratch.dirty, (N,), "scratch.dirty")
    shape(S.scratch.isdirty, ((N + 63) // 64,), "scratch.isdirty")
    shape(S.cnt, (NCOUNT,), "cnt")
    shape(S.proj_sign, (nproj,), "proj_sign")
    R, R0 = S.rec, plan.rec0
    for f in ("mask", "win", "mode", "rate_of", "rate_bin", "rate_base", "rate_off"):
        shape(getattr(R, f), getattr(R0, f).shape, f"rec.{f}")
    need(np.array_equal(R.mask, R0.mask) and np.array_equal(R.mode, R0.mode)
         and np.array_equal(R.rate_of, R0.rate_of), "the recording controls differ from the network's")
    need(R.ev.ndim == 2 and R.ev.shape[1] == 2 and R.n.shape == (2,) and R.n[0] == 0 and R.n[1] == 0,
         "the sample buffer is not empty")
    for name, R in (("spikes", S.spikes), ("src_spikes", S.src_spikes), ("emitq", S.emitq)):
        need(R.t.ndim == 1 and R.t.shape == R.n.shape and R.count.shape == (1,)
             and 0 <= R.count[0] <= R.t.shape[0], f"{name}: inconsistent record")
    # spikes waiting for their window: neurons of populations with synapses out of them
    wn = S.emitq.n[:int(S.emitq.count[0])]
    need(((wn >= 0) & (wn < N)).all(), "emitq: a spike of an unknown neuron")
    need(A.graph.grp_buffer[np.searchsorted(A.pops.pop_off, wn, side="right") - 1].all(),
         "emitq: a spike of a population without synapses out of it")
    PI = A.plastic
    TR = S.plastic
    shape(TR.pre_tr, (int(PI.pre_off[-1]), 4), "plastic.pre_tr")
    shape(TR.post_tr, (int(PI.post_off[-1]), 4), "plastic.post_tr")
    # deferred potentiations are applied at the end of every run: a saved state has none
    need((TR.post_tr[:, PLM.T_RING] == 0.0).all(), "plastic.post_tr holds deferred potentiations")
    shape(TR.elig, (int(PI.elig_off[-1]), 2), "plastic.elig")
    shape(TR.rw, (PI.PL.shape[0], 2), "plastic.rw")
    shape(TR.learn, (PI.PL.shape[0],), "plastic.learn")
    need(TR.seen.shape == (1,) and 0 <= TR.seen[0] <= S.spikes.count[0], "plastic.seen out of range")
    # the queue
    Q = S.queue
    cap = Q.t.shape[0]
    for f in ("aux", "seq", "kind", "a", "b"):
        shape(getattr(Q, f), (cap,), f"queue.{f}")
    need(Q.n.shape == (1,) and 0 <= Q.n[0] <= cap, "queue.n out of range")
    n = int(Q.n[0])
    kind, a, b = Q.kind[:n], Q.a[:n], Q.b[:n]
    need(((kind >= 0) & (kind <= 7) & (kind != 6)).all(), "a queued event of unknown kind")
    G = A.graph
    n_pre = np.diff(G.row_ptr_off) - 1
    d = kind == 0           # DELIVER: (projection << 32 | row, first synapse)
    pr, row = a[d] >> 32, a[d] & 0xFFFFFFFF
    need(((pr >= 0) & (pr < nproj)).all(), "a queued delivery of an unknown projection")
    need((row < n_pre[pr]).all(), "a queued delivery of a row out of range")
    i = G.row_ptr_off[pr] + row
    need(((b[d] >= G.row_ptr[i]) & (b[d] < G.row_ptr[i + 1])).all(), "a queued delivery out of its row")
    c = kind == 1           # CAND
    need(((a[c] >= 0) & (a[c] < N)).all(), "a queued candidate of an unknown neuron")
    s = (kind == 2) | (kind == 7)   # SOURCE, FUSED
    need(((a[s] >= 0) & (a[s] < S_tot)).all(), "a queued spike of an unknown source")
    need((A.sources.lane[a[kind == 7]] >= 0).all(), "a queued fused spike of a source that is not fused")
    sm = kind == 5          # SAMPLE
    PR = A.probes
    need(((a[sm] >= 0) & (a[sm] < PR.dt.shape[0])).all(), "a queued sample of an unknown probe")
    asm, bsm = a[sm], b[sm]
    given = PR.dt[asm] == 0.0
    need((bsm >= 0).all() and (PR.tptr[asm[given]] + bsm[given] < PR.tptr[asm[given] + 1]).all(),
         "a queued sample out of range")
    lc = Q.lane_cap
    need(lc.shape == (1,) and lc[0] >= 1 and (int(lc[0]) & (int(lc[0]) - 1)) == 0,
         "queue.lane_cap is not a power of two")
    for f in ("lane_t", "lane_seq", "lane_a"):
        shape(getattr(Q, f), (nl * int(lc[0]),), f"queue.{f}")
    shape(Q.lane_head, (nl,), "queue.lane_head")
    shape(Q.lane_tail, (nl,), "queue.lane_tail")
    need(((Q.lane_head <= Q.lane_tail) & (Q.lane_tail - Q.lane_head <= lc[0])).all(), "a lane out of range")
    ngroups = G.grp_off.shape[0] - 1
    for q in range(nl):
        for k in range(int(Q.lane_head[q]), int(Q.lane_tail[q])):
            p_ = Q.lane_a[q * int(lc[0]) + (k & (int(lc[0]) - 1))]
            g, r = p_ >> 32, p_ & 0xFFFFFFFF
            need(0 <= g < ngroups and r < G.grp_off[g + 1] - G.grp_off[g], "a lane event out of range")
    for f in ("w_t", "w_seq", "w_c", "w_next", "w_b"):
        shape(getattr(Q, f), (S_tot,), f"queue.{f}")
    nb = Q.w_head.shape[0]
    need(nb >= 1 and (nb & (nb - 1)) == 0, "the wheel's bucket count is not a power of two")
    need(((Q.w_next >= -1) & (Q.w_next < S_tot)).all() and ((Q.w_head >= -1) & (Q.w_head < S_tot)).all()
         and ((Q.w_b >= 0) & (Q.w_b < S_tot)).all(), "a wheel list out of range")
    shape(Q.w_state, (4,), "queue.w_state")
    need(0 <= Q.w_state[1] <= Q.w_state[2] <= S_tot and 0 <= Q.w_state[3] <= S_tot, "the wheel's state")
    shape(Q.w_width, (2,), "queue.w_width")
    need(Q.next_seq.shape == (1,), "queue.next_seq")
    # the cursor: between runs the loop is at rest (no step under way, no test pending)
    ci = S.cursor.i
    shape(ci, (NCURI,), "cursor.i")
    shape(S.cursor.f, (NCURF,), "cursor.f")
    need(ci[K_NDIRTY] == 0 and ci[K_FJ] == 0 and ci[K_EV] == 0 and ci[K_PHASE] == 0,
         "the event loop is not at rest (a state saved in the middle of a run)")
