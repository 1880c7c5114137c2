"""Exact spike-time gradients by event-based backpropagation (EventProp).

Model: the normalised current-based LIF neuron of Wunderlich & Pehle (2021), "Event-based
backpropagation can compute exact gradients for spiking neural networks", Sci. Rep.
11:12829 (units: ms, mV)::

    tau_m dV/dt = -V + I          tau_s dI/dt = -I
    input spike of weight w (after the delay d):  I += w
    V crosses theta from below:   spike, V := 0, held there for t_ref (default 0)

Populations may instead have delta synapses (an input makes V jump by w), and delays
may be axonal (one per presynaptic neuron and projection) or synaptic (one per
synapse); thresholds are per neuron.  docs/gradients.md derives the adjoint terms of
delays, thresholds, the refractory period and delta synapses; the kernels below
carry them as comments.

Non-spiking *leaky integrator* populations obey the same equations without threshold;
their read-out is max_t V(t) over [0, t_end].  With g = 1/tau_m, s = 1/tau_s the state
after x ms of free evolution is the closed form used by the event engine
(:mod:`eventsnn.models`)::

    V(x) = V e^{-g x} + g I psi(g, s, x),    I(x) = I e^{-s x},
    psi(g, s, x) = (e^{-s x} - e^{-g x}) / (g - s)   (= x e^{-g x} for g == s)

Forward pass (:func:`forward_kernel`).  An exact event-driven simulation with one heap
of (time, sequence)-ordered events: *arrivals* (one per presynaptic spike and
projection, delivered to every target of the dense weight matrix)
and threshold *candidates* (the engine's exact crossing solver, see ``_next_crossing``; one live
candidate per neuron, superseded ones dropped lazily by version number).  For every
spike it records the time, the neuron and the current I at the spike, and it logs the
order in which arrivals and spikes were processed; for leaky integrators it records
the time and value of the voltage maximum.  The spike times equal those of
:meth:`eventsnn.Network.run` on the same network (LIF with v_reset = 0, t_ref = 0,
tau_syn_exc = tau_syn_inh = tau_s; tested to 1e-9 ms).

Backward pass (:func:`backward_kernel`).  We use the sensitivities
``mu_V(t) = dL/dV(t)`` and ``mu_I(t) = dL/dI(t)`` (1/mV; Wunderlich & Pehle's adjoint
variables are lambda_V = -g mu_V and lambda_I = -s mu_I, so their gradient
-tau_s sum lambda_I is our sum mu_I).
Integrated backwards from t_end with mu = 0 there, between events they obey
``-dmu_V/dt = -g mu_V`` and ``-dmu_I/dt = -s mu_I + g mu_V``, whose closed form over a
backward step of x ms is::

    mu_I <- e^{-s x} mu_I + g psi(g, s, x) mu_V,     mu_V <- e^{-g x} mu_V

so no ODE is stepped.  The events are replayed in reverse order:

* arrival of spike k (weight w_ki) at target i at time t_a:
  ``dL/dw_ki += mu_I,i(t_a)`` (the weight is added to I_i there), and the error sent
  back to spike k grows by ``w_ki (s mu_I,i - g mu_V,i)(t_a)`` (moving the arrival later
  by dt lowers V_i by g w dt and raises I_i by s w dt, relative to the unperturbed
  trajectory after it; this is W&P's w (lambda_V - lambda_I)).
* spike k of neuron n at t_k with current I_k: mu_I is continuous, and with
  ``E_k = dl/dt_k + (error sent back through its arrivals)``::

      mu_V^- = (I_k mu_V^+ - tau_m E_k) / (I_k - theta)

  because a perturbation dV just before the spike moves it by dt_k = -dV / V'^-,
  V'^- = (I_k - theta)/tau_m, and after the reset V starts rising dt_k earlier
  (V'^+ = I_k/tau_m).  In W&P's variables this is their jump
  lambda_V^- = (I lambda_V^+ + e_k)/(I - theta).
* a leaky integrator's voltage maximum enters as one kick ``mu_V += dL/dV_max`` at its
  time (the maximum is stationary, so its time needs no derivative; a maximum at the
  kink of an inhibitory arrival adds ``dL/dV_max * V'^-`` to the error of that
  arrival's spike).
* the error accumulated by an input spike is ``dL/dt_in`` for that input spike.

Grazing spikes.  I_k - theta -> 0 when V only grazes the threshold; the jump then
explodes (the spike time is not differentiable where the spike appears or vanishes).
A spike with ``I_k - theta < graze * theta`` is treated as non-differentiable: its
jump is set to mu_V^- = 0 (its gradient is zeroed, not estimated) and it is counted
in :class:`EventPropCounts` ``grazing``.  ``graze = 0`` disables this.

Silent neurons and missing spikes have no exact gradient (the loss is locally
constant in the weights into a neuron that never fires); see
:mod:`eventsnn.gradients.train` for weight bumping, and ``CountBounds`` in
:mod:`eventsnn.gradients.losses`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import NamedTuple

import numpy as np
from numba import njit

from ..models import Traj, _f_root, first_crossing, psi, psi_max

__all__ = ["EventPropCounts"]

# status codes of the kernels
OK, TOO_MANY_SPIKES = 0, 1


class Arch(NamedTuple):
    """A layered network as the kernels read it (``SNN.arch()``); populations are the
    layers after the input, projections as in ``SNN.projections``."""

    #: int64 [L + 1]: first neuron of every population, and N
    pop_off: np.ndarray
    #: float64 [L]: 1/tau_m (1/ms)
    pop_g: np.ndarray
    #: float64 [L]: 1/tau_s (1/ms)
    pop_s: np.ndarray
    #: int64 [L]: 1 spiking, 0 leaky read-out
    pop_spk: np.ndarray
    #: float64 [L]: refractory period (ms, >= 0; 0 for a leaky read-out)
    pop_ref: np.ndarray
    #: int64 [L]: 1 for delta synapses (an input of weight w makes V jump by w; I unused)
    pop_delta: np.ndarray
    #: int64 [N]: population of every neuron
    neuron_pop: np.ndarray
    #: int64 [Q]: presynaptic population (-1: the input)
    proj_pre: np.ndarray
    #: int64 [Q]: postsynaptic population
    proj_post: np.ndarray
    #: int64 [Q]: start of each projection's (n_pre, n_post) weight block in the flat weights
    proj_woff: np.ndarray
    #: int64 [Q]: start of each projection's delays in ``dly``: n_pre axonal delays, or
    #: with ``proj_syn`` an (n_pre, n_post) row-major block of synaptic delays
    proj_doff: np.ndarray
    #: int64 [Q]: 1 if the projection has one delay per synapse, 0 per presynaptic neuron
    proj_syn: np.ndarray
    #: int64 [L + 2]: projections leaving each group (group 0 the input, p + 1 population p)
    out_ptr: np.ndarray
    #: int64: those projections
    out_q: np.ndarray
    #: float64 [N]: threshold of every neuron (mV)
    th: np.ndarray
    #: float64: axonal delays (ms), one per presynaptic neuron and projection
    dly: np.ndarray


class ForwardLog(NamedTuple):
    """What a forward pass records for the adjoint pass (capacities: the arrays' sizes)."""

    #: float64: spike times (ms); input spikes first
    sp_t: np.ndarray
    #: int64: neuron of each spike (input spikes: -1 - input)
    sp_n: np.ndarray
    #: float64: I at each spike (mV)
    sp_i: np.ndarray
    #: int64 [N]: index of each neuron's first spike, -1 if none
    first_sp: np.ndarray
    #: int64: processing log: the spike of an entry
    lg_a: np.ndarray
    #: int64: the projection of an arrival, -1 for a spike
    lg_b: np.ndarray
    #: float64 [N]: voltage maximum of leaky read-outs (mV)
    vm_v: np.ndarray
    #: float64 [N]: its time (ms)
    vm_t: np.ndarray
    #: int64 [N]: the log entry of the arrival at which it lies (-1: none)
    vm_arr: np.ndarray
    #: float64 [N]: V' just before that arrival (mV/ms)
    vm_slope: np.ndarray
    #: float64: I at the end of each spike's refractory period (mV; = sp_i without
    #: one; 0 when that end lies after t_end)
    sp_r: np.ndarray
    #: int64: the previous spike of the same neuron (-1: none)
    sp_prev: np.ndarray
    #: int64 [N]: index of each neuron's last spike, -1 if none
    last_sp: np.ndarray
    #: int64: for a spike of a delta-synapse neuron, the log entry of the arrival that
    #: took V over threshold (-1 otherwise)
    sp_cause: np.ndarray


@njit(cache=True)
def new_log(cap, log_cap, n):
    """An empty ``ForwardLog`` for ``cap`` spikes, ``log_cap`` log entries and n neurons."""
    return ForwardLog(np.empty(cap), np.empty(cap, np.int64), np.empty(cap), np.empty(n, np.int64),
                      np.empty(log_cap, np.int64), np.empty(log_cap, np.int64), np.empty(n), np.empty(n),
                      np.empty(n, np.int64), np.empty(n), np.empty(cap), np.empty(cap, np.int64),
                      np.empty(n, np.int64), np.empty(cap, np.int64))

# forward counters
F_SPIKES, F_INPUT_SPIKES, F_SYN, F_ADV, F_PUSH, F_POP, F_STALE, F_THRESH = range(8)
# backward counters
B_ADJ, B_JUMP, B_GRAD, B_GRAZE, B_KICK = range(8, 13)
NCOUNT = 13


@dataclass(frozen=True)
class EventPropCounts:
    """Exact operation counts of EventProp forward and backward passes (all int).

    Forward: ``spikes`` (neuron spikes), ``input_spikes``, ``syn_events`` (one weight
    added to one target's current), ``state_advances`` (closed-form propagations of a
    neuron's (V, I)), ``queue_pushes``, ``queue_pops``, ``stale_candidates`` (threshold
    candidates superseded by later input), ``threshold_tests`` (crossing tests that
    needed more than the O(1) bounds: an exponential evaluation and, if a crossing
    exists, the root solver).

    Backward: ``adjoint_updates`` (closed-form propagations of one neuron's
    (mu_V, mu_I)), ``jumps`` (adjoint jumps at spikes), ``grad_accumulations`` (one
    dL/dw term added), ``grazing`` (jumps zeroed because the spike grazed the
    threshold), ``kicks`` (voltage-maximum kicks of leaky read-outs).  Neurons whose
    adjoint is exactly zero (nothing downstream of them reached the loss yet) are
    skipped and cost neither updates nor accumulations: their terms are exactly 0.
    """

    spikes: int = 0
    input_spikes: int = 0
    syn_events: int = 0
    state_advances: int = 0
    queue_pushes: int = 0
    queue_pops: int = 0
    stale_candidates: int = 0
    threshold_tests: int = 0
    adjoint_updates: int = 0
    jumps: int = 0
    grad_accumulations: int = 0
    grazing: int = 0
    kicks: int = 0

    @classmethod
    def from_array(cls, a) -> "EventPropCounts":
        return cls(*(int(x) for x in np.asarray(a).reshape(-1)[:NCOUNT]))

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def __add__(self, other: "EventPropCounts") -> "EventPropCounts":
        return EventPropCounts(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))


# ---------------------------------------------------------------------------
# Heap of (time, seq, a, b) rows in one float64 array.  b >= 0: arrival of spike a
# through projection b; b < 0: threshold candidate of neuron a with version -(b + 1).
# Why not the engine's queue (engine.queue): this kernel runs with reference counting
# (it allocates, in a parallel batch), and every call passing the engine's 21-array
# queue counted all of them: an epoch took 3.7x as long (Yin-Yang 5-200-3, 1000
# samples: 0.68 s against 0.18 s, one thread).  One array is one count.
# ---------------------------------------------------------------------------


@njit(cache=True)
def _hpush(H, n, t, seq, a, b):
    if n == H.shape[0]:
        H2 = np.empty((2 * n, 4))
        H2[:n] = H
        H = H2
    i = n
    while i > 0:
        p = (i - 1) >> 1
        tp = H[p, 0]
        if t < tp or (t == tp and seq < H[p, 1]):
            H[i, 0] = tp
            H[i, 1] = H[p, 1]
            H[i, 2] = H[p, 2]
            H[i, 3] = H[p, 3]
            i = p
        else:
            break
    H[i, 0] = t
    H[i, 1] = seq
    H[i, 2] = a
    H[i, 3] = b
    return H, n + 1


@njit(cache=True)
def _hpop(H, n):
    t0 = H[0, 0]
    a0 = H[0, 2]
    b0 = H[0, 3]
    last = n - 1
    if last > 0:
        t = H[last, 0]
        sq = H[last, 1]
        i = 0
        while True:
            l = 2 * i + 1
            if l >= last:
                break
            m = l
            r = l + 1
            if r < last and (H[r, 0] < H[l, 0] or (H[r, 0] == H[l, 0] and H[r, 1] < H[l, 1])):
                m = r
            if H[m, 0] < t or (H[m, 0] == t and H[m, 1] < sq):
                H[i, 0] = H[m, 0]
                H[i, 1] = H[m, 1]
                H[i, 2] = H[m, 2]
                H[i, 3] = H[m, 3]
                i = m
            else:
                break
        H[i, 0] = t
        H[i, 1] = sq
        H[i, 2] = H[last, 2]
        H[i, 3] = H[last, 3]
    return t0, int(a0), int(b0), last


# ---------------------------------------------------------------------------
# Scalar closed forms
# ---------------------------------------------------------------------------


@njit(cache=True, inline="always")
def _kern(g, s, x):
    """(e^{-g x}, e^{-s x}, g psi(g, s, x)) for a step of x >= 0 ms."""
    return math.exp(-g * x), math.exp(-s * x), g * psi(g, s, x)


@njit(cache=True)
def _stationary(g, s, v0, i0, lo, hi):
    """The x in (lo, hi) where dV/dt = g (I - V) changes sign from + to -, for the free
    trajectory from (v0, i0) at x = 0 (D = I - V has at most one zero: it is a sum of
    two exponentials).  Safeguarded Newton on D, stopped at 1e-15 relative."""
    x = 0.5 * (lo + hi)
    for _ in range(200):
        eg, es, gp = _kern(g, s, x)
        ix = i0 * es
        d = ix - (v0 * eg + i0 * gp)
        if d > 0.0:
            lo = x
        elif d < 0.0:
            hi = x
        else:
            return x
        if hi - lo <= 1e-15 * hi:
            return 0.5 * (lo + hi)
        dd = -s * ix - g * d
        xn = x - d / dd if dd != 0.0 else 0.5 * (lo + hi)
        if not (lo < xn < hi):
            xn = 0.5 * (lo + hi)
        if abs(xn - x) <= 1e-15 * xn:
            return xn
        x = xn
    return 0.5 * (lo + hi)


@njit(cache=True)
def _vmax_update(g, s, v0, i0, t0, t1, e_arr, vm_v, vm_t, vm_arr, vm_slope, n):
    """Update neuron n's running voltage maximum with the free trajectory from (v0, i0)
    at t0 up to t1 (inclusive, left limit), ending at log entry e_arr (-1: end of run).
    Strict comparisons keep the earliest of equal maxima."""
    x1 = t1 - t0
    eg, es, gp = _kern(g, s, x1)
    v1 = v0 * eg + i0 * gp
    i1 = i0 * es
    if i0 - v0 > 0.0 and i1 - v1 < 0.0:
        xs = _stationary(g, s, v0, i0, 0.0, x1)
        eg2, es2, gp2 = _kern(g, s, xs)
        vs = v0 * eg2 + i0 * gp2
        if vs > vm_v[n]:
            vm_v[n] = vs
            vm_t[n] = t0 + xs
            vm_arr[n] = -1
            vm_slope[n] = 0.0
    if v1 > vm_v[n]:
        vm_v[n] = v1
        vm_t[n] = t1
        vm_arr[n] = e_arr
        vm_slope[n] = g * (i1 - v1)   # V'(t1^-): used when t1 is an arrival kink


@njit(cache=True)
def _next_crossing(g, s, th, pmax, v, cur):
    """Time (ms, > 0) from now of the first threshold crossing of the free trajectory
    from (v < th, cur), or inf; and whether a crossing test beyond the O(1) bounds ran.

    A crossing needs dV/dt = g (I - V) > 0 at V = th, i.e. I > th; I decays, so a
    crossing can only happen before z0 = ln(cur/th)/s, the zero of h = f' + g f in the
    argument of :mod:`eventsnn.models`, and V increases while below threshold on
    [0, z0]: a crossing exists iff V(z0) >= th.  Cheap bound first: V(x) <= max(v, 0)
    + cur g psi_max.  The root is then polished on [0, z0] by the engine's safeguarded
    Newton solver (``models._f_root``); when V(z0) is within 1e-9 (relative) below
    threshold the engine's full solver ``models.first_crossing`` decides (grazing)."""
    if cur <= th:
        return math.inf, False
    if max(v, 0.0) + cur * pmax < th:
        return math.inf, False
    z0 = math.log(cur / th) / s
    vz = v * math.exp(-g * z0) + cur * g * psi(g, s, z0)
    if vz >= th:
        return _f_root(False, Traj(g, g, s, s, 0.0, th, 0.0, v, cur, 0.0, 0.0, 0.0, 0.0, 0.0), 0.0,
                       z0), True
    if vz >= th * (1.0 - 1e-9):
        return first_crossing(g, g, s, s, 0.0, th, 0.0, v, cur, 0.0), True
    return math.inf, True


# ---------------------------------------------------------------------------
# Forward
# ---------------------------------------------------------------------------


@njit(cache=True, inline="always")
def _decode(b, Q, proj_post, pop_off):
    """(projection, first target, end target) of an arrival code b: b < Q is a whole
    row (axonal delay), b = q + Q (i + 1) target i alone (synaptic delay)."""
    if b < Q:
        p = proj_post[b]
        return b, 0, pop_off[p + 1] - pop_off[p]
    q = b % Q
    i = b // Q - 1
    return q, i, i + 1


@njit(cache=True)
def _push_arrivals(H, hn, seq, q, Q, k, j, t, t_end, proj_post, pop_off, proj_doff, proj_syn, dly, cnt):
    """Queue the arrivals of spike k (presynaptic index j, time t) through projection
    q: one for the row, or one per synapse with synaptic delays; none after t_end."""
    if proj_syn[q] == 0:
        ta = t + dly[proj_doff[q] + j]
        if ta <= t_end:
            H, hn = _hpush(H, hn, ta, seq, k, q)
            seq += 1.0
            cnt[F_PUSH] += 1
        return H, hn, seq
    p = proj_post[q]
    npost = pop_off[p + 1] - pop_off[p]
    base = proj_doff[q] + j * npost
    for i in range(npost):
        ta = t + dly[base + i]
        if ta <= t_end:
            H, hn = _hpush(H, hn, ta, seq, k, q + Q * (i + 1))
            seq += 1.0
            cnt[F_PUSH] += 1
    return H, hn, seq


@njit(cache=True, inline="always")
def _release(s, I, TL, REL, PEND, LASTK, sp_r, n, t):
    """I of refractory neuron n at its release time, if that is <= t: records it as the
    spike's sp_r, ends the refractory state and returns (release time, I there);
    otherwise returns (-1, 0) and leaves the state alone."""
    r = REL[n]
    if not PEND[n] or t < r:
        return -1.0, 0.0
    ir = I[n] * math.exp(-s * (r - TL[n]))
    sp_r[LASTK[n]] = ir
    PEND[n] = False
    return r, ir


@njit(cache=True)
def forward_kernel(A, w, in_t, in_id, t_end, F, cnt):
    """Exact event-driven forward pass of one sample of network ``A`` (an ``Arch``).

    Inputs: ``in_t``/``in_id`` sorted input spikes (ms, input index); weights ``w``
    flat (projection q is the row-major (n_pre, n_post) block at ``proj_woff[q]``).
    Spikes after ``t_end`` (ms) are neither recorded nor delivered.

    Refractory period (``pop_ref`` > 0): after a spike V stays 0 until the release
    time REL = t_k + t_ref while I keeps decaying and receiving inputs; the neuron's
    threshold candidate is computed from its state at REL.

    Fills the ``ForwardLog`` F: the spike record (input spikes are the first
    ``len(in_t)`` entries), each neuron's first spike, the processing log, the leaky
    read-outs' maxima; and the counters ``cnt``.  Returns (status, n_spikes, n_log).
    """
    pop_off, pop_g, pop_s, pop_spk, pop_ref, pop_delta, neuron_pop, proj_pre, proj_post, proj_woff, proj_doff, proj_syn, \
        out_ptr, out_q, th, dly = A
    Q = proj_pre.shape[0]
    sp_t, sp_n, sp_i, first_sp, lg_a, lg_b, vm_v, vm_t, vm_arr, vm_slope, sp_r, sp_prev, last_sp, sp_cause = F
    N = neuron_pop.shape[0]
    cap = sp_t.shape[0]
    V = np.zeros(N)
    I = np.zeros(N)
    TL = np.zeros(N)
    VER = np.zeros(N, np.int64)
    REL = np.zeros(N)
    PEND = np.zeros(N, np.bool_)
    CAUSEF = np.full(N, -1, np.int64)
    # the unit PSP peaks of the crossing bound, once per population (not per arrival:
    # a synaptic-delay arrival has one target)
    PMAX = np.empty(pop_g.shape[0])
    for p in range(pop_g.shape[0]):
        PMAX[p] = pop_g[p] * psi_max(pop_g[p], pop_s[p])
    for n in range(N):
        first_sp[n] = -1
        last_sp[n] = -1
        vm_v[n] = 0.0
        vm_t[n] = -1.0
        vm_arr[n] = -1
        vm_slope[n] = 0.0
    H = np.empty((64, 4))
    hn = 0
    seq = 0.0
    ns = 0
    nl = 0
    nin = in_t.shape[0]
    if nin > cap:
        return TOO_MANY_SPIKES, 0, 0
    for j in range(nin):
        sp_t[j] = in_t[j]
        sp_n[j] = -1 - in_id[j]
        sp_i[j] = 0.0
        sp_r[j] = 0.0
        sp_prev[j] = -1
        sp_cause[j] = -1
        for qq in range(out_ptr[0], out_ptr[1]):
            H, hn, seq = _push_arrivals(H, hn, seq, out_q[qq], Q, j, in_id[j], in_t[j], t_end, proj_post, pop_off,
                                        proj_doff, proj_syn, dly, cnt)
    ns = nin
    cnt[F_INPUT_SPIKES] += nin
    while hn > 0:
        t, a, b, hn = _hpop(H, hn)
        cnt[F_POP] += 1
        if b < 0:
            n = a
            if VER[n] != -(b + 1):
                cnt[F_STALE] += 1
                continue
            p = neuron_pop[n]
            g = pop_g[p]
            s = pop_s[p]
            dlt = pop_delta[p] != 0
            if dlt:
                ik = 0.0
            else:
                r, ir = _release(s, I, TL, REL, PEND, last_sp, sp_r, n, t)
                if r >= 0.0:
                    ik = ir * math.exp(-s * (t - r))
                else:
                    ik = I[n] * math.exp(-s * (t - TL[n]))
                cnt[F_ADV] += 1
            if ns == cap:
                return TOO_MANY_SPIKES, ns, nl
            k = ns
            ns += 1
            sp_t[k] = t
            sp_n[k] = n
            sp_i[k] = ik
            sp_cause[k] = CAUSEF[n] if dlt else -1
            sp_prev[k] = last_sp[n]
            last_sp[n] = k
            if first_sp[n] < 0:
                first_sp[n] = k
            cnt[F_SPIKES] += 1
            lg_a[nl] = k
            lg_b[nl] = -1
            nl += 1
            V[n] = 0.0
            I[n] = ik
            TL[n] = t
            VER[n] += 1
            ref = pop_ref[p]
            if dlt:
                # V stays 0 (inputs before t + ref are discarded); no crossing
                # without input
                REL[n] = t + ref
                sp_r[k] = 0.0
                tc = math.inf
                tested = False
            elif ref > 0.0:
                REL[n] = t + ref
                PEND[n] = True
                sp_r[k] = 0.0
                dtc, tested = _next_crossing(g, s, th[n], PMAX[p], 0.0, ik * math.exp(-s * ref))
                tc = REL[n] + dtc
            else:
                sp_r[k] = ik
                dtc, tested = _next_crossing(g, s, th[n], PMAX[p], 0.0, ik)
                tc = t + dtc
            if tested:
                cnt[F_THRESH] += 1
            if tc <= t_end:
                H, hn = _hpush(H, hn, tc, seq, n, -(VER[n] + 1))
                seq += 1.0
                cnt[F_PUSH] += 1
            loc = n - pop_off[p]
            for qq in range(out_ptr[p + 1], out_ptr[p + 2]):
                H, hn, seq = _push_arrivals(H, hn, seq, out_q[qq], Q, k, loc, t, t_end, proj_post, pop_off,
                                            proj_doff, proj_syn, dly, cnt)
        else:
            # arrival of spike a through projection q at targets i0..i1-1 of its row
            q, i0, i1 = _decode(b, Q, proj_post, pop_off)
            e = nl
            lg_a[nl] = a
            lg_b[nl] = b
            nl += 1
            src = sp_n[a]
            pre = proj_pre[q]
            j = -1 - src if pre < 0 else src - pop_off[pre]
            p = proj_post[q]
            off = pop_off[p]
            npost = pop_off[p + 1] - off
            g = pop_g[p]
            s = pop_s[p]
            spk = pop_spk[p] != 0
            refr = pop_ref[p] > 0.0
            pmax = PMAX[p]
            base = proj_woff[q] + j * npost
            xprev = -1.0
            eg = 1.0
            es = 1.0
            gp = 0.0
            dlt = pop_delta[p] != 0
            for i in range(i0, i1):
                n = off + i
                if dlt:
                    cnt[F_SYN] += 1
                    if spk and t < REL[n] and last_sp[n] >= 0:
                        continue   # refractory: a delta input is discarded
                    v = V[n] * math.exp(-g * (t - TL[n])) + w[base + i]
                    V[n] = v
                    TL[n] = t
                    cnt[F_ADV] += 1
                    if spk:
                        # same-instant inputs are summed before the test (as in the
                        # event engine): the spike is a candidate at t, behind them
                        VER[n] += 1
                        if v >= th[n]:
                            CAUSEF[n] = e
                            H, hn = _hpush(H, hn, t, seq, n, -(VER[n] + 1))
                            seq += 1.0
                            cnt[F_PUSH] += 1
                    elif v > vm_v[n]:
                        vm_v[n] = v
                        vm_t[n] = t
                        vm_arr[n] = e
                        vm_slope[n] = -g * v   # V' just after the jump
                    continue
                if refr and PEND[n]:
                    r, ir = _release(s, I, TL, REL, PEND, last_sp, sp_r, n, t)
                    if r < 0.0:
                        # still refractory: V stays 0, I integrates; the candidate
                        # is the crossing after the release
                        cur = I[n] * math.exp(-s * (t - TL[n])) + w[base + i]
                        I[n] = cur
                        TL[n] = t
                        cnt[F_ADV] += 1
                        cnt[F_SYN] += 1
                        VER[n] += 1
                        dtc, tested = _next_crossing(g, s, th[n], pmax, 0.0, cur * math.exp(-s * (REL[n] - t)))
                        if tested:
                            cnt[F_THRESH] += 1
                            if REL[n] + dtc <= t_end:
                                H, hn = _hpush(H, hn, REL[n] + dtc, seq, n, -(VER[n] + 1))
                                seq += 1.0
                                cnt[F_PUSH] += 1
                        continue
                    # released since: the free trajectory starts at (0, ir) at r
                    V[n] = 0.0
                    I[n] = ir
                    TL[n] = r
                x = t - TL[n]
                if x != xprev:   # targets last touched at the same time share the exps
                    eg, es, gp = _kern(g, s, x)
                    xprev = x
                if not spk:
                    _vmax_update(g, s, V[n], I[n], TL[n], t, e, vm_v, vm_t, vm_arr, vm_slope, n)
                v = V[n] * eg + I[n] * gp
                cur = I[n] * es + w[base + i]
                V[n] = v
                I[n] = cur
                TL[n] = t
                cnt[F_ADV] += 1
                cnt[F_SYN] += 1
                if spk:
                    VER[n] += 1
                    dtc, tested = _next_crossing(g, s, th[n], pmax, v, cur)
                    if tested:
                        cnt[F_THRESH] += 1
                        if t + dtc <= t_end:
                            H, hn = _hpush(H, hn, t + dtc, seq, n, -(VER[n] + 1))
                            seq += 1.0
                            cnt[F_PUSH] += 1
    for n in range(N):
        p = neuron_pop[n]
        if PEND[n] and REL[n] <= t_end:
            # release inside the window after the neuron's last event
            _release(pop_s[p], I, TL, REL, PEND, last_sp, sp_r, n, REL[n])
        # close the last interval of the leaky read-outs
        if pop_spk[p] == 0 and pop_delta[p] == 0 and t_end > TL[n]:
            _vmax_update(pop_g[p], pop_s[p], V[n], I[n], TL[n], t_end, -1, vm_v, vm_t, vm_arr, vm_slope, n)
    return OK, ns, nl


# ---------------------------------------------------------------------------
# Backward
# ---------------------------------------------------------------------------


@njit(cache=True, inline="always")
def _adj_step(g, s, ref, MV, MI, TB, CUR, sp_t, n, t):
    """Propagate neuron n's adjoint (mu_V, mu_I) back from TB[n] to t <= TB[n].  Inside
    the refractory period [t_k, t_k + ref] of its latest spike k not yet replayed, V is
    clamped: mu_V stays constant and mu_I only decays.  Returns whether anything was
    computed."""
    x = TB[n] - t
    if x <= 0.0:
        return False
    k = CUR[n]
    if ref > 0.0 and k >= 0:
        r = sp_t[k] + ref
        if r > t:
            if r < TB[n]:
                a1, b1, c1 = _kern(g, s, TB[n] - r)
                MI[n] = MI[n] * b1 + c1 * MV[n]
                MV[n] = MV[n] * a1
                MI[n] *= math.exp(-s * (r - t))
            else:
                MI[n] *= math.exp(-s * x)
            TB[n] = t
            return True
    a1, b1, c1 = _kern(g, s, x)
    MI[n] = MI[n] * b1 + c1 * MV[n]
    MV[n] = MV[n] * a1
    TB[n] = t
    return True


@njit(cache=True)
def backward_kernel(A, w, t_end, graze, F, ns, nl, dl_dt, dl_dv, grad, gd, gth, err, cnt):
    """Adjoint pass over the log ``F`` (ns spikes, nl entries) of one forward pass (see
    the module docstring).

    ``dl_dt[k]``: explicit dL/dt_k of spike k (1/ms); ``dl_dv[n]``: dL/dV_max of leaky
    read-out n (1/mV).  Adds dL/dw to ``grad`` (1/mV, same layout as w), dL/d(delay)
    to ``gd`` (1/ms, layout of ``A.dly``; skipped when empty) and dL/d(threshold) to
    ``gth`` (1/mV, one per neuron; skipped when empty), and leaves in ``err[k]`` (k <
    number of input spikes) dL/dt of every input spike (1/ms).
    """
    pop_off, pop_g, pop_s, pop_spk, pop_ref, pop_delta, neuron_pop, proj_pre, proj_post, proj_woff, proj_doff, proj_syn, \
        out_ptr, out_q, th, dly = A
    Q = proj_pre.shape[0]
    sp_t, sp_n, sp_i, first_sp, lg_a, lg_b, vm_v, vm_t, vm_arr, vm_slope, sp_r, sp_prev, last_sp, sp_cause = F
    N = neuron_pop.shape[0]
    MV = np.zeros(N)
    MI = np.zeros(N)
    TB = np.full(N, t_end)
    KD = np.zeros(N, np.bool_)
    CUR = last_sp.copy()
    # delta neurons: the error of a spike waits for the arrival that caused it
    CAUSE = np.full(N, -1, np.int64)
    PE = np.zeros(N)
    want_d = gd.shape[0] > 0
    want_th = gth.shape[0] > 0
    for k in range(ns):
        err[k] = 0.0
    for e in range(nl - 1, -1, -1):
        k = lg_a[e]
        q = lg_b[e]
        if q >= 0:
            q, i0, i1 = _decode(q, Q, proj_post, pop_off)
            syn = proj_syn[q] != 0
            src = sp_n[k]
            pre = proj_pre[q]
            j = -1 - src if pre < 0 else src - pop_off[pre]
            p = proj_post[q]
            npost = pop_off[p + 1] - pop_off[p]
            dbase = proj_doff[q] + (j * npost + i0 if syn else j)
            t = sp_t[k] + dly[dbase]
            off = pop_off[p]
            g = pop_g[p]
            s = pop_s[p]
            ref = pop_ref[p]
            leaky = pop_spk[p] == 0
            base = proj_woff[q] + j * npost
            acc = 0.0
            xprev = -1.0
            eg = 1.0
            es = 1.0
            gp = 0.0
            dlt = pop_delta[p] != 0
            for i in range(i0, i1):
                n = off + i
                if dlt:
                    # V jumps by w: dL/dw = mu_V there; moving the arrival later by dt
                    # leaves V higher by g w dt afterwards
                    kc = CUR[n]
                    if not leaky and kc >= 0 and t < sp_t[kc] + ref:
                        continue   # discarded during the refractory period
                    if MV[n] != 0.0 and TB[n] > t:
                        MV[n] *= math.exp(-g * (TB[n] - t))
                        cnt[B_ADJ] += 1
                    TB[n] = t
                    term = 0.0
                    if leaky and vm_arr[n] == e:
                        # the maximum is V just after this jump, and moves with it
                        MV[n] += dl_dv[n]
                        KD[n] = True
                        cnt[B_KICK] += 1
                        term += dl_dv[n] * vm_slope[n]
                    if CAUSE[n] == e:
                        # the spike it caused is at its time
                        term += PE[n]
                        CAUSE[n] = -1
                    mv = MV[n]
                    term += w[base + i] * g * mv
                    grad[base + i] += mv
                    cnt[B_GRAD] += 1
                    acc += term
                    if want_d and syn:
                        gd[dbase] += term
                    continue
                if leaky and not KD[n] and t < vm_t[n] <= TB[n]:
                    # kick of the voltage maximum inside this backward step
                    x1 = TB[n] - vm_t[n]
                    if x1 > 0.0:
                        a1, b1, c1 = _kern(g, s, x1)
                        MI[n] = MI[n] * b1 + c1 * MV[n]
                        MV[n] = MV[n] * a1
                        cnt[B_ADJ] += 1
                    MV[n] += dl_dv[n]
                    TB[n] = vm_t[n]
                    KD[n] = True
                    cnt[B_KICK] += 1
                if leaky and vm_arr[n] == e:
                    acc += dl_dv[n] * vm_slope[n]
                mv = MV[n]
                mi = MI[n]
                if mv == 0.0 and mi == 0.0:
                    # a neuron whose adjoint is still zero (e.g. it never fired and
                    # no loss reads it) contributes exactly zero: skip the work
                    TB[n] = t
                    continue
                if ref > 0.0:
                    if _adj_step(g, s, ref, MV, MI, TB, CUR, sp_t, n, t):
                        cnt[B_ADJ] += 1
                    mv = MV[n]
                    mi = MI[n]
                    kc = CUR[n]
                    if kc >= 0 and sp_t[kc] + ref > t:
                        # arrival during the refractory period: V is clamped, only I moves
                        acc += w[base + i] * (s * mi)
                    else:
                        acc += w[base + i] * (s * mi - g * mv)
                    grad[base + i] += mi
                    cnt[B_GRAD] += 1
                    continue
                x = TB[n] - t
                if x > 0.0:
                    if x != xprev:
                        eg, es, gp = _kern(g, s, x)
                        xprev = x
                    mi = mi * es + gp * mv
                    mv = mv * eg
                    MI[n] = mi
                    MV[n] = mv
                    TB[n] = t
                    cnt[B_ADJ] += 1
                acc += w[base + i] * (s * mi - g * mv)
                grad[base + i] += mi
                cnt[B_GRAD] += 1
            err[k] += acc
            if want_d and not (dlt and syn):
                # the arrival time is t_k + d: its derivative is the delay's (a
                # synaptic delay's arrival has one target: acc is that synapse's term)
                gd[dbase] += acc
        else:
            n = sp_n[k]
            p = neuron_pop[n]
            g = pop_g[p]
            s = pop_s[p]
            thn = th[n]
            t = sp_t[k]
            if pop_delta[p] != 0:
                # the spike is at the arrival that took V over threshold, and V is 0
                # after it whatever V was before: mu_V^- = 0, the error goes to it
                TB[n] = t
                CUR[n] = sp_prev[k]
                PE[n] = dl_dt[k] + err[k]
                CAUSE[n] = sp_cause[k]
                MV[n] = 0.0
                cnt[B_JUMP] += 1
                continue
            if MV[n] != 0.0 or MI[n] != 0.0:
                if _adj_step(g, s, pop_ref[p], MV, MI, TB, CUR, sp_t, n, t):
                    cnt[B_ADJ] += 1
            TB[n] = t
            CUR[n] = sp_prev[k]
            ek = dl_dt[k] + err[k]
            ik = sp_i[k]
            den = ik - thn
            cnt[B_JUMP] += 1
            if den <= graze * thn:
                MV[n] = 0.0
                cnt[B_GRAZE] += 1
            else:
                # mu_V(t_k^+) is mu_V at the release (constant while clamped); the
                # release moves with t_k, and V starts rising at g I_r there
                MV[n] = (sp_r[k] * MV[n] - ek / g) / den
                if want_th:
                    gth[n] -= MV[n]
    # kicks of maxima that lie before every arrival to their neuron have no effect
    # (V there is 0 and independent of every parameter).
