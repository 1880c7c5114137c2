"""The records the kernels read and write: the run plan (built once from a network, never
changed by a run) and the run state (everything a run changes), as ``typing.NamedTuple``s
of NumPy arrays and scalars.

Numba compiles a field access of a named tuple like a tuple index, so naming costs
nothing in the kernels; a nested tuple passed to a kernel is flattened into its arrays.
Kernels take the smallest records that hold what they touch (every array a call passes
is a few machine words of arguments).

Plan records: :class:`Pops`, :class:`Graph`, :class:`Sources`, :class:`Drives`,
:class:`Plastic`, :class:`Probes` and the scalars :class:`Consts`, together
:class:`PlanArrays`; per run the driver
adds :class:`Bind` (addresses of the projections' arrays and the threshold-test modes,
derived from the plan and the current weights).  State records: :class:`Neurons`,
:class:`~eventsnn.engine.queue.Queue`, :class:`SpikeRecord`, :class:`SourceState`,
:class:`DriveState`, :class:`PlasticState`, :class:`Scratch` and :class:`State`, which
holds them all.

Memory per neuron: 64 bytes of state block, 8 of threshold offset, 8 of the dirty list
and 1/8 of the dirty bitmap (80.1 bytes); per driven neuron and drive 16 (next arrival
and random state); per source 24 (random state, position, spikes recorded ahead) plus
40 in the source wheel.
"""
from __future__ import annotations

from dataclasses import fields
from typing import NamedTuple

import numpy as np

from ..results import OpCounts
from .queue import Queue

# ------------------------------------------------------------------------- counters
#: the counters of a run, in the order of the kernels' count array: the fields of
#: :class:`~eventsnn.results.OpCounts` (documented there)
COUNTERS = tuple(f.name for f in fields(OpCounts))
NCOUNT = len(COUNTERS)
C_SPIKES = COUNTERS.index("spikes")
C_SYN_REC = COUNTERS.index("syn_events")
C_SYN_SRC = COUNTERS.index("source_syn_events")
C_DRIVE = COUNTERS.index("drive_events")
C_ADV = COUNTERS.index("state_advances")
C_PUSH = COUNTERS.index("queue_pushes")
C_POP = COUNTERS.index("queue_pops")
C_STALE = COUNTERS.index("stale_candidates")
C_CAND = COUNTERS.index("candidates")
C_SRC_SPIKES = COUNTERS.index("source_spikes")
C_DISCARD = COUNTERS.index("discarded")
C_THRESH = COUNTERS.index("threshold_tests")
C_TRACE = COUNTERS.index("trace_updates")
C_WUPD = COUNTERS.index("weight_updates")

# ------------------------------------------------------------------- neuron block
# Columns of the (N, 8) float64 neuron block, one 64-byte cache line per neuron, so that
# a synaptic event touches one line (the delivery loops index the block itself: one base
# pointer and one stride):
#: V (general neurons, mV) or the frame coefficient U (frame neurons, mV)
COL_V = 0
#: I_exc (general, mV) or its frame coefficient B_e
COL_IE = 1
#: I_inh (general, mV) or its frame coefficient B_i
COL_II = 2
#: time of the last update (general, ms) or the ceiling, an upper bound on V (frame
#: neurons with exp channels, mV; see ``models.bound_reject``)
COL_TL = 3
#: end of the refractory period (ms)
COL_REF = 4
#: sequence number of the neuron's live candidate in the queue (int64 bits; -1: none)
COL_CSEQ = 5
#: time of that candidate (ms; inf: none)
COL_CT = 6
#: time of the next threshold crossing (ms; inf: none; -inf: forced, see threshold.py)
COL_TGT = 7
NCOL = 8


def neuron_block(n: int, v, rows=None) -> np.ndarray:
    """A new (n, 8) neuron block aligned to 64 bytes, with V (or U) ``v`` (a scalar or
    one per neuron) and no refractory period, candidate or crossing.

    ``rows``: only these row ranges (int [k, 2] of [lo, hi)) are set, the others are
    left zero: a process of a partitioned run touches only its own neurons' rows, so
    the others stay pages the system never backs with memory."""
    # one row of slack for the alignment and two spare rows for ``cseq_view``
    raw = np.zeros(n * NCOL + 3 * NCOL)
    off = (-raw.ctypes.data % 64) // 8
    st = raw[off:off + n * NCOL].reshape(n, NCOL)
    v = np.broadcast_to(np.asarray(v, np.float64), (n,))
    for lo, hi in ([(0, n)] if rows is None else rows):
        sl = slice(int(lo), int(hi))
        st[sl, COL_V] = v[sl]
        st[sl, COL_REF] = -np.inf
        st[sl, COL_CSEQ].view(np.int64)[:] = -1
        st[sl, COL_CT] = np.inf
        st[sl, COL_TGT] = np.inf
    return st


def cseq_view(block: np.ndarray) -> np.ndarray:
    """The candidate sequence column of a block from ``neuron_block``, as int64: a strided
    view that spans the block's two spare rows too (the kernels index only its first n).
    Why the spare rows: NumPy calls an array of fewer than two elements contiguous, so a
    network of one neuron gave Numba another array layout, and every kernel that takes
    the neurons (the whole event loop) was compiled a second time for it."""
    col = block[:, COL_CSEQ].view(np.int64)
    return np.lib.stride_tricks.as_strided(col, shape=(block.shape[0] + 2,), strides=(block.strides[0],))


# ------------------------------------------------------------------------- the plan
class Pops(NamedTuple):
    """Neuron populations."""

    #: parameter table, one row per population (columns ``models.P_*``: rates in 1/ms,
    #: potentials in mV, times in ms)
    P: np.ndarray
    #: int64 [n_pops + 1]: first global neuron id of every population, and N
    pop_off: np.ndarray
    #: int64 [n_pops, 2]: the neurons of every population this process simulates, as a
    #: global id range [lo, hi) (all of them unless the run is partitioned)
    own: np.ndarray


class Graph(NamedTuple):
    """Connectivity as the kernels read it: groups are the populations, then the source
    groups; node ids are global neuron ids, then N + source index."""

    #: int64 [n_groups + 1]: first node id of every group, and the node count
    grp_off: np.ndarray
    #: int64 [n_groups + 1]: pointers into ``grp_proj``
    grp_proj_ptr: np.ndarray
    #: int32: the projections of every group, in projection order
    grp_proj: np.ndarray
    #: int64 [n_proj]: first node id of the presynaptic group
    proj_pre_off: np.ndarray
    #: int64 [n_proj]: first neuron id of the postsynaptic population
    proj_post_off: np.ndarray
    #: int64 [n_proj]: postsynaptic population
    proj_post_pop: np.ndarray
    #: float64 [n_proj]: homogeneous delay (ms), -1 for per-synapse delays
    proj_delay: np.ndarray
    #: int64: every projection's CSR row pointers (a copy: 8 bytes per row)
    row_ptr: np.ndarray
    #: int64 [n_proj + 1]: start of each projection's pointers in ``row_ptr``
    row_ptr_off: np.ndarray
    #: float64: delay (ms) of each row's first synapse, projections with per-synapse delays
    row_d0: np.ndarray
    #: int64 [n_proj]: start in ``row_d0`` (-1: homogeneous delay)
    row_d0_off: np.ndarray
    #: int64 [n_proj]: the FIFO lane of the projection's delay (-1: heap)
    proj_lane: np.ndarray
    #: float64 [n_lanes]: the delay (ms) of each lane
    lane_delay: np.ndarray
    #: int64 [n_groups * n_lanes + 1]: pointers into ``grp_lane_proj`` per (group, lane)
    grp_lane_ptr: np.ndarray
    #: int32: projections of each (group, lane), in projection order
    grp_lane_proj: np.ndarray
    #: int64 [max(n_lanes, 1)]: 1 if the lane loads its next rows ahead (lanes into
    #: populations over ``Consts.pf_pop`` neurons)
    lane_pf: np.ndarray
    #: int64 [n_groups]: 1 for a population with synapses out of it: its spikes wait
    #: in ``State.emitq`` for the end of their emission window
    grp_buffer: np.ndarray
    #: uint8 [len(row_ptr)] in a partitioned run, else empty: 1 where this process counts
    #: the queue work and presynaptic trace update of a row (the lowest-ranked process
    #: with synapses of it), so that the processes' counts add up to one process's
    row_cnt: np.ndarray


class Sources(NamedTuple):
    """Spike-train and Poisson sources (their random streams are state)."""

    #: int64 [1]: node id of source 0 (= N)
    off: np.ndarray
    #: int32 [S]: 0 spike train, 1 Poisson
    kind: np.ndarray
    #: float64 [S]: Poisson rate (1/ms)
    rate: np.ndarray
    #: int64 [S + 1]: pointers into ``times`` (spike trains)
    st_ptr: np.ndarray
    #: float64: spike times (ms) of every train, sorted per source
    times: np.ndarray
    #: int64 [S]: the lane of a *fused* source (its spikes are queued at their arrival and
    #: delivered there), -1 otherwise
    lane: np.ndarray
    #: float64 [S]: the delay (ms) of a fused source
    dly: np.ndarray
    #: int64 [1]: 1 if the sources' spikes are recorded (``Network.record_source_spikes``)
    record: np.ndarray
    #: int64 [1]: the count of a queue operation every process does alike (source spikes,
    #: window ends, renormalisations, samples): 1, or in a partitioned run 1 on rank 0
    #: and 0 on the others
    share: np.ndarray
    #: int64 [S]: pops counted for a fused source's spike besides its rows': ``share``
    #: when it has no synapse at all (then no row counts the pop), else 0
    fused_pop: np.ndarray


class Drives(NamedTuple):
    """Lazy Poisson drives: one stream per (drive, neuron), applied inside neuron updates."""

    #: int64 [n_pops + 1]: pointers into the drive arrays per population
    pop_drv_ptr: np.ndarray
    #: float64 [n_drives]: rate (1/ms; 1 for a zero-rate drive, whose streams never fire)
    rate: np.ndarray
    #: float64 [n_drives]: weight (mV)
    w: np.ndarray
    #: int64 [n_drives]: stream of the drive's first neuron
    base: np.ndarray


class Plastic(NamedTuple):
    """Plastic projections (``eventsnn.plasticity``): rule table and index structures."""

    #: int32 [n_proj]: plastic projection index k of every projection (-1: static)
    proj_pl: np.ndarray
    #: int32 [n_pl]: projection of every plastic projection
    pl_proj: np.ndarray
    #: float64 [n_pl, NPL]: rule table (columns ``plasticity.K_*``)
    PL: np.ndarray
    #: int64 [n_pl + 1]: first row of each projection's traces in ``PlasticState.pre_tr``
    pre_off: np.ndarray
    #: int64 [n_pl + 1]: likewise in ``PlasticState.post_tr``
    post_off: np.ndarray
    #: int64: transpose pointers per postsynaptic neuron, all projections
    tptr: np.ndarray
    #: int64 [n_pl + 1]: start of each projection's pointers in ``tptr``
    tptr_off: np.ndarray
    #: int32: synapse ids grouped by postsynaptic neuron, all projections
    tsyn: np.ndarray
    #: int64 [n_pl + 1]: start of each projection's synapse ids in ``tsyn``
    tsyn_off: np.ndarray
    #: int32: row lookup (row of every 64th synapse), all projections
    blk: np.ndarray
    #: int64 [n_pl + 1]: start of each projection's lookup in ``blk``
    blk_off: np.ndarray
    #: int64 [n_pl + 1]: first synapse of each projection in ``PlasticState.elig``
    elig_off: np.ndarray
    #: int64 [n_pops + 1]: pointers into ``pop_pl`` per postsynaptic population
    pop_pl_ptr: np.ndarray
    #: int32: plastic projections into each population
    pop_pl: np.ndarray
    #: int64 [1]: synapses in the longest row of a plastic projection (at least 1): the
    #: length of ``PlasticRun.wbuf``
    longest_row: np.ndarray


class Probes(NamedTuple):
    """State probes (``Network.record_state``): probe k samples neurons
    ``ids[ptr[k]:ptr[k+1]]`` at the times ``start[k] + j dt[k]`` (j = 0, 1, ... while <=
    ``stop[k]``) or, when ``dt[k]`` is 0, at ``times[tptr[k]:tptr[k+1]]``.  Its queue holds
    one SAMPLE event per probe with samples left (payload: probe, j)."""

    #: int64: sampled neuron ids, all probes
    ids: np.ndarray
    #: int64 [n_probes + 1]: each probe's ids in ``ids``
    ptr: np.ndarray
    #: int64 [n_probes]: variables recorded, bits ``VAR_*``
    vars: np.ndarray
    #: float64 [n_probes]: grid step (ms); 0: the probe has given times
    dt: np.ndarray
    #: float64 [n_probes]: first grid time (ms)
    start: np.ndarray
    #: float64 [n_probes]: last grid time allowed (ms; inf: none)
    stop: np.ndarray
    #: float64: given sample times (ms), sorted per probe
    times: np.ndarray
    #: int64 [n_probes + 1]: each probe's times in ``times``
    tptr: np.ndarray


#: bits of ``Probes.vars`` (values are written in this order)
VAR_V, VAR_IE, VAR_II, VAR_THETA = 1, 2, 4, 8


class Consts(NamedTuple):
    """Scalars of the plan."""

    #: number of neurons
    n: int
    #: most queue pushes one spike causes: one per projection of its group, + 1
    pmax: int
    #: length (ms) of the emission windows: the smallest delay out of a population (inf:
    #: no synapse out of one).  Spikes of neurons are queued at the end of their window,
    #: in (time, neuron) order, after the lazy drive of every driven neuron is applied
    #: up to it (``engine.loop``)
    window_dt: float
    #: interval (ms) at which frame origins move (inf: no frame population)
    renorm_dt: float
    #: populations over this many neurons get their rows loaded ahead
    pf_pop: int
    #: processes the run is partitioned over (1: one); with more, the loop returns
    #: ``loop.EXCHANGE`` at the end of every emission window
    ranks: int


class Bind(NamedTuple):
    """What the kernels read of the projections' own arrays, derived before each run
    (addresses are not kept: arrays move when a network is copied or loaded)."""

    #: int64 [n_proj]: address of the int32 targets of each projection
    idx_addr: np.ndarray
    #: int64 [n_proj]: address of the float64 weights
    w_addr: np.ndarray
    #: int64 [n_proj]: address of the float64 per-synapse delays (0: homogeneous)
    d_addr: np.ndarray
    #: int64 [n_proj]: -1, or 0 for one weight shared by every synapse
    w_mask: np.ndarray
    #: int64 [n_proj]: threshold-test mode of the rows (``engine.deliver``)
    proj_mode: np.ndarray
    #: int64 [n_proj]: 1 if the postsynaptic population has no drive and no adaptive
    #: threshold (rows go to ``deliver.undriven_targets``)
    proj_undriven: np.ndarray


class PlanArrays(NamedTuple):
    """Everything a run reads and never changes (the kernels' part of ``plan.Plan``)."""

    pops: Pops
    graph: Graph
    sources: Sources
    drives: Drives
    plastic: Plastic
    probes: Probes
    consts: Consts


# ------------------------------------------------------------------------ the state
class Neurons(NamedTuple):
    #: float64 [N, 8]: the neuron block (columns ``COL_*``)
    block: np.ndarray
    #: int64 [N]: the candidate sequence column of the block, as int64 (a view)
    cseq: np.ndarray
    #: float64 [n_pops]: frame origin t_f (ms) of every population
    tf: np.ndarray
    #: float64 [N]: adaptive threshold offsets (mV)
    theta: np.ndarray
    #: int64 [n_pops]: 1 if the population's thresholds are offset by ``theta``; 2 if,
    #: besides, its neurons have their own bias currents (``voff``)
    adapt: np.ndarray
    #: float64 [N]: per-neuron voltage offsets (mV) of neurons with their own bias
    #: current b: the block holds V - voff, which follows the population's bias-free
    #: dynamics, with voff = b tau_m / tau_in; threshold (in ``theta``) and reset are
    #: shifted by -voff
    voff: np.ndarray


class SpikeRecord(NamedTuple):
    """Spikes in the order they were found (grown by the driver)."""

    #: float64 [capacity]: times (ms)
    t: np.ndarray
    #: int64 [capacity]: neuron ids (or source node ids)
    n: np.ndarray
    #: int64 [1]: number recorded
    count: np.ndarray


class SourceState(NamedTuple):
    #: uint64 [S]: random stream of each source
    rng: np.ndarray
    #: int64 [S]: position of a spike train's next spike in ``Sources.times``
    pos: np.ndarray
    #: int64 [S]: spikes of a fused source recorded ahead of their draw, when a run ended
    #: before the arrival that draws them (``emit.record_ahead``)
    ahead: np.ndarray


class DriveState(NamedTuple):
    #: float64 [streams]: next arrival (ms) of each drive stream
    next: np.ndarray
    #: uint64 [streams]: random state of each stream
    rng: np.ndarray


class PlasticState(NamedTuple):
    #: float64 [sum n_pre, 4]: presynaptic traces (fast, slow, time of last spike, -)
    pre_tr: np.ndarray
    #: float64 [sum n_post, 4]: postsynaptic traces
    post_tr: np.ndarray
    #: float64 [reward synapses, 2]: eligibility and its time (ms)
    elig: np.ndarray
    #: float64 [n_pl, 2]: reward level d (1/ms) and the time it was set (ms)
    rw: np.ndarray
    #: float64 [n_pl]: 1 if learning is on
    learn: np.ndarray
    #: int64 [1]: spikes of the record already given to the postsynaptic rules
    seen: np.ndarray


class PlasticRun(NamedTuple):
    """What the loop reads and writes of the plastic projections (None when there are
    none: the plasticity kernels are then not compiled)."""

    plan: Plastic
    state: PlasticState
    #: float64 [sum n_post * plasticity.RING, 3]: deferred potentiations (time, o2,
    #: time of the spike before) of every postsynaptic trace row; the counts are in the
    #: trace rows.  Empty between runs (``plasticity.flush``), so not part of the state.
    ring: np.ndarray
    #: float64 [longest plastic row]: the weights of the row being delivered, brought up
    #: to its arrival (``plasticity.sync_depress_row``)
    wbuf: np.ndarray
    #: int64: address of ``wbuf``'s data
    wbuf_addr: int


class Scratch(NamedTuple):
    """This instant's threshold tests: the neurons to test and a bitmap of them."""

    #: int64 [N]: the list (its length is in the cursor)
    dirty: np.ndarray
    #: uint64 [(N + 63) // 64]: one bit per neuron (125 kB for 10^6 neurons: in L2)
    isdirty: np.ndarray


# slots of the cursor, which carries the event loop's position across its returns
# (``engine.loop``): int64 slots (K_ENROW is unused: pops are counted per row since
# session 17; the slot keeps the saved cursor's layout)
K_NDIRTY, K_FJ, K_POPS, K_EV, K_EKIND, K_EA, K_EB, K_ESRC, K_EFS, K_EQI, K_EJR, K_ENROW, \
    K_PHASE, K_PH_P, K_PH_J, K_PH_K, K_XCHG = range(17)
NCURI = 17
# float64 slots
F_TCUR, F_ET, F_EC, F_PH_T = range(4)
NCURF = 4


class Cursor(NamedTuple):
    #: int64 [17]: slots ``K_*``
    i: np.ndarray
    #: float64 [4]: slots ``F_*``
    f: np.ndarray


class Recording(NamedTuple):
    """What a run records besides its counts: which neurons' spikes, spikes counted in
    time bins, and the samples of the probes.  The driver sizes the per-run buffers
    (rate bins, samples) before each run and empties them after it."""

    #: uint8 [N]: per neuron, bit 0: record its spikes (within ``win``); bit 1: count
    #: them in its population's rate bins; bit 2: keep them in the record until the
    #: postsynaptic plasticity has read them (``compact`` then drops those without bit 0)
    mask: np.ndarray
    #: float64 [2]: spikes are recorded (bit 0) when win[0] <= t <= win[1] (ms)
    win: np.ndarray
    #: int64 [1]: 1 when every neuron is recorded at all times (no mask lookups); 2 when
    #: the record holds spikes kept for plasticity only, to be compacted
    mode: np.ndarray
    #: int64 [n_pops]: rate recorder of each population, -1: none
    rate_of: np.ndarray
    #: float64 [n_rates]: bin width (ms); a spike at t counts in bin ceil(t / bin) - 1
    rate_bin: np.ndarray
    #: int64 [n_rates]: first bin index of this run's buffer
    rate_base: np.ndarray
    #: int64 [n_rates + 1]: each recorder's bins in ``rate_cnt``
    rate_off: np.ndarray
    #: int64: spike counts per bin, this run
    rate_cnt: np.ndarray
    #: float64: sampled values (probe by probe, neuron by neuron, variables in bit order)
    vals: np.ndarray
    #: int64 [capacity, 2]: (probe, j) of every sample taken, in order
    ev: np.ndarray
    #: int64 [2]: values and samples written
    n: np.ndarray


class State(NamedTuple):
    """Everything a run changes."""

    neurons: Neurons
    queue: Queue
    spikes: SpikeRecord
    src_spikes: SpikeRecord
    #: spikes of neurons not yet queued: those of the current emission window (and any
    #: at its end), queued in (time, neuron) order when the window closes
    emitq: SpikeRecord
    sources: SourceState
    drives: DriveState
    plastic: PlasticState
    #: the samples and recording controls of this run
    rec: "Recording"
    scratch: Scratch
    cursor: Cursor
    #: int64 [NCOUNT]: counters (``COUNTERS``)
    cnt: np.ndarray
    #: int64 [n_proj]: +1 if every weight is >= 0, -1 if every one is < 0, else 0 (a
    #: plastic projection: the sign of its bounds); decides the rows' test modes
    proj_sign: np.ndarray
