"""A clock-driven reference engine: the same compiled network, advanced on a time grid.

It serves two purposes:

1. a second oracle for the event engine: as the step ``dt`` shrinks, its spike times
   converge to the exact ones (the error is O(dt), see below);
2. a measured baseline for operation counting: it does, and counts, the work of a
   conventional time-stepped simulator (N x steps neuron updates and threshold
   checks, plus the synaptic events of the spikes).

Discretisation (units: ms, mV).  The grid is t_j = j dt, j = 0, 1, ...  Step j -> j+1:

1. every neuron is advanced from t_j to t_{j+1} by the *exact* solution of the
   linear ODE (exact exponential integration, Rotter & Diesmann 1999, "Exact digital
   simulation of time-invariant linear systems with applications to neuronal
   modeling", Biol. Cybern. 81:381): with the propagator coefficients
   e_m = e^{-dt/tau_m}, e_s = e^{-dt/tau_syn}, p_s = psi(g, s, dt)/tau_in and the bias
   term computed once per population,

       V <- v_rest + (V - v_rest) e_m + i_bias psi(g, 0, dt)/tau_in + p_e I_exc + p_i I_inh
       I_exc <- I_exc e_e,   I_inh <- I_inh e_i

   (5 multiplies, 4 adds, no exp; 1 multiply and 2 adds for delta-only populations).
   A neuron refractory over the whole step keeps V = v_reset while its currents decay;
   one whose refractory period ends inside the step (only possible when t_ref is not a
   multiple of dt) is advanced by the general closed form from the end of the
   refractory period;
2. the external Poisson drive arrivals of the step (t_j, t_{j+1}] are applied at
   t_{j+1} (a Poisson count per step, drawn by counting the arrivals of the neuron's own
   SplitMix64 stream, the very stream the event engine uses, so both engines see the
   same realisation);
3. the spikes of spike-train and Poisson sources that fall in (t_j, t_{j+1}] are put on
   the grid at t_{j+1} (a time within 1e-9 steps of a grid point counts as on it; a
   spike at t = 0 goes to t_1);
4. every delivery due at t_{j+1} is applied (same CSR rows, same rule: a weight >= 0
   goes to the excitatory channel; a delta channel makes V jump unless the target is
   refractory at t_{j+1});
5. every neuron's threshold is tested at t_{j+1}; a neuron with V >= v_th that is not
   refractory spikes *at t_{j+1}* (spikes lie on the grid), is reset and is
   refractory for [t_{j+1}, t_{j+1} + t_ref).

Delays are rounded to whole steps, D = round(d / dt) (half to even), at least one
step for delays from neurons (a spike at t_j is delivered at t_{j+D}); rows with
per-synapse delays are delivered in groups of equal D.  Spikes are delayed to the end
of the step in which threshold is crossed and inputs to the next grid point, so spike
times differ from the exact ones by O(dt) (tested: the error falls linearly with dt).

The engine keeps its own state (neuron states, spike queue, random streams, step
counter), built from the network's run plan (``eventsnn.plan.build_plan``, a pure
function of the network): running it never touches the state of the event engine, so
one network can be run by both.  Weights are read from the plan's arrays, which are
the network's projections' own, when a step delivers them.  ``Network.record_state``
samples are not taken by this engine, and networks with plastic projections are
refused (plasticity is modelled by the event engine only).

Counts (``OpCounts``, same fields as the event engine): ``state_advances`` and
``threshold_tests`` are N per step; ``queue_pushes``/``queue_pops`` count entries of
the spike ring buffer (one per spike, projection and delay group); ``candidates`` and
``stale_candidates`` are 0.  Synaptic events (at delivery), drive arrivals and
discarded inputs are counted as in the event engine; ``source_spikes`` counts source
spikes when they are emitted (the event engine counts the spikes of a source whose
projections share one delay when they arrive).
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit, types
from numba.typed import List

from .._validate import real
from ..models import (P_DE, P_DI, P_G, P_IBIAS, P_K, P_SE, P_SI, P_TREF, P_VREST, P_VRESET, P_VTH,
                      bias_kernel, propagate, psi)
from ..plan import bind, build_plan, initial_drives
from ..results import OpCounts, Result, Spikes
from .emit import group_of, spike_row
from .hints import load_float64, load_int32
from .rng import STREAM_SOURCES, exp_step, next_exponential, seed_streams
from .state import (C_ADV, C_DISCARD, C_DRIVE, C_POP, C_PUSH, C_SPIKES, C_SRC_SPIKES, C_SYN_REC,
                    C_SYN_SRC, C_THRESH, NCOUNT)

__all__ = ["ClockEngine", "run_clock", "UPDATE_COST", "UPDATE_COST_DELTA"]

#: (exp, mul, add) of one clock-driven neuron update with exp synapses (see above)
UPDATE_COST = (0, 5, 4)
#: (exp, mul, add) of one clock-driven update of a delta-synapse neuron
UPDATE_COST_DELTA = (0, 1, 2)

OK, NONFINITE = 0, 2

# columns of the per-population propagator table
Q_EM, Q_EE, Q_EI, Q_C0, Q_PE, Q_PI, Q_REFSTEPS, Q_DELTAONLY = range(8)

_GRID_FUZZ = 1e-9      # in steps: a time this close to a grid point is on it


@njit(cache=True, inline="always")
def _step_of(t, dt):
    """Grid step that a time t (ms) is put on: the first t_j >= t, at least step 1."""
    j = math.ceil(t / dt - _GRID_FUZZ)
    return max(np.int64(j), np.int64(1))


@njit(cache=True)
def _ring_push(RING, rn, slot, a, b, c):
    """Append one entry (a, b, c) to a slot of the spike ring buffer; grows when full."""
    buf = RING[0]
    i = rn[slot]
    if i == buf.shape[1]:
        new = np.empty((buf.shape[0], 2 * buf.shape[1], 3), np.int64)
        new[:, :i, :] = buf
        RING[0] = new
        buf = new
    buf[slot, i, 0] = a
    buf[slot, i, 1] = b
    buf[slot, i, 2] = c
    rn[slot] = i + 1


@njit(cache=True)
def _record(SP, n, t):
    """Append spike (t, n) to a record held in typed lists (grows them)."""
    spF, spI, spn = SP
    i = spn[0]
    if i == spF[0].shape[0]:
        new = max(2 * i, 1024)
        a = np.empty(new, np.float64)
        a[:i] = spF[0]
        spF[0] = a
        b = np.empty(new, np.int64)
        b[:i] = spI[0]
        spI[0] = b
    spF[0][i] = t
    spI[0][i] = n
    spn[0] = i + 1


@njit(cache=True)
def _emit(node, s, G, DS, RING, rn, cnt):
    """Queue the deliveries of a spike of ``node`` on step s (one ring entry per
    projection: its first delay group).  ``DS`` = (delay steps per projection, -1 for
    per-synapse delays; per-synapse delay steps; their start per projection)."""
    proj_dstep, dstep, dstep_off = DS
    nslots = rn.shape[0]
    g = group_of(node, G.grp_off)
    for q in range(G.grp_proj_ptr[g], G.grp_proj_ptr[g + 1]):
        pr = G.grp_proj[q]
        row, start, end = spike_row(G, pr, node)
        if start == end:
            continue
        D = proj_dstep[pr]
        if D < 0:
            D = dstep[dstep_off[pr] + start]
        _ring_push(RING, rn, (s + D) % nslots, (np.int64(pr) << 32) | row, start, s)
        cnt[C_PUSH] += 1


class ClockNet(NamedTuple):
    """What the clock kernel reads: the plan's parameter table, population offsets,
    graph, drives and projections' arrays (``engine.state``), the per-population
    propagators ``Qt`` (columns ``Q_*``) and the delay steps ``DS`` = (steps per
    projection, -1 for per-synapse delays; per-synapse steps; their start per
    projection)."""

    P: np.ndarray
    pop_off: np.ndarray
    Qt: np.ndarray
    graph: tuple
    bind: tuple
    drives: tuple
    DS: tuple


class ClockSources(NamedTuple):
    """The clock engine's source streams (the event engine's, drawn again)."""

    #: node id of source 0 (= N)
    off: int
    kind: np.ndarray
    #: Poisson rates (1/ms)
    rate: np.ndarray
    st_ptr: np.ndarray
    times: np.ndarray
    rng: np.ndarray
    #: next spike-train position
    pos: np.ndarray
    #: next Poisson spike time (ms)
    next: np.ndarray
    #: the step of each source's next spike
    step: np.ndarray


class ClockRun(NamedTuple):
    """What the clock kernel changes: sources, drive streams, neurons (V, I_exc, I_inh,
    refractory end), the spike ring (a typed list holding one array, grown in place),
    its fill counts per slot, the spike record and the counters."""

    sources: ClockSources
    drives: tuple
    neurons: tuple
    ring: object
    rn: np.ndarray
    spikes: tuple
    cnt: np.ndarray


@njit(cache=True)
def _propagate_all(C, R, t0, t1):
    """Steps 1 and 2: every neuron from t0 to t1, then its drive arrivals of (t0, t1]."""
    P, pop_off, Qt = C.P, C.pop_off, C.Qt
    pop_drv_ptr, drv_rate, drv_w, drv_base = C.drives
    drv_next, drv_rng = R.drives
    V, IE, II, REF = R.neurons
    nadv = 0
    ndrive = 0
    ndisc = 0
    for p in range(P.shape[0]):
        em = Qt[p, Q_EM]
        ee = Qt[p, Q_EE]
        ei = Qt[p, Q_EI]
        c0 = Qt[p, Q_C0]
        pe = Qt[p, Q_PE]
        pi = Qt[p, Q_PI]
        delta_only = Qt[p, Q_DELTAONLY] != 0.0
        vr = P[p, P_VREST]
        vreset = P[p, P_VRESET]
        d0 = pop_drv_ptr[p]
        d1 = pop_drv_ptr[p + 1]
        poff = pop_off[p]
        for n in range(pop_off[p], pop_off[p + 1]):
            ref = REF[n]
            if ref <= t0:
                if delta_only:
                    V[n] = c0 + (V[n] - vr) * em
                else:
                    ie = IE[n]
                    ii = II[n]
                    V[n] = c0 + (V[n] - vr) * em + pe * ie + pi * ii
                    IE[n] = ie * ee
                    II[n] = ii * ei
            elif ref >= t1:
                V[n] = vreset
                IE[n] *= ee
                II[n] *= ei
            else:
                # refractory period ends inside the step: exact closed form from t0
                v, ie, ii = propagate(P[p, P_G], P[p, P_K], P[p, P_SE], P[p, P_SI], vr, vreset,
                                      P[p, P_IBIAS], V[n], IE[n], II[n], t0, ref, t1)
                V[n] = v
                IE[n] = ie
                II[n] = ii
            nadv += 1
            for d in range(d0, d1):
                k = drv_base[d] + n - poff
                ta = drv_next[k]
                while ta <= t1:
                    ndrive += 1
                    if t1 < REF[n]:
                        ndisc += 1
                    else:
                        V[n] += drv_w[d]
                    st, e = exp_step(drv_rng[k])
                    drv_rng[k] = st
                    ta = ta + e * (1.0 / drv_rate[d])
                drv_next[k] = ta
    R.cnt[C_ADV] += nadv
    R.cnt[C_DRIVE] += ndrive
    R.cnt[C_DISCARD] += ndisc


@njit(cache=True)
def _emit_sources(C, R, s1, dt):
    """Step 3: the source spikes that fall on step s1 (their deliveries queued)."""
    SRC = R.sources
    for s in range(SRC.kind.shape[0]):
        while SRC.step[s] <= s1:
            R.cnt[C_SRC_SPIKES] += 1
            _emit(SRC.off + s, s1, C.graph, C.DS, R.ring, R.rn, R.cnt)
            if SRC.kind[s] == 0:
                k = SRC.pos[s] + 1
                SRC.pos[s] = k
                if k < SRC.st_ptr[s + 1]:
                    SRC.step[s] = _step_of(SRC.times[k], dt)
                else:
                    SRC.step[s] = np.iinfo(np.int64).max
            else:
                tn = SRC.next[s] + next_exponential(SRC.rng, s, SRC.rate[s])
                SRC.next[s] = tn
                SRC.step[s] = _step_of(tn, dt)


@njit(cache=True)
def _deliver_slot(C, R, s1, t1):
    """Step 4: the deliveries due on step s1 (a source delivery of delay 0 may have been
    queued on this very slot by step 3)."""
    P, G, B = C.P, C.graph, C.bind
    proj_dstep, dstep, dstep_off = C.DS
    V, IE, II, REF = R.neurons
    rn = R.rn
    cnt = R.cnt
    nslots = rn.shape[0]
    slot = s1 % nslots
    i = 0
    while i < rn[slot]:
        buf = R.ring[0]
        a = buf[slot, i, 0]
        b = buf[slot, i, 1]
        c = buf[slot, i, 2]
        i += 1
        cnt[C_POP] += 1
        pr = a >> 32
        row = a & 0xFFFFFFFF
        end = G.row_ptr[G.row_ptr_off[pr] + row + 1]
        gend = end
        if proj_dstep[pr] < 0:
            d0 = dstep_off[pr]
            dg = dstep[d0 + b]
            gend = b + 1
            while gend < end and dstep[d0 + gend] == dg:
                gend += 1
            if gend < end:
                _ring_push(R.ring, rn, (c + dstep[d0 + gend]) % nslots, a, gend, c)
                cnt[C_PUSH] += 1
        if G.proj_pre_off[pr] >= R.sources.off:
            cnt[C_SYN_SRC] += gend - b
        else:
            cnt[C_SYN_REC] += gend - b
        p = G.proj_post_pop[pr]
        de = P[p, P_DE] != 0.0
        di = P[p, P_DI] != 0.0
        off = G.proj_post_off[pr]
        ia = B.idx_addr[pr]
        wa = B.w_addr[pr]
        wm = B.w_mask[pr]     # (one shared weight: 0)
        nd = 0
        for j in range(b, gend):
            n = off + load_int32(ia, j)
            wj = load_float64(wa, j & wm)
            if wj >= 0.0:
                if de:
                    if t1 < REF[n]:
                        nd += 1
                    else:
                        V[n] += wj
                else:
                    IE[n] += wj
            else:
                if di:
                    if t1 < REF[n]:
                        nd += 1
                    else:
                        V[n] += wj
                else:
                    II[n] += wj
        cnt[C_DISCARD] += nd
    rn[slot] = 0


@njit(cache=True)
def _test_all(C, R, s1, t1, dt, info):
    """Step 5: the threshold test of every neuron at t1; OK or NONFINITE."""
    P, pop_off, Qt = C.P, C.pop_off, C.Qt
    V, IE, II, REF = R.neurons
    nsp = 0
    for p in range(P.shape[0]):
        vth = P[p, P_VTH]
        vreset = P[p, P_VRESET]
        rsteps = Qt[p, Q_REFSTEPS]
        tref = P[p, P_TREF]
        for n in range(pop_off[p], pop_off[p + 1]):
            if not (V[n] < vth):
                if not (math.isfinite(V[n]) and math.isfinite(IE[n]) and math.isfinite(II[n])):
                    info[0] = n
                    info[1] = t1
                    return NONFINITE
                if t1 < REF[n]:
                    continue
                nsp += 1
                V[n] = vreset
                # a refractory period of whole steps ends exactly on the grid
                REF[n] = (s1 + rsteps) * dt if rsteps >= 0.0 else t1 + tref
                _record(R.spikes, n, t1)
                _emit(n, s1, C.graph, C.DS, R.ring, R.rn, R.cnt)
    R.cnt[C_SPIKES] += nsp
    R.cnt[C_THRESH] += pop_off[pop_off.shape[0] - 1] - pop_off[0]
    return OK


@njit(cache=True)
def clock_kernel(C, R, step0, nsteps, dt, info):
    """Advance the network ``nsteps`` steps of ``dt`` ms from step ``step0`` (``C`` a
    ``ClockNet``, ``R`` a ``ClockRun``; the steps are the module docstring's).

    Returns OK, or NONFINITE with the neuron id and time in ``info``.
    """
    for it in range(nsteps):
        s0 = step0 + it
        s1 = s0 + 1
        t0 = s0 * dt
        t1 = s1 * dt
        _propagate_all(C, R, t0, t1)
        _emit_sources(C, R, s1, dt)
        _deliver_slot(C, R, s1, t1)
        if _test_all(C, R, s1, t1, dt, info) != OK:
            return NONFINITE
    return OK


@njit(cache=True)
def _first_poisson(rng, rate, kind):
    """First spike time (ms) of each Poisson source from t = 0, as the event engine
    draws it (inf for a zero rate or a spike-train source)."""
    out = np.full(rate.shape[0], np.inf)
    for s in range(rate.shape[0]):
        if kind[s] == 1 and rate[s] > 0.0:
            out[s] = 0.0 + next_exponential(rng, s, rate[s])
    return out


def _delay_steps(d, dt, from_source):
    """Delays (ms, scalar or array) rounded to whole steps (at least 1 from neurons)."""
    D = np.rint(np.asarray(d, dtype=np.float64) / dt).astype(np.int64)
    return np.maximum(D, 0 if from_source else 1)


class ClockEngine:
    """Time-stepped simulation of a :class:`~eventsnn.Network` with step ``dt`` ms.

    Parameters
    ----------
    net : Network
        The network (built; it may or may not have been run by the event engine: the
        clock engine starts from the initial state and keeps its own).
    dt : float
        Time step (ms), finite and > 0.

    Examples
    --------
    >>> eng = ClockEngine(net, dt=0.1)          # doctest: +SKIP
    >>> res = eng.run(1000.0)                    # ms, a whole number of steps
    >>> res.spikes.times                         # on the grid: multiples of dt
    """

    def __init__(self, net, dt: float = 0.1):
        if not hasattr(net, "_pops") or not hasattr(net, "prepare"):
            raise TypeError(f"net must be an eventsnn.Network, got {type(net).__name__}")
        dt = real("dt", dt, lo=0.0, lo_open=True)
        plastic = [pr.index for pr in net.projections if getattr(pr, "plasticity", None) is not None]
        if plastic:
            raise ValueError(f"net has plastic projections {plastic}; the clock engine does not model "
                             f"plasticity (run such networks with Network.run)")
        own = [p.name for p in net._pops if getattr(p, "_bias", None) is not None]
        if own:
            raise ValueError(f"net has populations with per-neuron bias currents {own}; the clock engine "
                             f"does not model them (run such networks with Network.run)")
        self.net = net
        self.dt = dt
        self._shape = self._net_shape(net)
        # the network's own plan when it has one (its arrays are the network's), else a
        # new one: build_plan never changes the network
        plan = net.plan if net.plan is not None else build_plan(net)
        self._plan = plan
        A = plan.arrays
        P = A.pops.P
        npop = P.shape[0]
        Qt = np.zeros((npop, 8))
        for p in range(npop):
            g, k, se, si = P[p, P_G], P[p, P_K], P[p, P_SE], P[p, P_SI]
            Qt[p, Q_EM] = math.exp(-g * dt)
            Qt[p, Q_EE] = math.exp(-se * dt)
            Qt[p, Q_EI] = math.exp(-si * dt)
            Qt[p, Q_C0] = P[p, P_VREST] + k * P[p, P_IBIAS] * bias_kernel(g, dt)
            Qt[p, Q_PE] = k * psi(g, se, dt)
            Qt[p, Q_PI] = k * psi(g, si, dt)
            r = P[p, P_TREF] / dt
            Qt[p, Q_REFSTEPS] = float(round(r)) if abs(r - round(r)) <= _GRID_FUZZ * max(1.0, r) else -1.0
            Qt[p, Q_DELTAONLY] = 1.0 if (P[p, P_DE] != 0.0 and P[p, P_DI] != 0.0) else 0.0
        self._Qt = Qt
        N = plan.n_neurons
        projs = plan.projections
        proj_dstep = np.empty(len(projs), np.int64)
        parts, dstep_off = [], np.zeros(len(projs), np.int64)
        n_d, max_d = 0, 0
        for pr in projs:
            from_source = pr.pre.kind != "population"
            if pr.delay is not None:
                proj_dstep[pr.index] = _delay_steps(pr.delay, dt, from_source)
                max_d = max(max_d, int(proj_dstep[pr.index]))
            else:
                proj_dstep[pr.index] = -1
                ds = np.ascontiguousarray(_delay_steps(pr.csr.delays, dt, from_source))
                parts.append(ds)
                dstep_off[pr.index] = n_d
                n_d += ds.size
                if ds.size:
                    max_d = max(max_d, int(ds.max()))
        self._DS = (proj_dstep, np.concatenate(parts) if parts else np.zeros(1, np.int64), dstep_off)
        nslots = max_d + 1
        self._RING = List([np.empty((nslots, 16, 3), np.int64)])
        self._rn = np.zeros(nslots, np.int64)
        # sources: the event engine's streams, from their seeds
        SRC = A.sources
        src_kind, src_rate, st_ptr, st_times = SRC.kind, SRC.rate, SRC.st_ptr, SRC.times
        S_tot = src_kind.shape[0]
        src_rng = seed_streams(net.seed, STREAM_SOURCES, S_tot)
        src_next = _first_poisson(src_rng, src_rate, src_kind)
        src_pos = st_ptr[:-1].copy()
        src_step = np.full(S_tot, np.iinfo(np.int64).max, np.int64)
        for s in range(S_tot):
            if src_kind[s] == 0:
                if st_ptr[s] < st_ptr[s + 1]:
                    src_step[s] = max(1, math.ceil(st_times[st_ptr[s]] / dt - _GRID_FUZZ))
            elif math.isfinite(src_next[s]):
                src_step[s] = max(1, math.ceil(src_next[s] / dt - _GRID_FUZZ))
        self._SRC = ClockSources(N, src_kind, src_rate, st_ptr, st_times, src_rng, src_pos, src_next,
                                 src_step)
        # lazy drives: each stream after its first draw, as the event engine starts
        self._DST = initial_drives(plan)
        # neuron state: plain (V, I_exc, I_inh) from the populations' initial potentials
        V = np.empty(N)
        for g in plan.populations:
            V[g.node_off:g.node_off + g.size] = g.obj.v_init
        self._S = (V, np.zeros(N), np.zeros(N), np.full(N, -np.inf))
        self._SP = (List([np.empty(1024)]), List([np.empty(1024, np.int64)]), np.zeros(1, np.int64))
        self._cnt = np.zeros(NCOUNT, np.int64)
        self.step = 0
        self.counts = OpCounts()
        self._all_spikes = []

    @staticmethod
    def _net_shape(net):
        return (net.n_neurons, len(net._pops), len(net._sources), len(net._projs), len(net._drives),
                net.n_synapses)

    @property
    def t(self) -> float:
        """Simulated time (ms): steps done x dt."""
        return self.step * self.dt

    def steps_for(self, duration: float) -> int:
        """Number of steps in ``duration`` ms; ValueError unless it is a whole number."""
        duration = real("duration", duration, lo=0.0)
        n = round(duration / self.dt)
        if abs(n * self.dt - duration) > 1e-9 * max(self.dt, duration):
            raise ValueError(f"duration={duration!r} is not allowed; the clock engine needs a whole "
                             f"number of steps of dt={self.dt!r} ms")
        return int(n)

    def run(self, duration: float) -> Result:
        """Simulate ``duration`` ms more (a whole number of steps); continues exactly, so
        ``run(T)`` equals ``run(T1); run(T - T1)`` bitwise, counts included.

        Returns
        -------
        Result
            Spikes in (t, t + duration] (on the grid), the counts of this call; no state
            samples.
        """
        nsteps = self.steps_for(duration)
        if self._net_shape(self.net) != self._shape:
            raise RuntimeError("the network changed after this ClockEngine was made; make a new one")
        cnt_before = self._cnt.copy()
        spn = self._SP[2]
        n_before = int(spn[0])
        t0 = self.t
        info = np.zeros(2)
        A = self._plan.arrays
        C = ClockNet(A.pops.P, A.pops.pop_off, self._Qt, A.graph, bind(self._plan, None), A.drives,
                     self._DS)
        R = ClockRun(self._SRC, self._DST, self._S, self._RING, self._rn, self._SP, self._cnt)
        status = clock_kernel(C, R, np.int64(self.step), np.int64(nsteps), self.dt, info)
        if status == NONFINITE:
            raise FloatingPointError(f"non-finite state of neuron {int(info[0])} at t={info[1]!r} ms "
                                     f"(check weights and parameters)")
        self.step += nsteps
        n_sp = int(spn[0])
        times = self._SP[0][0][n_before:n_sp].copy()
        ids = self._SP[1][0][n_before:n_sp].copy()
        order = np.lexsort((ids, times))
        spikes = Spikes(times[order], ids[order])
        self._all_spikes.append(spikes)
        counts = OpCounts.from_array(self._cnt - cnt_before)
        self.counts = self.counts + counts
        return Result(t0, self.t, spikes, counts, None, self.net.populations, self.dt)

    def state(self):
        """Copies of (V, I_exc, I_inh) of every neuron at the current time ``t`` (mV)."""
        V, IE, II, REF = self._S
        return V.copy(), IE.copy(), II.copy()

    @property
    def spikes(self) -> Spikes:
        """All spikes of all runs of this engine, sorted by (time, id)."""
        if not self._all_spikes:
            return Spikes(np.empty(0), np.empty(0, np.int64))
        return Spikes(np.concatenate([s.times for s in self._all_spikes]),
                      np.concatenate([s.ids for s in self._all_spikes]))


def run_clock(net, duration: float, dt: float = 0.1) -> Result:
    """Run ``net`` from its initial state for ``duration`` ms on a grid of ``dt`` ms with
    the clock-driven reference engine (the network's event-engine state is untouched)."""
    return ClockEngine(net, dt).run(duration)
