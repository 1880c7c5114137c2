"""The event loop: exact, event-driven simulation of LIF networks on CSR projections.

Events are ordered by (time, insertion sequence) in one queue (``engine.queue``): a
heap, and FIFO *lanes* for the deliveries of each homogeneous delay.  Kinds:

* lane events: the rows of a spike's projections that share one delay (a spike
  enters the queue once per delay group).  Spikes are emitted in time order, so each
  delay's deliveries form a FIFO; since the next ones are known, the rows a lane will
  deliver are loaded ahead (``_lane_prefetch``: row pointers, then targets and weights,
  then the targets' state lines), which hides the memory latency of networks far larger
  than the cache.  A spike found late (driven neurons, below) would break a lane's order
  and takes the heap instead.
* ``DELIVER``  one delay group of one presynaptic row of one projection, in the heap:
  rows with per-synapse delays are sorted by delay and the next group is pushed only
  when the current one is delivered, so a row never holds more than one queue entry.
* ``CAND``     a neuron's predicted threshold crossing (``first_crossing``).  Each
  neuron keeps at most one live entry (see ``_schedule``); superseded entries are
  dropped lazily when popped (counted as stale).
* ``SOURCE``   the next spike of a spike-train or Poisson source (Poisson sources
  draw their next spike when the current one is popped); it is emitted like a
  neuron's spike.  ``FUSED``: the spike of a *fused* source, whose projections share
  one delay and reach only small populations (no lane prefetch to gain): it is queued
  at its arrival time and delivered there as a lane event, one queue entry per spike
  instead of a heap entry and a lane entry.
* ``SWEEP``, ``RENORM``, ``SAMPLE``: bookkeeping, see below.

Simultaneous inputs.  Inputs are applied to a neuron as they are popped, but its
threshold is tested only when simulated time moves past the instant (``_flush``), so
all inputs that arrive at the same time are applied first (NEST's rule).

Two state representations, chosen per population:

* *general*: (V, I_exc, I_inh) at the time of the last update, advanced in closed
  form (``models.v_at``).
* *frame* (both channels delta): V is stored as U with V(t) = b(t) + U e^{-g (t -
  t_f)}, which is constant between inputs.  An input of weight w at time t then costs
  U += w e^{g (t - t_f)}, where the exponential is shared by every target of the row:
  one multiply-add per synapse and no per-target ``exp``.  ``RENORM`` events move the
  frame origin t_f every 200 tau_m so that e^{g (t - t_f)} never overflows.

External Poisson drive of frame populations (Brunel's 20 kHz per neuron) is not
queued: every neuron owns a random stream whose arrivals are applied, in time order
and exactly, whenever the neuron is touched (``_frame_targets``).  A spike caused by
such an arrival may be discovered after simulated time has passed it, but never by
more than the sweep interval, which is at most the smallest outgoing delay of the
driven populations (``SWEEP`` events advance every driven neuron), so its deliveries
are still in the future when they are queued.
"""
import math

import numpy as np
from numba import njit

from ..models import (P_ADAPT, P_C, P_CE, P_CI, P_DE, P_DI, P_FRAME, P_G, P_HASEXP, P_IBIAS, P_K,
                      P_KE, P_KI, P_PSIE, P_PSII, P_SE, P_SI, P_SPONT, P_THPLUS,
                      P_TREF, P_VINF, P_VREST, P_VRESET, P_VTH, first_crossing,
                      first_crossing_coef, v_at)
from ..plasticity import K_REWARD, post_update, pre_update, reward_sync_row

from .fexp import exp as fexp
from .hints import load_float64, load_int32, prefetch, prefetch_addr, prefetch_l2
from .queue import (QA, QB, QKIND, QLA, QLHEAD, QLTAIL, QN, lane_last, lane_pop, lane_push,
                    lane_room, lane_slot, next_event, pop, push, reserve, wheel_next_source,
                    wheel_pop, wheel_push)
from .rng import exp_step, next_exponential

# Event kinds, modes and _ZERO are np.int64, not int: Numba types a global int as a
# literal and compiles a separate copy of a callee (with everything it calls) for
# each literal argument value, which multiplied the cold-start compile time.  For the
# same reason call sites pass neuron and population ids as int64 (see _compile).
DELIVER, CAND, SOURCE, SWEEP, RENORM, SAMPLE = (np.int64(k) for k in range(6))
# a popped lane event (never stored with a kind): payload (group << 32) | row
LANE = np.int64(6)
# a spike of a fused source, in the heap at its arrival time: delivered as a lane event
FUSED = np.int64(7)
# at most this many lanes (distinct homogeneous delays); other delays use the heap
MAX_LANES = 16

# modes of _frame_targets
SWEEP_ONLY, TEST_LATER, TEST_NOW, TEST_NONE, TEST_PENDING, TEST_BOUND, TEST_BOUND_EXC = \
    (np.int64(k) for k in range(7))

_ZERO = np.int64(0)
_ONE = np.int64(1)

# columns of the (N, 8) neuron state array ST, of which S holds column views: V (or
# the frame coefficient U), I_exc, I_inh, last update, refractory end, candidate
# sequence (int64 bits), candidate time, target crossing time.  The delivery loops
# index ST itself: one base pointer and one stride instead of one per column view
# keeps their live values in registers.
_SV, _SIE, _SII, _STL, _SREF, _SCSEQ, _SCT, _STGT = range(8)

# counters (OpCounts field order)
C_SPIKES, C_SYN_REC, C_SYN_SRC, C_DRIVE, C_ADV, C_PUSH, C_POP, C_STALE, C_CAND, \
    C_SRC_SPIKES, C_DISCARD, C_THRESH, C_TRACE, C_WUPD = range(14)
NCOUNT = 14

# status codes
OK, MAX_EVENTS, NONFINITE = 0, 1, 2

@njit(cache=True, inline="always")
def _refractory(t, ref_until):
    """Is a neuron refractory until ``ref_until`` still refractory at t?

    The interval is half-open, [t_spike, t_spike + t_ref): a delta input that arrives
    exactly when it ends is applied.  NEST's iaf_psc_delta_ps does the same; the
    reference files in tests/data contain such exact ties and only this choice matches.
    """
    return t < ref_until


@njit(cache=True, _nrt=False)
def _qpush(Q, cnt, t, kind, a, b, c):
    sc = Q[7]
    seq = sc[0]
    sc[0] = seq + 1
    push(Q, t, seq, kind, a, b, c)
    cnt[C_PUSH] += 1
    return seq


@njit(cache=True, _nrt=False)
def _has_room(Q, SP, need, nspk):
    """Room for ``need`` more heap events, ``nspk`` more recorded spikes and ``nspk``
    more events in every lane (a spike pushes at most one per lane)?  (A call compiled
    without reference counting: reading arrays out of the Q and SP tuples in the run
    kernel itself costs an atomic reference-count pair per array read.)"""
    return Q[QN][0] + need <= Q[0].shape[0] and SP[2][0] + nspk <= SP[0].shape[0] \
        and lane_room(Q, nspk)


@njit(cache=True)
def _make_room(Q, SP, need, nspk):
    """(Q, SP) with room for ``need`` more heap events, ``nspk`` more spikes and
    ``nspk`` more events per lane: the same arrays when they have it, else grown
    copies (see ``queue.reserve``)."""
    Q = reserve(Q, need, nspk)
    spT, spN, spn = SP
    i = spn[0]
    if i + nspk <= spT.shape[0]:
        return Q, SP
    new = max(2 * spT.shape[0], i + nspk, 1024)
    a = np.empty(new, np.float64)
    a[:i] = spT[:i]
    b = np.empty(new, np.int64)
    b[:i] = spN[:i]
    return Q, (a, b, spn)


@njit(cache=True, _nrt=False)
def _schedule(n, tc, S, Q, cnt):
    """Neuron n's next crossing is now at tc (inf: none).

    A queue entry is pushed only when the crossing moved earlier than the entry the
    neuron already has; if it moved later, that earlier entry re-schedules itself
    when it pops.  Superseded entries stay in the heap and are dropped when popped
    (lazy deletion, matched by sequence number), so inhibition costs no queue work.
    """
    V, IE, II, TL, REF, CSEQ, CT, TGT, frame_tf, TH = S
    TGT[n] = tc
    if tc < CT[n]:
        CSEQ[n] = _qpush(Q, cnt, tc, CAND, n, _ZERO, 0.0)
        CT[n] = tc
        cnt[C_CAND] += 1


@njit(cache=True, inline="always")
def _frame_scale(g, vinf, c, tf, t):
    """(1/a, b) of a frame at time t, V = b + a U: a = e^{-g (t - tf)} and b = v_inf
    for a leaky neuron; a = 1 and b = c (t - tf) (bias drift) for a non-leaky one."""
    if g > 0.0:
        return fexp(g * (t - tf)), vinf
    return 1.0, c * (t - tf)


@njit(cache=True, inline="always")
def _vth(P, p, TH, n):
    """Threshold (mV) of neuron n of population p (adaptive offset where enabled)."""
    if P[p, P_ADAPT] != 0.0:
        return P[p, P_VTH] + TH[n]
    return P[p, P_VTH]


@njit(cache=True, inline="always")
def _frame_ab(P, p, tf, t):
    """``_frame_scale`` for population p of the parameter table."""
    return _frame_scale(P[p, P_G], P[p, P_VINF], P[p, P_C], tf, t)


@njit(cache=True, _nrt=False)
def _emit_prefetch(node, g, RE):
    """Start loading the row pointers a spike of ``node`` (group g) will read in
    ``_emit``: one random cache line per projection, which ``_spike`` overlaps with the
    reset's arithmetic instead of waiting for each in turn."""
    grp_proj_ptr = RE[1]
    grp_proj = RE[2]
    proj_pre_off = RE[3]
    row_ptr = RE[5]
    row_ptr_off = RE[6]
    for q in range(grp_proj_ptr[g], grp_proj_ptr[g + 1]):
        pr = grp_proj[q]
        prefetch_l2(row_ptr, row_ptr_off[pr] + node - proj_pre_off[pr])


@njit(cache=True, _nrt=False)
def _emit(node, g, t, RE, Q, cnt):
    """Queue the deliveries of a spike of ``node`` (of group g: its population, or its
    source group) at time t: one lane event per delay group of projections with a lane,
    one heap event per other projection.

    Every non-empty row takes one sequence number and counts as one queue push, in
    projection order, also those that share a lane event (so the counts do not depend
    on whether a row went to a lane or to the heap): the order of events is then the one a heap with one event
    per row would give (the rows of one lane event are consecutive in it, since no other
    event falls between their sequence numbers at their time).  A lane event whose time
    is before the lane's last event (a spike found late) goes to the heap, one event
    per row, with the same sequence numbers.

    ``RE`` holds the flat arrays this needs (see ``Network._compile``): the row
    pointers of every projection in one array and, for projections with per-synapse
    delays, the delay of each row's first synapse, so that no typed list is read."""
    node_group, grp_proj_ptr, grp_proj, proj_pre_off, proj_delay, row_ptr, row_ptr_off, \
        row_d0, row_d0_off, proj_lane, lane_delay, grp_lane_ptr, grp_lane_proj, grp_off = RE
    sc = Q[7]
    in_lane = _ZERO    # bit l: this spike has a lane event in lane l
    to_heap = _ZERO    # bit l: lane l was out of order for it; its rows go to the heap
    for q in range(grp_proj_ptr[g], grp_proj_ptr[g + 1]):
        pr = grp_proj[q]
        row = node - proj_pre_off[pr]
        i = row_ptr_off[pr] + row
        start = row_ptr[i]
        if start == row_ptr[i + 1]:
            continue
        ln = proj_lane[pr]
        if ln >= 0:
            bit = _ONE << ln
            if (to_heap & bit) == 0:
                if (in_lane & bit) != 0:
                    sc[0] += 1      # a row of this spike's lane event
                    cnt[C_PUSH] += 1
                    continue
                ta = t + lane_delay[ln]
                if ta >= lane_last(Q, ln):
                    seq = sc[0]
                    sc[0] = seq + 1
                    lane_push(Q, ln, ta, seq, (np.int64(g) << 32) | row)
                    cnt[C_PUSH] += 1
                    in_lane |= bit
                    continue
                to_heap |= bit
        d = proj_delay[pr]
        if d < 0.0:
            d = row_d0[row_d0_off[pr] + row]
        _qpush(Q, cnt, t + d, DELIVER, (np.int64(pr) << 32) | row, start, t)


# populations with more neurons than this get their next row's target lines
# prefetched while the current row is delivered (see _prefetch_next): their state
# (64 bytes per neuron) no longer fits a core's L2 cache
_PREFETCH_POP = 1 << 15


@njit(cache=True, inline="always")
def _prefetch_targets(ST, isdirty, j0, j1, off, ia, wa, wm):
    """Prefetch the state lines and dirty-bitmap words of the targets of row entries
    j0..j1 (targets and weights at addresses ia and wa), and the weights' lines unless
    they are shared (wm == 0)."""
    for j in range(j0, j1):
        n = off + load_int32(ia, j)
        prefetch(ST, n)
        prefetch(isdirty, n >> 6)
    if wm != 0:
        for j in range(j0, j1 + 7, 8):
            prefetch_addr(wa + 8 * j)


@njit(cache=True, inline="always")
def _prefetch_row(ST, isdirty, j0, j1, off, ia, wa, targets, wm):
    """Prefetch the first lines of row entries j0..j1, whose targets and weights start
    at addresses ia and wa, or, with ``targets``, the state lines of its first 256
    targets."""
    if targets:
        _prefetch_targets(ST, isdirty, j0, min(j1, j0 + 256), off, ia, wa, wm)
    else:
        prefetch_addr(ia + 4 * j0)
        prefetch_addr(ia + 4 * j0 + 64)
        prefetch_addr(wa + 8 * (j0 & wm))
        prefetch_addr(wa + 8 * (j0 & wm) + 64)


@njit(cache=True, _nrt=False)
def _prefetch_next(Q, targets, RE, idx_addr, w_addr, proj_post_off, proj_post_pop,
                   pop_off, ST, isdirty, w_mask):
    """Start loading what the heap's next event will touch, if it is a delivery into a
    large population: with ``targets`` False the start of its row (and its row pointer),
    with ``targets`` True its targets' state lines.

    Why: a row's work is a chain of cache misses, row pointer -> targets and weights ->
    target states, each waiting for the last; in a network much larger than the cache
    that latency, not arithmetic, bounds the delivery.  The run kernel calls this with
    ``targets`` False right after popping a heap row (the next row's start loads while
    this one is delivered) and True after delivering it.  (Lane events are loaded
    further ahead by ``_lane_prefetch``.)  A prefetch never changes results, only
    timing."""
    if Q[QN][0] == 0 or Q[QKIND][0] != DELIVER:
        return
    a = Q[QA][0]
    row_ptr = RE[5]
    row_ptr_off = RE[6]
    pr = a >> 32
    row = a & 0xFFFFFFFF
    p = proj_post_pop[pr]
    if pop_off[p + 1] - pop_off[p] <= _PREFETCH_POP:
        return
    i = row_ptr_off[pr] + row
    j0 = Q[QB][0]
    j1 = row_ptr[i + 1] if targets else j0
    if not targets:
        prefetch(row_ptr, i + 1)
    _prefetch_row(ST, isdirty, j0, j1, proj_post_off[pr], idx_addr[pr], w_addr[pr], targets,
                  w_mask[pr])


@njit(cache=True, _nrt=False)
def _prefetch_cand(Q, ST):
    """If the heap's next event is a candidate, start loading its neuron's state line (a
    random cache line in a large network), which ``_candidate`` reads when it pops,
    usually after a few lane events."""
    if Q[QN][0] > 0 and Q[QKIND][0] == CAND:
        prefetch(ST, Q[QA][0])


@njit(cache=True, _nrt=False)
def _prefetch_wheel(Q, SRC, RE):
    """Start loading what the source wheel's next spike will read when it pops: its
    source's row pointers (``_emit``) and its kind, rate, random stream and fusion entry
    (``_next_source``), random lines in arrays of 10^5 sources that each cost a cache
    miss otherwise."""
    s = wheel_next_source(Q)
    if s >= 0:
        node = SRC[0] + s
        _emit_prefetch(node, _pop_of(node, RE[13]), RE)
        prefetch_l2(SRC[1], s)
        prefetch_l2(SRC[2], s)
        prefetch_l2(SRC[5], s)
        prefetch_l2(SRC[7], s)


# how far ahead in its lane an event's row pointers and its rows' targets and weights
# are loaded (events); its targets' state lines are loaded when it is next in the lane
_PF_ROWPTR = 6
_PF_ROWS = 3


@njit(cache=True, _nrt=False)
def _lane_prefetch(Q, q, RE, idx_addr, w_addr, proj_post_off, ST, w_mask):
    """Load ahead what lane q's next events will touch, after its head was popped: the
    row pointers of the event _PF_ROWPTR places ahead, the targets and weights of the
    one _PF_ROWS ahead, and the state lines of the targets of the next one.  Each event
    passes through the three stages as the lane advances, so when it is delivered its
    rows and target states are in cache: the memory latency of a network far larger
    than the cache overlaps the delivery of earlier rows instead of adding to it.  (Only
    for lanes into large populations; a prefetch never changes results.)"""
    node_group, grp_proj_ptr, grp_proj, proj_pre_off, proj_delay, row_ptr, row_ptr_off, \
        row_d0, row_d0_off, proj_lane, lane_delay, grp_lane_ptr, grp_lane_proj, grp_off = RE
    nl = lane_delay.shape[0]
    h = Q[QLHEAD][q]
    tl = Q[QLTAIL][q]
    LA = Q[QLA]
    for stage in range(3):
        if stage == 0:
            i = h + _PF_ROWPTR
        elif stage == 1:
            i = h + _PF_ROWS
        else:
            i = h
        if i >= tl:
            continue
        a = LA[lane_slot(Q, q, i)]
        gl = (a >> 32) * nl + q
        row = a & 0xFFFFFFFF
        for k in range(grp_lane_ptr[gl], grp_lane_ptr[gl + 1]):
            pr = grp_lane_proj[k]
            ir = row_ptr_off[pr] + row
            if stage == 0:
                prefetch_l2(row_ptr, ir)
                continue
            j0 = row_ptr[ir]
            j1 = row_ptr[ir + 1]
            ia = idx_addr[pr]
            if stage == 1:
                for j in range(j0, j1 + 15, 16):
                    prefetch_addr(ia + 4 * j)
                if w_mask[pr] != 0:      # (a shared weight is one value)
                    wa = w_addr[pr]
                    for j in range(j0, j1 + 7, 8):
                        prefetch_addr(wa + 8 * j)
            else:
                # (into L2, for reading: see hints.prefetch_l2)
                off = proj_post_off[pr]
                for j in range(j0, j1):
                    prefetch_l2(ST, off + load_int32(ia, j))


@njit(cache=True, _nrt=False)
def _record_spike(SP, n, t):
    """Append spike (t, n) to the record; the caller has made room (``_make_room``)."""
    spT, spN, spn = SP
    i = spn[0]
    if i >= spT.shape[0]:
        raise RuntimeError("spike record full: room was not made (internal error)")
    spT[i] = t
    spN[i] = n
    spn[0] = i + 1


@njit(cache=True)
def _record(SP, n, t):
    """Append spike (t, n) to a record held in typed lists (grows them); used by the
    clock engine, which records between steps."""
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
def _cross_frame(g, vinf, c, vth, u, tf, ref):
    """Next bias-driven crossing (ms) of a frame neuron with frame value u, or inf."""
    if g > 0.0:
        dv = vth - vinf
        if dv >= 0.0 or u >= 0.0:
            return math.inf
        # v_inf + u e^{-g (t - tf)} = v_th
        return max(tf + math.log(u / dv) / g, ref)
    if c <= 0.0:
        return math.inf
    return max(tf + (vth - u) / c, ref)


@njit(cache=True, inline="always")
def _decay2(ie, ii, se, si, dt):
    """Both synaptic currents (mV) after dt ms of free decay."""
    if ie != 0.0:
        ie *= math.exp(-se * dt)
    if ii != 0.0:
        ii *= math.exp(-si * dt)
    return ie, ii


@njit(cache=True)
def _prop(g, k, se, si, vr, vreset, ib, v, ie, ii, t0, ref, t):
    """State (V, I_exc, I_inh) at t >= t0 of a general neuron whose state at t0 is
    (v, ie, ii) and which is refractory until ``ref`` (V clamped to v_reset)."""
    if t <= t0:
        return v, ie, ii
    if ref >= t:
        ie, ii = _decay2(ie, ii, se, si, t - t0)
        return vreset, ie, ii
    if ref > t0:
        ie, ii = _decay2(ie, ii, se, si, ref - t0)
        t0 = ref
        v = vreset
    dt = t - t0
    v = v_at(g, k, se, si, vr, ib, v, ie, ii, dt)
    ie, ii = _decay2(ie, ii, se, si, dt)
    return v, ie, ii


@njit(cache=True, inline="always")
def _peak_reject(g, se, vinf, v0, a, b, vth, ceil):
    """The tighter reject of the threshold tests: is F(s) = v_inf + a e^{-g s} + b
    e^{-se s} (mV; F(0) = v0), the trajectory without its inhibitory part and so an
    upper bound on V, below vth at every s >= 0?  Its maximum lies at F(0), at the zero of F' (closed form) or
    at v_inf.  Rejects only with a rounding margin, so that a true crossing is never
    dropped; returns (rejected, ceil lowered to that maximum plus its margin)."""
    fmax = max(v0, vinf)
    arg = -(se * b) / (g * a) if g * a != 0.0 else -1.0
    if arg > 0.0:
        ts = math.log(arg) / (se - g)
        if ts > 0.0:
            fmax = max(fmax, vinf + a * fexp(-g * ts) + b * fexp(-se * ts))
    marg = 1e-12 * (abs(vth) + abs(vinf) + abs(a) + abs(b))
    return fmax < vth - marg, min(ceil, fmax + 100.0 * marg)


@njit(cache=True)
def _cross_general(g, k, se, si, vr, vth, vreset, ib, pse, psi_, v, ie, ii, t0, ref):
    """(tc, ceil): the absolute time (ms) of the next crossing of a general neuron (inf
    if none) and its *ceiling*, an upper bound (mV) on V(s) for every s >= t0 without
    further input (inf if none was computed; see ``_undriven_targets``).

    pse/psi_ are the peaks of the unit PSP kernels (ms).  Quick reject first: for a
    leaky neuron V(t) <= max(V0, v_inf) + k (I_exc^+ pse + I_inh^+ psi_) for all t, so
    a neuron whose bound stays below threshold needs no root search.  The ceiling is
    the smaller of this bound and the tighter one below, each raised by a margin of
    1e-10 of the magnitudes it was computed from, which covers their rounding."""
    ceil = math.inf
    if g > 0.0:
        vinf = vr + k * ib / g
        pe = k * max(ie, 0.0) * pse
        pi = k * max(ii, 0.0) * psi_
        bound = max(v, vreset if ref > t0 else v, vinf) + (pe + pi)
        ceil = bound + 1e-10 * (abs(v) + abs(vinf) + abs(vreset) + pe + pi)
        if bound < vth:
            return math.inf, ceil
    if ref > t0:
        ie, ii = _decay2(ie, ii, se, si, ref - t0)
        t0 = ref
        v = vreset
    if g > 0.0 and se > 0.0 and se != g and ie > 0.0 and ii <= 0.0:
        # Tighter reject.  Inhibition only lowers V, so V(t) <= F(t) = v_inf
        # + a e^{-g t} + b e^{-s_e t} (the trajectory without I_inh), whose maximum is
        # at F(0), at the zero of F' (closed form) or at v_inf.  Reject only with a
        # rounding margin, so that a true crossing is never dropped.
        vinf = vr + k * ib / g
        b = k * ie / (g - se)
        rej, ceil = _peak_reject(g, se, vinf, v, v - vinf - b, b, vth, ceil)
        if rej:
            return math.inf, ceil
    return t0 + first_crossing(g, k, se, si, vr, vth, ib, v, ie, ii), ceil


@njit(cache=True)
def _cross_coef(g, se, si, vinf, vth, ce, ci, a, be, bi, t0):
    """``_cross_general`` for a leaky frame neuron, in the frame's own coefficients: its
    trajectory from t0 on is V(t0 + s) = v_inf + a e^{-g s} + be e^{-se s} + bi e^{-si s}
    (ms, mV), where t0 is the test time or, while refractory, the end of the refractory
    period (V = v_reset = V(t0) until then).  Returns (tc, ceil) as ``_cross_general``
    does, with the same bounds: no conversion to currents, no division but one, and
    ``models.first_crossing_coef`` for the root.

    ce/ci are k psi_max / k_x (``models.P_CE``, ``P_CI``): the PSP peak per unit of a
    channel's coefficient; (g - s) times a coefficient is k I, so its sign is the
    current's."""
    v0 = vinf + a + be + bi
    pe = max(be * ce, 0.0)
    pi = max(bi * ci, 0.0)
    bound = max(v0, vinf) + (pe + pi)
    ceil = bound + 1e-10 * (abs(v0) + abs(vinf) + pe + pi)
    if bound < vth:
        return math.inf, ceil
    if (g - se) * be > 0.0 and (g - si) * bi <= 0.0:
        # Tighter reject: without its inhibitory part bi (e^{-si s} - e^{-g s}) <= 0 the
        # trajectory is F(s) = v_inf + (a + bi) e^{-g s} + be e^{-se s}, whose maximum is
        # at F(0), at the zero of F' or at v_inf (see _cross_general).
        rej, ceil = _peak_reject(g, se, vinf, v0, a + bi, be, vth, ceil)
        if rej:
            return math.inf, ceil
    return t0 + first_crossing_coef(vinf - vth, a, g, be, se, bi, si), ceil


@njit(cache=True)
def state_at(P, p, n, S, t):
    """(V, I_exc, I_inh) of a general neuron at time t >= TL[n], without changing it."""
    V, IE, II, TL, REF, CSEQ, CT, TGT, frame_tf, TH = S
    return _prop(P[p, P_G], P[p, P_K], P[p, P_SE], P[p, P_SI], P[p, P_VREST], P[p, P_VRESET],
                 P[p, P_IBIAS], V[n], IE[n], II[n], TL[n], REF[n], t)


@njit(cache=True)
def _frame_state(P, p, n, t, S):
    """(V, I_exc, I_inh) of frame neuron n at time t from its coefficients, ignoring
    refractoriness (V is the value the free trajectory has)."""
    V, IE, II, TL, REF, CSEQ, CT, TGT, frame_tf, TH = S
    ainv, b = _frame_ab(P, p, frame_tf[p], t)
    dt = t - frame_tf[p]
    v = b + V[n] / ainv
    ie = 0.0
    ii = 0.0
    if IE[n] != 0.0:
        x = IE[n] * fexp(-P[p, P_SE] * dt)
        v += x
        ie = x / P[p, P_KE]
    if II[n] != 0.0:
        x = II[n] * fexp(-P[p, P_SI] * dt)
        v += x
        ii = x / P[p, P_KI]
    return v, ie, ii


@njit(cache=True)
def _frame_set_v(P, p, n, t, v, S):
    """Set the A coefficient of frame neuron n so that V(t) = v (currents unchanged)."""
    V, IE, II, TL, REF, CSEQ, CT, TGT, frame_tf, TH = S
    ainv, b = _frame_ab(P, p, frame_tf[p], t)
    dt = t - frame_tf[p]
    rest = v - b
    if IE[n] != 0.0:
        rest -= IE[n] * fexp(-P[p, P_SE] * dt)
    if II[n] != 0.0:
        rest -= II[n] * fexp(-P[p, P_SI] * dt)
    V[n] = rest * ainv


@njit(cache=True, _nrt=False)
def _spike(P, p, n, t, S, RE, Q, SP, cnt, XC):
    """Neuron n fires at t: reset, refractory, record, emit, next candidate.  The
    caller has made room for pmax + 1 queue events and one spike (``_make_room``).
    ``XC`` is None for networks of delta-synapse frame populations only (see
    ``run_kernel``)."""
    V, IE, II, TL, REF, CSEQ, CT, TGT, frame_tf, TH = S
    tr = t + P[p, P_TREF]
    REF[n] = tr
    if P[p, P_ADAPT] != 0.0:
        TH[n] += P[p, P_THPLUS]
    vth = _vth(P, p, TH, n)
    cnt[C_SPIKES] += 1
    # the group of a neuron is its population; the deliveries are queued after the reset
    # (its arithmetic overlaps the loads of the row pointers) and before the candidate,
    # which keeps the order of sequence numbers
    _emit_prefetch(n, p, RE)
    _record_spike(SP, n, t)
    if P[p, P_FRAME] != 0.0:
        # V(t_r) = v_reset when the refractory period ends
        _frame_set_v(P, p, n, tr, P[p, P_VRESET], S)
        if P[p, P_HASEXP] == 0.0:
            tc = _cross_frame(P[p, P_G], P[p, P_VINF], P[p, P_C], vth, V[n], frame_tf[p], tr)
        elif XC is None:
            tc = math.inf       # (no exp channel in such a network)
        elif P[p, P_G] > 0.0:
            # the coefficients at t_r, where V = v_reset
            g = P[p, P_G]
            dt = tr - frame_tf[p]
            be = IE[n] * fexp(-P[p, P_SE] * dt) if IE[n] != 0.0 else 0.0
            bi = II[n] * fexp(-P[p, P_SI] * dt) if II[n] != 0.0 else 0.0
            tc, TL[n] = _cross_coef(g, P[p, P_SE], P[p, P_SI], P[p, P_VINF], vth, P[p, P_CE],
                                    P[p, P_CI], V[n] * fexp(-g * dt), be, bi, tr)
        else:
            v, ie, ii = _frame_state(P, p, n, t, S)
            tc, TL[n] = _cross_general(P[p, P_G], P[p, P_K], P[p, P_SE], P[p, P_SI],
                                       P[p, P_VREST], vth, P[p, P_VRESET], P[p, P_IBIAS],
                                       P[p, P_PSIE], P[p, P_PSII], v, ie, ii, t, tr)
    elif XC is None:
        tc = math.inf           # (no general population in such a network)
    else:
        V[n] = P[p, P_VRESET]
        TL[n] = t
        tc, _ = _cross_general(P[p, P_G], P[p, P_K], P[p, P_SE], P[p, P_SI], P[p, P_VREST],
                            vth, P[p, P_VRESET], P[p, P_IBIAS], P[p, P_PSIE], P[p, P_PSII],
                            V[n], IE[n], II[n], t, tr)
    _emit(n, p, t, RE, Q, cnt)
    _schedule(n, tc, S, Q, cnt)


@njit(cache=True, inline="always")
def _frame_input(ST, n, wj, t, ke, ki, se, si, fe, fi, g, ainv, tf):
    """Apply an input of weight wj at time t to frame neuron n; False if it was
    discarded (a delta channel while refractory).

    ke/ki: channel coefficients (0 for a delta channel); fe/fi: e^{s (t - tf)} of the
    exp channels; ainv: the frame factor e^{g (t - tf)} (1/a of ``_frame_scale``)."""
    kx = ke if wj >= 0.0 else ki
    if wj < 0.0 and ST[n, _STGT] == -math.inf:
        ST[n, _STGT] = math.inf  # a forced crossing is undone by inhibition at the same instant
    if kx == 0.0:
        # delta channel: V jumps, unless refractory
        if _refractory(t, ST[n, _SREF]):
            return False
        ST[n, _SV] += wj * ainv
    else:
        # exp channel: the current jumps by w (its coefficient by db); V stays
        # continuous, or, while refractory, keeps V(t_r) = v_reset at the end
        if wj >= 0.0:
            db = kx * wj * fe
            ST[n, _SIE] += db
            sx = se
        else:
            db = kx * wj * fi
            ST[n, _SII] += db
            sx = si
        if _refractory(t, ST[n, _SREF]):
            ST[n, _SV] -= db * fexp((g - sx) * (ST[n, _SREF] - tf))
        else:
            ST[n, _SV] -= kx * wj * ainv
    return True


@njit(cache=True, inline="always")
def _wants_test(mode, u, tgt, thr):
    """Does a frame neuron with coefficient u and target crossing tgt need the threshold
    test of this instant, under delivery mode ``mode`` (see ``_frame_targets``)?  thr
    is the threshold in frame units; a non-finite u is always tested."""
    if mode == TEST_NOW:
        return not (u < thr)
    if mode == TEST_LATER or not math.isfinite(u):
        return True
    return mode == TEST_PENDING and tgt < math.inf


@njit(cache=True, inline="always")
def _huge(ke, ki):
    """Frame coefficients below this keep V and the physical currents (coefficient /
    k_x times a factor <= 1) finite; ke/ki are the channels' k_x (0 for delta)."""
    return 1e290 * min(1.0, abs(ke) if ke != 0.0 else 1.0, abs(ki) if ki != 0.0 else 1.0)


@njit(cache=True, inline="always")
def _below(ST, n, t, a, b, ee, ei, ce, ci, vinf, vreset, vth, vth_abs, g, se, si, huge):
    """Is frame neuron n (leaky, exp channels) certainly unable to reach vth after t?
    Returns (rejected, ceiling): the ceiling is an upper bound (mV) on V after t.

    Two of the rejects of ``_cross_coef``, which the threshold test at the end of the
    instant would apply, evaluated here while the target's state line is in the cache
    rather than marking it for that test:

    * the quick bound of ``_cross_general``, V(s) <= max(V(t), v_inf, v_reset if
      refractory) + k (I_exc^+ psi_max_exc + I_inh^+ psi_max_inh) for s >= t, from the
      frame coefficients (a = e^{-g (t - tf)}, ee/ei = e^{-s (t - tf)}, ce/ci = k
      psi_max / k_x; see ``_undriven_targets``), with a margin of 1e-10 of the terms'
      magnitudes;
    * if that fails, outside the refractory period: the peak of the trajectory without
      its inhibitory part (``_peak_reject``, the same call as ``_cross_coef``'s), which
      rejects most of the neurons the quick bound lets through (3.8 of 4.8 million
      threshold tests per 200 ms of the 10^6-neuron case).

    The test at the end of the instant computes the same bounds with a different
    rounding (a division by 1/a) and after the other inputs of the instant.  Those only
    lower them or change them by rounding: an inhibitory input lowers V and, outside the
    refractory period, moves its coefficient from the inhibitory term to the e^{-g s}
    one, leaving the peak bound's trajectory as it was; an excitatory input tests again.
    So a neuron this rejects is one that test would find no crossing for, which is why
    skipping it changes no spike.  A non-finite state, or coefficients of ``huge`` or
    more (whose physical currents the test checks), is never rejected.
    """
    ua = ST[n, _SV] * a
    xe = ST[n, _SIE] * ee
    xi = ST[n, _SII] * ei
    v = b + ua + xe + xi
    lo = max(v, vinf)
    refr = _refractory(t, ST[n, _SREF])
    if refr:
        lo = max(lo, vreset)
    bnd = lo + max(xe * ce, 0.0) + max(xi * ci, 0.0)
    ceil = bnd + 1e-10 * (abs(ua) + abs(xe) + abs(xi) + vth_abs)
    if not math.isfinite(v):
        return False, ceil
    if ceil < vth:
        return True, ceil
    if (not refr and (g - se) * xe > 0.0 and (g - si) * xi <= 0.0
            and abs(ua) + abs(xe) + abs(xi) < huge):
        return _peak_reject(g, se, vinf, v, ua + xi, xe, vth, ceil)
    return False, ceil


@njit(cache=True, inline="always")
def _weight_mask(w, indptr):
    """The mask of a projection's kernel weights (``connectivity._kernel_weights``) from
    their length: 0 for one shared weight (fewer weights than synapses), else -1."""
    return _ZERO if w.shape[0] < indptr[indptr.shape[0] - 1] else _ZERO - 1


@njit(cache=True, inline="always")
def _pop_of(n, pop_off):
    """Population of neuron n by binary search in the population offsets (a few entries,
    in cache): the per-neuron table ``neuron_pop`` is a cache miss in a large network."""
    lo = 0
    hi = pop_off.shape[0] - 1
    while hi - lo > 1:
        mid = (lo + hi) >> 1
        if pop_off[mid] <= n:
            lo = mid
        else:
            hi = mid
    return np.int64(lo)


@njit(cache=True, inline="always")
def _mark(n, dirty, ndirty, isdirty):
    """Put neuron n on the list of this instant's threshold tests (once).  ``isdirty`` is
    a bitmap, one bit per neuron: 125 kB for 10^6 neurons stays in the L2 cache, where
    a byte per neuron would not (a marked target then waited for a memory access)."""
    nu = np.uint64(n)
    w = nu >> np.uint64(6)
    bit = np.uint64(1) << (nu & np.uint64(63))
    x = isdirty[w]
    if (x & bit) == 0:
        isdirty[w] = x | bit
        dirty[np.uint64(ndirty)] = n
        ndirty += 1
    return ndirty


@njit(cache=True, inline="always")
def _unmark(n, isdirty):
    """Clear neuron n's bit in the dirty bitmap (see ``_mark``)."""
    nu = np.uint64(n)
    w = nu >> np.uint64(6)
    isdirty[w] &= ~(np.uint64(1) << (nu & np.uint64(63)))


@njit(cache=True, _nrt=False)
def _delta_targets(P, p, t, j0, j1, off, ia, wa, mode, dirty, ndirty, isdirty,
                   ST, tf, DRV, cnt, wm):
    """``_frame_targets`` for a frame population whose two channels are delta and which
    has at most one external drive stream and no adaptive threshold (Brunel's case),
    with the same arithmetic in the same order, so results are bitwise those of
    ``_frame_targets``; returns what it returns.

    Why a separate loop: the general one scans the drive streams per target and
    branches per target on the channel kind; here the drive is one load and one
    compare per target.  (Measured: a two-pass variant, which first applies the
    inputs of targets with no pending drive arrival and no refractoriness without
    branches and then handles the rest in row order, was slower.)
    """
    pop_off, pop_drv_ptr, drv_rate, drv_w, drv_base, drv_next, drv_rng = DRV
    g = P[p, P_G]
    vinf = P[p, P_VINF]
    c = P[p, P_C]
    vth = P[p, P_VTH]
    ainv, b = _frame_scale(g, vinf, c, tf, t)
    thr = (vth - b) * ainv
    d0 = pop_drv_ptr[p]
    driven = pop_drv_ptr[p + 1] > d0
    # the stream of neuron n is drv_base[d0] + n - pop_off[p]
    kb = drv_base[d0] - pop_off[p] if driven else 0
    # the mean gap: a multiply on the chain of arrival times instead of a divide (the
    # same expression as in next_exponential and the clock engine, so streams agree)
    inv_rate = 1.0 / drv_rate[d0] if driven else 1.0
    wd = drv_w[d0] if driven else 0.0
    mark = mode != SWEEP_ONLY
    ndrive = 0
    ndisc = 0
    nadv = 0
    nthr = 0
    j_stop = j1
    n_spk = _ZERO
    t_spk = math.inf
    for j in range(j0, j1):
        # unsigned indices: Numba then drops its negative-index wrap-around code
        n = off + load_int32(ia, j) if mark else j
        nu = np.uint64(n)
        if driven:
            # external Poisson arrivals of n up to t, in time order
            k = np.uint64(kb + n)
            tb = drv_next[k]
            crossed = False
            while tb <= t:
                st, e = exp_step(drv_rng[k])
                drv_rng[k] = st
                tn = tb + e * inv_rate
                drv_next[k] = tn
                ndrive += 1
                if _refractory(tb, ST[nu, _SREF]):
                    ndisc += 1
                else:
                    ab, bb = _frame_scale(g, vinf, c, tf, tb)
                    ST[nu, _SV] += wd * ab
                    nadv += 1
                    nthr += 1
                    if ST[nu, _SV] >= (vth - bb) * ab:
                        crossed = True
                        break
                tb = tn
            if crossed:
                # the caller fires n at tb and calls again from this target
                j_stop = j
                n_spk = np.int64(n)
                t_spk = tb
                break
        if not mark:
            continue
        wj = load_float64(wa, j & wm)
        if wj < 0.0 and ST[nu, _STGT] == -math.inf:
            ST[nu, _STGT] = math.inf  # a forced crossing is undone by inhibition at the same instant
        if _refractory(t, ST[nu, _SREF]):
            ndisc += 1
            continue
        ST[nu, _SV] += wj * ainv
        if mode == TEST_NOW:
            nthr += 1
        if _wants_test(mode, ST[nu, _SV], ST[nu, _STGT], thr):
            ndirty = _mark(n, dirty, ndirty, isdirty)
    if mark:
        cnt[C_ADV] += j_stop - j0 + nadv
    else:
        cnt[C_ADV] += nadv
    cnt[C_DRIVE] += ndrive
    cnt[C_DISCARD] += ndisc
    cnt[C_THRESH] += nthr
    return ndirty, j_stop, n_spk, t_spk


@njit(cache=True, _nrt=False)
def _exc_targets(P, p, t, j0, j1, off, ia, wa, dirty, ndirty, isdirty, ST, tf, cnt, wm):
    """``_undriven_targets`` in mode TEST_BOUND_EXC: a row of weights >= 0 into the exp
    excitatory channel of a leaky undriven frame population, with the same arithmetic
    (so the same results), in a loop without the branches the other modes need.

    A target whose ceiling stays below v_th is skipped without looking at its pending
    crossing: every test that finds a crossing leaves a ceiling >= v_th (a bound on V
    is at least the crossing's v_th), and the ceiling only grows until the next test.
    Nor can its state be huge (see ``_undriven_targets``): an excitatory input raises
    the ceiling with its weight, and inhibitory rows test huge states themselves."""
    g = P[p, P_G]
    vth = P[p, P_VTH]
    ainv, b = _frame_scale(g, P[p, P_VINF], P[p, P_C], tf, t)
    ke = P[p, P_KE]
    se = P[p, P_SE]
    fe = fexp(se * (t - tf))
    cwe = P[p, P_K] * P[p, P_PSIE] * (1.0 + 1e-12)
    vth_abs = abs(vth) + abs(b)
    a = 1.0 / ainv
    ee = fexp(-se * (t - tf))
    si = P[p, P_SI]
    ei = fexp(-si * (t - tf))
    ki = P[p, P_KI]
    ci = P[p, P_K] * P[p, P_PSII] / ki if ki != 0.0 else 0.0
    huge = _huge(ke, ki)
    vinf_b = P[p, P_VREST] + P[p, P_K] * P[p, P_IBIAS] / g
    vreset = P[p, P_VRESET]
    ce = P[p, P_K] * P[p, P_PSIE] / ke
    for j in range(j0, j1):
        # the row's target lines are in L2 (``_lane_prefetch``); bring them to L1 a few
        # targets ahead, which hides L2's latency behind the arithmetic of this loop
        if j + 8 < j1:
            prefetch(ST, off + load_int32(ia, j + 8))
        n = off + load_int32(ia, j)
        nu = np.uint64(n)
        wj = load_float64(wa, j & wm)
        db = ke * wj * fe
        ST[nu, _SIE] += db
        if _refractory(t, ST[nu, _SREF]):
            ST[nu, _SV] -= db * fexp((g - se) * (ST[nu, _SREF] - tf))
        else:
            ST[nu, _SV] -= ke * wj * ainv
        m = ST[nu, _STL]
        m += wj * cwe + 1e-13 * (abs(m) + vth_abs)
        ST[nu, _STL] = m
        if m < vth:
            continue
        if ST[nu, _STGT] == math.inf:
            ok, cl = _below(ST, nu, t, a, b, ee, ei, ce, ci, vinf_b, vreset, vth, vth_abs, g, se,
                            si, huge)
            if ok:
                ST[nu, _STL] = cl
                continue
        ndirty = _mark(n, dirty, ndirty, isdirty)
    cnt[C_ADV] += j1 - j0
    cnt[C_THRESH] += j1 - j0
    return ndirty


@njit(cache=True, _nrt=False)
def _undriven_targets(P, p, t, j0, j1, off, ia, wa, mode, dirty, ndirty, isdirty,
                      ST, tf, cnt, pf, XC, wm):
    """``_frame_targets`` (mode != SWEEP_ONLY) for a frame population without an
    external drive: the same arithmetic in the same order, but only the arrays it
    needs are passed.  Why: numba reference-counts every array (and every member of a
    tuple) a call passes, with atomic instructions that also wait for the pending
    cache misses of the previous rows; with rows of ~100 synapses to 10^6 neurons
    that cost about as much as the delivery itself.

    With ``pf`` the targets' state lines are prefetched first (rows of lanes into large
    populations had them prefetched by ``_lane_prefetch``).

    Huge states: frame coefficients below ``huge`` keep V and the physical currents
    finite.  Inhibitory inputs leave the ceiling unchanged, so with TEST_BOUND and
    TEST_PENDING a target whose coefficients pass ``huge`` is marked for the test of the
    instant, which reports a non-finite state, instead of being skipped.
    """
    if pf:
        # start loading every target's state line (and dirty flag) before the work: the
        # loop below would otherwise wait for most of these misses one after another
        _prefetch_targets(ST, isdirty, j0, j1, off, ia, wa, wm)
    if XC is not None and mode == TEST_BOUND_EXC:
        return _exc_targets(P, p, t, j0, j1, off, ia, wa, dirty, ndirty, isdirty, ST, tf, cnt,
                            wm)
    g = P[p, P_G]
    vinf = P[p, P_VINF]
    c = P[p, P_C]
    vth = P[p, P_VTH]
    ainv, b = _frame_scale(g, vinf, c, tf, t)
    ke = P[p, P_KE]
    ki = P[p, P_KI]
    se = P[p, P_SE]
    si = P[p, P_SI]
    fe = fexp(se * (t - tf)) if ke != 0.0 else 0.0
    fi = fexp(si * (t - tf)) if ki != 0.0 else 0.0
    thr = (vth - b) * ainv
    bound = mode == TEST_BOUND
    if bound:
        # constants of the quick-reject bound of _cross_general in frame terms: V(t) =
        # b + U a + x_e + x_i with x = coefficient * e^{-s (t - tf)}, and k I psi_max =
        # x (k psi_max / k_x) for a channel's current I = x / k_x
        a = 1.0 / ainv
        ee = fexp(-se * (t - tf))
        ei = fexp(-si * (t - tf))
        ce = P[p, P_K] * P[p, P_PSIE] / ke if ke != 0.0 else 0.0
        ci = P[p, P_K] * P[p, P_PSII] / ki if ki != 0.0 else 0.0
        vinf_b = P[p, P_VREST] + P[p, P_K] * P[p, P_IBIAS] / g
        vreset = P[p, P_VRESET]
        vth_abs = abs(vth) + abs(b)
        # the most an excitatory input of weight 1 can add to V at any later time (mV
        # per mV): the PSP peak of an exp channel, 1 for a delta one; raised a little
        # so that the rounding of the ceiling's sum never lowers it
        cwe = (P[p, P_K] * P[p, P_PSIE] if ke != 0.0 else 1.0) * (1.0 + 1e-12)
    huge = _huge(ke, ki)
    pending = mode == TEST_PENDING and (ke != 0.0 or ki != 0.0)
    ndisc = 0
    nthr = 0
    for j in range(j0, j1):
        if not pf and j + 8 < j1:
            prefetch(ST, off + load_int32(ia, j + 8))     # from L2 to L1 (see _exc_targets)
        # unsigned indices: Numba then drops its negative-index wrap-around code
        n = off + load_int32(ia, j)
        nu = np.uint64(n)
        wj = load_float64(wa, j & wm)
        if not _frame_input(ST, nu, wj, t, ke, ki, se, si, fe, fi, g, ainv, tf):
            ndisc += 1
            continue
        if bound:
            nthr += 1
            # the ceiling (an upper bound on V at every later time, in the t_last
            # column, which frame neurons do not use): an excitatory input raises it by
            # at most its PSP peak, an inhibitory one leaves it valid
            m = ST[nu, _STL]
            if wj > 0.0:
                m += wj * cwe + 1e-13 * (abs(m) + vth_abs)
                ST[nu, _STL] = m
            if ST[nu, _STGT] == math.inf:
                # a state whose V or currents overflow is never skipped (the test reports
                # it): coefficients below `huge` keep V and the currents finite
                if m < vth and abs(ST[nu, _SV]) + abs(ST[nu, _SIE]) + abs(ST[nu, _SII]) < huge:
                    continue
                if XC is not None:
                    ok, cl = _below(ST, nu, t, a, b, ee, ei, ce, ci, vinf_b, vreset, vth,
                                    vth_abs, g, se, si, huge)
                    if ok:
                        ST[nu, _STL] = cl
                        continue
            ndirty = _mark(n, dirty, ndirty, isdirty)
            continue
        if mode == TEST_NOW:
            nthr += 1
        if _wants_test(mode, ST[nu, _SV], ST[nu, _STGT], thr) or (
                pending and not abs(ST[nu, _SV]) + abs(ST[nu, _SIE]) + abs(ST[nu, _SII]) < huge):
            ndirty = _mark(n, dirty, ndirty, isdirty)
    cnt[C_ADV] += j1 - j0
    cnt[C_DISCARD] += ndisc
    cnt[C_THRESH] += nthr
    return ndirty


@njit(cache=True, _nrt=False)
def _frame_targets(P, p, t, j0, j1, off, ia, wa, mode, dirty, ndirty, isdirty,
                   ST, TH, tf, DRV, cnt, wm):
    """Input to frame neurons at time t.

    mode SWEEP_ONLY: only apply the external drive of neurons j0..j1 up to t.
    Otherwise deliver row entries j0..j1 (targets off + idx[j], weights w[j & wm] of the
    arrays whose data start at addresses ia and wa; wm is -1, or 0 for one weight
    shared by all synapses of the projection), and
    TEST_LATER: mark the targets for the threshold test at the end of the instant;
    TEST_NOW: mark only targets that reach threshold (allowed when all weights of
    the row are >= 0 and the population has no bias drift or exp channel: a target
    whose V is at threshold at the end of the instant was at threshold right after
    the last excitatory row that reached it, which marked it);
    TEST_NONE: no test (all weights < 0 and the population cannot fire without
    input, so nobody can cross);
    TEST_PENDING: (all weights < 0) mark only targets with a pending crossing
    (TGT < inf): inhibition only lowers a trajectory, so one that never reaches
    threshold still never does, while a pending crossing may move or vanish;
    TEST_BOUND (only ``_undriven_targets``: leaky populations with exp channels) mark
    targets with a pending crossing and those whose ceiling and ``_below`` cannot show
    to stay under threshold; TEST_BOUND_EXC the same for rows of weights >= 0 into an
    exp excitatory channel (``_exc_targets``).  ``DRV`` is the drive tuple (``D`` of run_kernel).

    Returns (ndirty, j, n, t_n): the new number of marked neurons and, if an
    external drive arrival made neuron n cross threshold at t_n < t, the entry j at
    which the loop stopped (the arrival is applied, the later arrivals of n and entry
    j's input are not).  The caller then fires n (``_spike``) and calls again from
    j; j == j1 means the row is done.  Why the round trip: a function that fires
    neurons needs the whole engine state (queue, connectivity, spike record), and
    Numba reference-counts every array such a function receives, with atomic
    instructions, on every call: for a row of synapses that cost as much as the
    delivery.  This function only takes the arrays it uses and is compiled without
    reference counting.
    """
    if P[p, P_KE] == 0.0 and P[p, P_KI] == 0.0 and DRV[1][p + 1] - DRV[1][p] <= 1 \
            and P[p, P_ADAPT] == 0.0:
        return _delta_targets(P, p, t, j0, j1, off, ia, wa, mode, dirty, ndirty, isdirty,
                              ST, tf, DRV, cnt, wm)
    pop_off, pop_drv_ptr, drv_rate, drv_w, drv_base, drv_next, drv_rng = DRV
    g = P[p, P_G]
    vinf = P[p, P_VINF]
    c = P[p, P_C]
    vth = P[p, P_VTH]
    ainv, b = _frame_scale(g, vinf, c, tf, t)
    ke = P[p, P_KE]
    ki = P[p, P_KI]
    se = P[p, P_SE]
    si = P[p, P_SI]
    fe = fexp(se * (t - tf)) if ke != 0.0 else 0.0
    fi = fexp(si * (t - tf)) if ki != 0.0 else 0.0
    d0 = pop_drv_ptr[p]
    d1 = pop_drv_ptr[p + 1]
    poff = pop_off[p]
    nsyn = 0
    mark = mode != SWEEP_ONLY
    thr = (vth - b) * ainv
    adapt = P[p, P_ADAPT] != 0.0
    # counters live in locals: a store per synapse to cnt would not be kept in a register
    ndrive = 0
    ndisc = 0
    nadv = 0
    nthr = 0
    j_stop = j1
    n_spk = _ZERO
    t_spk = math.inf
    for j in range(j0, j1):
        n = off + load_int32(ia, j) if mark else j
        # external Poisson arrivals of n up to t, in time order
        crossed = False
        while d1 > d0:
            best = -1
            tb = t
            for d in range(d0, d1):
                ta = drv_next[drv_base[d] + n - poff]
                if ta <= tb:
                    tb = ta
                    best = d
            if best < 0:
                break
            k = drv_base[best] + n - poff
            st, e = exp_step(drv_rng[k])
            drv_rng[k] = st
            drv_next[k] = tb + e * (1.0 / drv_rate[best])
            ndrive += 1
            if _refractory(tb, ST[n, _SREF]):
                ndisc += 1
                continue
            ab, bb = _frame_scale(g, vinf, c, tf, tb)
            ST[n, _SV] += drv_w[best] * ab
            nadv += 1
            nthr += 1
            if ST[n, _SV] >= (vth + (TH[n] if adapt else 0.0) - bb) * ab:
                crossed = True
                break
        if crossed:
            # the caller fires n at tb and calls again from this entry
            j_stop = j
            n_spk = np.int64(n)
            t_spk = tb
            break
        if not mark:
            continue
        nsyn += 1
        if not _frame_input(ST, n, load_float64(wa, j & wm), t, ke, ki, se, si, fe, fi, g, ainv,
                            tf):
            ndisc += 1
            continue
        # TEST_NOW marks only neurons at or over threshold (or non-finite); the test
        # runs after the whole row, so a multapse later in the row is still applied
        # before the reset, exactly as with TEST_LATER
        if mode == TEST_NOW:
            nthr += 1
        if _wants_test(mode, ST[n, _SV], ST[n, _STGT], thr + TH[n] * ainv if adapt else thr):
            ndirty = _mark(n, dirty, ndirty, isdirty)
    cnt[C_ADV] += nsyn + nadv
    cnt[C_DRIVE] += ndrive
    cnt[C_DISCARD] += ndisc
    cnt[C_THRESH] += nthr
    return ndirty, j_stop, n_spk, t_spk


@njit(cache=True)
def _drive_to(P, p, t, n0, n1, dirty, isdirty, S, ST, D, RE, Q, SP, cnt, pmax, XC):
    """Apply the external drive of neurons n0..n1 of population p up to t, firing
    those it carries over threshold; returns (Q, SP), grown if room was needed."""
    V, IE, II, TL, REF, CSEQ, CT, TGT, frame_tf, TH = S
    j = n0
    while True:
        _, j, ns, ts = _frame_targets(P, p, t, j, n1, _ZERO, _ZERO, _ZERO, SWEEP_ONLY,
                                      dirty, _ZERO, isdirty, ST, TH, frame_tf[p], D, cnt, _ZERO)
        if j >= n1:
            return Q, SP
        if not _has_room(Q, SP, pmax + 1, _ONE):
            Q, SP = _make_room(Q, SP, pmax + 1, _ONE)
        _spike(P, p, ns, ts, S, RE, Q, SP, cnt, XC)


@njit(cache=True)
def _general_targets(P, p, t, j0, j1, off, idx, w, dirty, ndirty, isdirty, S, cnt, wm):
    """Deliver row entries j0..j1 to general neurons at time t (closed-form advance,
    then the weight goes to the current, or to V for a delta channel)."""
    V, IE, II, TL, REF, CSEQ, CT, TGT, frame_tf, TH = S
    g = P[p, P_G]
    k = P[p, P_K]
    se = P[p, P_SE]
    si = P[p, P_SI]
    vr = P[p, P_VREST]
    vreset = P[p, P_VRESET]
    ib = P[p, P_IBIAS]
    de = P[p, P_DE] != 0.0
    di = P[p, P_DI] != 0.0
    nadv = 0
    for j in range(j0, j1):
        n = off + idx[j]
        t0 = TL[n]
        if t > t0:
            v, ie, ii = _prop(g, k, se, si, vr, vreset, ib, V[n], IE[n], II[n], t0, REF[n], t)
            V[n] = v
            IE[n] = ie
            II[n] = ii
            TL[n] = t
            nadv += 1
        wj = w[j & wm]
        if wj < 0.0 and TGT[n] == -math.inf:
            TGT[n] = math.inf  # a forced crossing is undone by inhibition at the same instant
        if (de and wj >= 0.0) or (di and wj < 0.0):
            if _refractory(t, REF[n]):
                cnt[C_DISCARD] += 1
                continue
            V[n] += wj
        elif wj >= 0.0:
            IE[n] += wj
        else:
            II[n] += wj
        ndirty = _mark(n, dirty, ndirty, isdirty)
    cnt[C_ADV] += nadv
    return ndirty


# what _flush_quiet leaves to its caller
F_DONE, F_SPIKE, F_SCHEDULE, F_NONFINITE = (np.int64(k) for k in range(4))


@njit(cache=True, _nrt=False)
def _flush_quiet(P, neuron_pop, pop_off, t, dirty, j0, ndirty, isdirty,
                 V, IE, II, TL, REF, CT, TGT, frame_tf, TH, cnt, XC):
    """Threshold tests of dirty[j0:ndirty] at time t, up to the first neuron that
    must fire, must queue an earlier candidate or has a non-finite state.

    Returns (j, action, tc): that neuron's index in ``dirty`` with F_SPIKE,
    F_SCHEDULE (at tc ms) or F_NONFINITE, which the caller carries out (see
    ``_flush``), or (ndirty, F_DONE, inf).  Neurons before j are done (dirty flag
    cleared, TGT updated).  Why a separate function: it only takes the arrays the
    tests use; a call passing the whole engine state costs atomic reference counting
    of some 35 arrays, per instant.
    """
    pcache = -1
    ainv = 1.0
    af = 1.0
    b = 0.0
    ee = 1.0
    ei = 1.0
    huge = 0.0
    # population of the previous neuron and its id range: runs of dirty neurons come
    # from one row, i.e. one population
    p = _ZERO
    lo = 0
    hi = 0
    for j in range(j0, ndirty):
        n = dirty[j]
        _unmark(n, isdirty)
        if n < lo or n >= hi:
            p = _pop_of(n, pop_off)
            lo = pop_off[p]
            hi = pop_off[p + 1]
        vth = _vth(P, p, TH, n)
        act = F_DONE
        tc = math.inf
        if P[p, P_FRAME] != 0.0:
            if p != pcache:
                ainv, b = _frame_ab(P, p, frame_tf[p], t)
                af = 1.0 / ainv
                dtf = t - frame_tf[p]
                ee = fexp(-P[p, P_SE] * dtf)
                ei = fexp(-P[p, P_SI] * dtf)
                # coefficients below this keep V and the currents (coefficient / k_x)
                # finite; only a larger state needs the full check
                ke = abs(P[p, P_KE])
                ki = abs(P[p, P_KI])
                huge = 1e290 * min(1.0, ke if ke != 0.0 else 1.0, ki if ki != 0.0 else 1.0)
                pcache = p
            if not (math.isfinite(V[n]) and math.isfinite(IE[n]) and math.isfinite(II[n])):
                act = F_NONFINITE
            elif XC is not None and P[p, P_HASEXP] != 0.0:
                xe = IE[n] * ee
                xi = II[n] * ei
                ua = V[n] * af
                v = b + ua + xe + xi
                sane = abs(ua) + abs(xe) + abs(xi) < huge
                ie = 0.0
                ii = 0.0
                if not sane:
                    # the coefficients are scaled by k/(g - s): check the physical state too
                    ie = xe / P[p, P_KE] if xe != 0.0 else 0.0
                    ii = xi / P[p, P_KI] if xi != 0.0 else 0.0
                if not sane and not (math.isfinite(v) and math.isfinite(ie) and math.isfinite(ii)):
                    act = F_NONFINITE
                elif (v >= vth or TGT[n] == -math.inf) and not _refractory(t, REF[n]):
                    act = F_SPIKE
                else:
                    g = P[p, P_G]
                    if sane and g > 0.0:
                        t0 = t
                        if _refractory(t, REF[n]):
                            # the coefficients at the end of the refractory period
                            t0 = REF[n]
                            dt = t0 - frame_tf[p]
                            ua = V[n] * fexp(-g * dt)
                            xe = IE[n] * fexp(-P[p, P_SE] * dt) if xe != 0.0 else 0.0
                            xi = II[n] * fexp(-P[p, P_SI] * dt) if xi != 0.0 else 0.0
                        tc, TL[n] = _cross_coef(g, P[p, P_SE], P[p, P_SI], P[p, P_VINF], vth,
                                                P[p, P_CE], P[p, P_CI], ua, xe, xi, t0)
                    else:
                        ie = xe / P[p, P_KE] if xe != 0.0 else 0.0
                        ii = xi / P[p, P_KI] if xi != 0.0 else 0.0
                        tc, TL[n] = _cross_general(g, P[p, P_K], P[p, P_SE], P[p, P_SI],
                                                   P[p, P_VREST], vth, P[p, P_VRESET],
                                                   P[p, P_IBIAS], P[p, P_PSIE], P[p, P_PSII],
                                                   v, ie, ii, t, REF[n])
                    TGT[n] = tc
                    if tc < CT[n]:
                        act = F_SCHEDULE
            elif V[n] >= (vth - b) * ainv or TGT[n] == -math.inf:
                act = F_SPIKE
            elif P[p, P_C] != 0.0:
                tc = _cross_frame(P[p, P_G], P[p, P_VINF], P[p, P_C], vth, V[n],
                                  frame_tf[p], REF[n])
                TGT[n] = tc
                if tc < CT[n]:
                    act = F_SCHEDULE
        elif XC is not None:
            if not (math.isfinite(V[n]) and math.isfinite(IE[n]) and math.isfinite(II[n])):
                act = F_NONFINITE
            elif (V[n] >= vth or TGT[n] == -math.inf) and not _refractory(t, REF[n]):
                act = F_SPIKE
            else:
                tc, _ = _cross_general(P[p, P_G], P[p, P_K], P[p, P_SE], P[p, P_SI],
                                       P[p, P_VREST], vth, P[p, P_VRESET], P[p, P_IBIAS],
                                       P[p, P_PSIE], P[p, P_PSII], V[n], IE[n], II[n], TL[n],
                                       REF[n])
                TGT[n] = tc
                if tc < CT[n]:
                    act = F_SCHEDULE
        if act != F_DONE:
            cnt[C_THRESH] += j + 1 - j0
            return j, act, tc
    cnt[C_THRESH] += ndirty - j0
    return ndirty, F_DONE, math.inf


@njit(cache=True)
def _post_plasticity(PLS, SP, R, neuron_pop, cnt):
    """Potentiation for every spike recorded since the last call.

    Called right after each threshold test (``_flush``): neurons that are targets of
    plastic projections spike only there, after all inputs of their instant, so every
    presynaptic arrival at the spike time has already updated its trace."""
    proj_pl, pl_proj, PL, pre_tr_l, post_tr_l, tptr_l, tsyn_l, blk_l, elig_l, rw, \
        pop_pl_ptr, pop_pl, pl_seen = PLS
    node_group, grp_proj_ptr, grp_proj, proj_pre_off, proj_post_off, proj_post_pop, \
        proj_delay, indptr_l, idx_l, w_l, d_l, proj_sign = R
    spT, spN, spn = SP
    for i in range(pl_seen[0], spn[0]):
        n = spN[i]
        t = spT[i]
        p = neuron_pop[n]
        for q in range(pop_pl_ptr[p], pop_pl_ptr[p + 1]):
            k = pop_pl[q]
            pr = pl_proj[k]
            post_update(PL, k, n - proj_post_off[pr], t, indptr_l[pr], w_l[pr], pre_tr_l[k],
                        post_tr_l[k], tptr_l[k], tsyn_l[k], blk_l[k], elig_l[k], rw, cnt,
                        C_TRACE, C_WUPD)
    pl_seen[0] = spn[0]


@njit(cache=True, _nrt=False)
def _candidate(n, seq, t, P, pop_off, S, Q, cnt, dirty, ndirty, isdirty, XC):
    """A CAND event of neuron n (queue sequence ``seq``) pops at t; returns ndirty."""
    V, IE, II, TL, REF, CSEQ, CT, TGT, frame_tf, TH = S
    if seq != CSEQ[n]:
        cnt[C_STALE] += 1
        return ndirty
    CT[n] = math.inf
    CSEQ[n] = -1
    if TGT[n] != t:
        # the trajectory changed since this entry was queued: crossing is later
        if TGT[n] < math.inf:
            _schedule(n, TGT[n], S, Q, cnt)
        return ndirty
    p = _pop_of(n, pop_off)
    if XC is not None and P[p, P_FRAME] == 0.0:
        v, ie, ii = state_at(P, p, n, S, t)
        V[n] = v
        IE[n] = ie
        II[n] = ii
        TL[n] = t
        cnt[C_ADV] += 1
    nd = _mark(n, dirty, ndirty, isdirty)
    if nd > ndirty:
        # The trajectory reaches v_th exactly now; V recomputed at t may round just
        # below it, so the crossing is marked as forced (TGT = -inf) for the threshold
        # test of this instant.  An inhibitory input at the same instant clears the
        # mark and the test decides on V.
        TGT[n] = -math.inf
        ndirty = nd
    # else: inputs of this instant were applied first; the test decides on V (if
    # rounding leaves V a hair below v_th, the crossing is re-found at once)
    return ndirty


@njit(cache=True, _nrt=False)
def _fused_lane(s, SRC, RE):
    """The lane event (payload, lane) that delivers a spike of fused source s."""
    node = SRC[0] + s
    grp_off = RE[13]
    g = _pop_of(node, grp_off)
    return (g << 32) | (node - grp_off[g]), np.int64(SRC[7][s])


@njit(cache=True, _nrt=False)
def _pop_event(Q, src, lane_pf, SRC, RE, idx_addr, w_addr, proj_post_off, proj_post_pop,
               pop_off, ST, isdirty, w_mask, cnt, lane_later=False):
    """Pop the next event, from lane ``src`` (>= 0), the source wheel (-2) or the heap,
    count it, and start loading what the coming deliveries will touch: the rows of lane
    events a few places behind (``_lane_prefetch``; with ``lane_later`` the caller does
    that after delivering the event's rows), the state lines of the next candidate or
    source spike, and for a heap delivery the next queued row (``_prefetch_next``).  A
    fused source spike is returned as the lane event that delivers it.  Returns (t, seq,
    kind, a, b, c, fs), fs the fused source (-1 if the event was not one)."""
    if src >= 0:
        t, seq, a = lane_pop(Q, src)
        kind = LANE
        b = src
        c = 0.0
        if lane_pf[src] != 0 and not lane_later:
            _lane_prefetch(Q, src, RE, idx_addr, w_addr, proj_post_off, ST, w_mask)
    elif src == -2:
        # a source spike from the source wheel (as queued by _queue_source)
        t, seq, a = wheel_pop(Q)
        kind = SOURCE
        b = _ZERO
        c = t
        _prefetch_wheel(Q, SRC, RE)
    else:
        t, seq, kind, a, b, c = pop(Q)
        _prefetch_cand(Q, ST)
    cnt[C_POP] += 1
    fs = _ZERO - 1
    if kind == FUSED:
        fs = a
        a, b = _fused_lane(a, SRC, RE)
        kind = LANE
        cnt[C_SRC_SPIKES] += 1
    elif kind == DELIVER:
        _prefetch_next(Q, _ZERO, RE, idx_addr, w_addr, proj_post_off, proj_post_pop,
                       pop_off, ST, isdirty, w_mask)
    return t, seq, kind, a, b, c, fs


@njit(cache=True, _nrt=False)
def _event_nrows(kind, a, b, RE):
    """Number of rows a popped delivery delivers: 1 for a DELIVER event, the projections
    of the lane's delay group for a lane event (payload a = (group << 32) | row, lane b)."""
    if kind == DELIVER:
        return _ONE
    grp_lane_ptr = RE[11]
    gl = (a >> 32) * RE[10].shape[0] + b
    return grp_lane_ptr[gl + 1] - grp_lane_ptr[gl]


@njit(cache=True, _nrt=False)
def _event_row(kind, a, b, qi, RE):
    """(projection, row, first entry, end of the row) of row qi of a popped delivery: a
    DELIVER event's payload (a, b) = ((projection << 32) | row, first entry), or the
    qi-th projection of lane event (a, b) (see ``_event_nrows``).  An empty row has
    first == end."""
    node_group, grp_proj_ptr, grp_proj, proj_pre_off, proj_delay, row_ptr, row_ptr_off, \
        row_d0, row_d0_off, proj_lane, lane_delay, grp_lane_ptr, grp_lane_proj, grp_off = RE
    row = a & 0xFFFFFFFF
    if kind == DELIVER:
        pr = a >> 32
        return pr, row, b, row_ptr[row_ptr_off[pr] + row + 1]
    pr = np.int64(grp_lane_proj[grp_lane_ptr[(a >> 32) * lane_delay.shape[0] + b] + qi])
    ir = row_ptr_off[pr] + row
    return pr, row, row_ptr[ir], row_ptr[ir + 1]


# what _fast_events leaves to run_kernel: the next step is not one it takes; the queue
# or spike record needs room; the run ends (no event inside it, or max_events); a
# non-finite state (info holds neuron and time)
X_SLOW, X_ROOM, X_END, X_NONFINITE = (np.int64(k) for k in range(4))


@njit(cache=True, _nrt=False)
def _fast_events(P, neuron_pop, RX, RE, SRC, D, S, ST, Q, SP, cnt, sweep_dt, renorm_dt, dirty,
                 isdirty, t_end, max_events, info, idx_addr, w_addr, pmax, ndirty, t_cur,
                 pops, fj, XC):
    """The run kernel's loop for the common steps, with the queue and spike record
    fixed: threshold tests, rows with one delay into frame populations, candidates,
    spike-train and Poisson source spikes.  It returns, before popping it,
    at the first event it does not take, when room runs out, or when the run ends.

    Returns (code, ndirty, t_cur, pops, fj, need, nspk): ``X_*`` code; the loop state
    (fj: position in the dirty list of an interrupted threshold test); for X_ROOM the
    heap events and spikes to make room for.

    Why: a loop that may replace Q and SP (``_make_room``) merges their versions at
    every branch, and Numba reference-counts every array of both tuples at each merge
    with atomic instructions.  Those also wait for the loads and prefetches in flight,
    which serialised the cache misses of the row deliveries (measured: -16% wall time
    on the 2e5-neuron sparse case without them).  Here room for the worst case of a
    step is checked before the step, and the run kernel grows and calls again.
    """
    proj_post_off, proj_post_pop, proj_mode, proj_undriven, proj_k, lane_pf, w_mask = RX
    proj_pre_off = RE[3]
    src_off = SRC[0]
    pop_off = D[0]
    V, IE, II, TL, REF, CSEQ, CT, TGT, frame_tf, TH = S
    while True:
        if not _has_room(Q, SP, pmax + 2, _ONE):
            return X_ROOM, ndirty, t_cur, pops, fj, pmax + 2, _ONE
        t, src = next_event(Q)
        if t > t_end:
            t = math.inf
        if ndirty > 0 and t > t_cur:
            # the threshold tests of the instant t_cur (see run_kernel)
            j = fj
            while True:
                if not _has_room(Q, SP, pmax + 1, _ONE):
                    return X_ROOM, ndirty, t_cur, pops, j, pmax + 1, _ONE
                j, act, tc = _flush_quiet(P, neuron_pop, pop_off, t_cur, dirty, j, ndirty,
                                          isdirty, V, IE, II, TL, REF, CT, TGT, frame_tf, TH,
                                          cnt, XC)
                if act == F_DONE:
                    break
                n = dirty[j]
                if act == F_NONFINITE:
                    info[0] = n
                    info[1] = t_cur
                    return X_NONFINITE, _ZERO, t_cur, pops, _ZERO, _ZERO, _ZERO
                if act == F_SPIKE:
                    _spike(P, _pop_of(n, pop_off), n, t_cur, S, RE, Q, SP, cnt, XC)
                else:
                    _schedule(n, tc, S, Q, cnt)
                j += 1
            ndirty = _ZERO
            fj = _ZERO
            continue
        if t == math.inf or (pops >= max_events and t > t_cur):
            return X_END, ndirty, t_cur, pops, fj, _ZERO, _ZERO
        # the next event: one this loop takes, with room for its worst case?
        if src >= 0:
            kind = LANE
            a = Q[QLA][lane_slot(Q, src, Q[QLHEAD][src])]
            b = src
        elif src == -2:
            kind = SOURCE
            a = _ZERO
            b = _ZERO
        else:
            kind = Q[QKIND][0]
            a = Q[QA][0]
            b = Q[QB][0]
            if kind == FUSED:
                a, b = _fused_lane(a, SRC, RE)
                kind = LANE
        npr = _ZERO
        if kind == DELIVER or kind == LANE:
            npr = _event_nrows(kind, a, b, RE)
            need = _ZERO
            for qi in range(npr):
                pr, row, j0, gend = _event_row(kind, a, b, qi, RE)
                # room for the spikes the drive of a row's targets can fire (proj_k)
                if proj_k[pr] < 0:
                    return X_SLOW, ndirty, t_cur, pops, fj, _ZERO, _ZERO
                need += (gend - j0) * proj_k[pr]
            if need > 0 and not _has_room(Q, SP, pmax + 2 + need * (pmax + 1), need + 1):
                return X_ROOM, ndirty, t_cur, pops, fj, pmax + 2 + need * (pmax + 1), need + 1
        elif kind != CAND and kind != SOURCE:
            return X_SLOW, ndirty, t_cur, pops, fj, _ZERO, _ZERO
        t, seq, kind, a, b, c, fs = _pop_event(Q, src, lane_pf, SRC, RE, idx_addr, w_addr,
                                               proj_post_off, proj_post_pop, pop_off, ST,
                                               isdirty, w_mask, cnt, True)
        pops += 1
        t_cur = t
        if kind == DELIVER or kind == LANE:
            heap_row = kind == DELIVER
            # the same rows as checked above (npr): the popped event is the peeked one
            nrow_done = _ZERO
            for qi in range(npr):
                pr, row, j0, gend = _event_row(kind, a, b, qi, RE)
                if j0 == gend:
                    continue
                # a lane event counts one pop per non-empty row (the first at the pop)
                cnt[C_POP] += nrow_done
                nrow_done = _ONE
                if proj_pre_off[pr] >= src_off:
                    cnt[C_SYN_SRC] += gend - j0
                else:
                    cnt[C_SYN_REC] += gend - j0
                p = proj_post_pop[pr]
                mode = proj_mode[pr]
                if proj_undriven[pr] != 0:
                    ndirty = _undriven_targets(P, p, t, j0, gend, proj_post_off[pr], idx_addr[pr],
                                               w_addr[pr], mode, dirty, ndirty, isdirty, ST,
                                               frame_tf[p], cnt, heap_row or lane_pf[b] == 0, XC,
                                               w_mask[pr])
                    continue
                jr = j0
                while True:
                    ndirty, jr, ns, ts = _frame_targets(P, p, t, jr, gend, proj_post_off[pr],
                                                        idx_addr[pr], w_addr[pr], mode, dirty,
                                                        ndirty, isdirty, ST, TH, frame_tf[p], D,
                                                        cnt, w_mask[pr])
                    if jr >= gend:
                        break
                    # an external drive arrival before t made ns fire at ts
                    if not _has_room(Q, SP, pmax + 1, _ONE):
                        raise RuntimeError("event queue room bound of a row violated "
                                           "(internal error)")
                    _spike(P, p, ns, ts, S, RE, Q, SP, cnt, XC)
            if heap_row:
                _prefetch_next(Q, _ONE, RE, idx_addr, w_addr, proj_post_off, proj_post_pop,
                               pop_off, ST, isdirty, w_mask)
            elif src >= 0 and lane_pf[src] != 0:
                # the lane's look-ahead loads, after this event's rows: issued before
                # them, the next row's ~100 state-line misses took the line-fill buffers
                # that this row's own loads (from L2) then waited for; after them they
                # overlap the following events (measured: -7 % on the 10^6 case)
                _lane_prefetch(Q, src, RE, idx_addr, w_addr, proj_post_off, ST, w_mask)
            if fs >= 0:
                _next_source(fs, c, SRC, Q, cnt)
        elif kind == CAND:
            ndirty = _candidate(a, seq, t, P, pop_off, S, Q, cnt, dirty, ndirty, isdirty, XC)
        else:
            cnt[C_SRC_SPIKES] += 1
            _emit(src_off + a, _pop_of(src_off + a, RE[13]), t, RE, Q, cnt)
            _next_source(a, c, SRC, Q, cnt)


@njit(cache=True)
def run_kernel(P, neuron_pop, R, RE, SRC, D, S, ST, Q, SP, cnt, sweep_dt, renorm_dt,
               rec_ids, samp_out, dirty, isdirty, t_end, max_events, info, PLS, fast, XC,
               pf_pop):
    """Process every event with time <= t_end.

    Returns (status, Q, SP): a status code (OK, MAX_EVENTS, NONFINITE; on failure
    ``info`` receives the neuron id and the time) and the queue and spike record,
    which are new arrays if they had to grow.

    Room in the queue is made only here, before each step that can push a bounded
    number of events: an event (at most pmax + 2 pushes: a spike's deliveries, one
    per projection of its group, plus one candidate or next source spike or next
    delay group) and each spike (pmax + 1).  The functions below never grow it.

    With ``fast`` not None (and no plasticity) the common steps run in
    ``_fast_events`` and the others one at a time in the loop below, which takes any
    step; with ``fast`` None every step runs here, with bitwise the same results (the
    tests compare both), and Numba prunes the call, so ``_fast_events`` is not
    compiled (about 4 s of cold start; see ``Network._fast_path``).

    ``PLS`` is the plasticity tuple, or None for a network without plastic
    projections: Numba then prunes every ``PLS is not None`` branch before typing, so
    the plasticity kernels are not compiled for such a network (about 3 s of the cold
    start of the main job).  Likewise ``XC`` is None for a network whose populations
    all have delta synapses in the frame representation (Brunel's): the threshold
    tests of exp-synapse and general neurons (the crossing solvers, the row bounds)
    are then not compiled (about 4 s of the cold start of the main job).
    """
    node_group, grp_proj_ptr, grp_proj, proj_pre_off, proj_post_off, proj_post_pop, \
        proj_delay, indptr_l, idx_l, w_l, d_l, proj_sign = R
    src_off, src_kind, src_rate, st_ptr, st_times, src_rng, src_pos, src_lane, src_dly = SRC
    pop_off, pop_drv_ptr, drv_rate, drv_w, drv_base, drv_next, drv_rng = D
    V, IE, II, TL, REF, CSEQ, CT, TGT, frame_tf, TH = S
    proj_lane = RE[9]
    nlanes = RE[10].shape[0]
    # data addresses of every projection's targets and weights: rows read them through
    # raw pointers (see engine.hints); the typed lists keep the arrays alive meanwhile
    nproj = proj_delay.shape[0]
    idx_addr = np.empty(nproj, np.int64)
    w_addr = np.empty(nproj, np.int64)
    # a projection with one shared weight holds it in a one-element array: its rows read
    # weight j & 0 (w_mask 0) instead of weight j (w_mask -1, all bits set)
    w_mask = np.empty(nproj, np.int64)
    for q in range(nproj):
        ia = idx_l[q]
        wa = w_l[q]
        idx_addr[q] = ia.ctypes.data
        w_addr[q] = wa.ctypes.data
        w_mask[q] = _weight_mask(wa, indptr_l[q])
    npop = P.shape[0]
    # most pushes one spike causes: one delivery per projection of its group + 1
    pmax = _ZERO
    for gq in range(grp_proj_ptr.shape[0] - 1):
        pmax = max(pmax, grp_proj_ptr[gq + 1] - grp_proj_ptr[gq])
    # per projection into a frame population: the threshold-test mode of its rows (see
    # _frame_targets), whether the population is undriven (no external drive, no
    # adaptive threshold: _undriven_targets), and proj_k, the most spikes its row can
    # fire per target from the targets' drive, or -1 for rows _fast_events does not
    # take (per-synapse delays; general populations; a drive with t_ref = 0).  A
    # driven target fires at most 1 + sweep_dt / t_ref times per visit: its drive is
    # applied up to at least t - sweep_dt (SWEEP) and its spikes are t_ref apart.
    proj_mode = np.empty(nproj, np.int64)
    proj_undriven = np.empty(nproj, np.int64)
    proj_k = np.empty(nproj, np.int64)
    for pr in range(nproj):
        p = proj_post_pop[pr]
        sign = proj_sign[pr]
        undriven = pop_drv_ptr[p + 1] == pop_drv_ptr[p] and P[p, P_ADAPT] == 0.0
        mode = TEST_LATER
        if P[p, P_SPONT] == 0.0 and P[p, P_C] == 0.0 and P[p, P_HASEXP] == 0.0:
            if sign < 0:
                mode = TEST_NONE
            elif sign > 0:
                # V of these targets only grows during the instant, so only those at
                # threshold after this row can fire at its end; a later excitatory row
                # marks those it lifts
                mode = TEST_NOW
        elif sign < 0:
            mode = TEST_PENDING
        if mode == TEST_LATER and undriven and P[p, P_HASEXP] != 0.0 and P[p, P_G] > 0.0 \
                and P[p, P_SPONT] == 0.0:
            # test in the row only targets not certainly below threshold
            mode = TEST_BOUND
            if sign > 0 and P[p, P_KE] != 0.0:
                mode = TEST_BOUND_EXC
        proj_mode[pr] = mode
        proj_undriven[pr] = 1 if undriven else 0
        if proj_delay[pr] < 0.0 or P[p, P_FRAME] == 0.0:
            proj_k[pr] = -1
        elif pop_drv_ptr[p + 1] == pop_drv_ptr[p]:
            proj_k[pr] = 0
        elif P[p, P_TREF] > 0.0:
            proj_k[pr] = 2 + np.int64(sweep_dt / P[p, P_TREF])
        else:
            proj_k[pr] = -1
    # lanes into large populations (over pf_pop neurons, normally _PREFETCH_POP) load
    # their next rows ahead (_lane_prefetch)
    lane_pf = np.zeros(max(nlanes, 1), np.int64)
    for pr in range(nproj):
        p = proj_post_pop[pr]
        if proj_lane[pr] >= 0 and pop_off[p + 1] - pop_off[p] > pf_pop:
            lane_pf[proj_lane[pr]] = 1
    RX = (proj_post_off, proj_post_pop, proj_mode, proj_undriven, proj_k, lane_pf, w_mask)
    ndirty = _ZERO
    t_cur = -math.inf
    pops = _ZERO
    fj = _ZERO
    status = OK
    while True:
        if fast is not None:
            if PLS is None:
                # the common steps, in a loop that never replaces Q and SP (_fast_events)
                code, ndirty, t_cur, pops, fj, need, nspk = _fast_events(
                    P, neuron_pop, RX, RE, SRC, D, S, ST, Q, SP, cnt, sweep_dt, renorm_dt,
                    dirty, isdirty, t_end, max_events, info, idx_addr, w_addr, pmax, ndirty,
                    t_cur, pops, fj, XC)
                if code == X_ROOM:
                    Q, SP = _make_room(Q, SP, need, nspk)
                    continue
                if code == X_NONFINITE:
                    return NONFINITE, Q, SP
        # one step of any kind (X_SLOW), or the end of the run (X_END)
        if not _has_room(Q, SP, pmax + 2, _ONE):
            Q, SP = _make_room(Q, SP, pmax + 2, _ONE)
        # time of the next event inside this run (inf if none), and where it is
        t, src = next_event(Q)
        if t > t_end:
            t = math.inf
        if ndirty > 0 and t > t_cur:
            # the instant t_cur is complete: test thresholds.  This may queue events
            # at or before t_end (deliveries, candidates), so look again afterwards.
            # _flush written out: a call passing S, R, Q, SP costs atomic reference
            # counting of every array in them, per instant
            bad = -1
            j = fj
            while True:
                j, act, tc = _flush_quiet(P, neuron_pop, pop_off, t_cur, dirty, j, ndirty, isdirty,
                                          V, IE, II, TL, REF, CT, TGT, frame_tf, TH, cnt, XC)
                if act == F_DONE:
                    break
                n = dirty[j]
                if act == F_NONFINITE:
                    bad = n
                    break
                if not _has_room(Q, SP, pmax + 1, _ONE):
                    Q, SP = _make_room(Q, SP, pmax + 1, _ONE)
                if act == F_SPIKE:
                    _spike(P, _pop_of(n, pop_off), n, t_cur, S, RE, Q, SP, cnt, XC)
                else:
                    _schedule(n, tc, S, Q, cnt)
                j += 1
            ndirty = _ZERO
            fj = _ZERO
            if bad >= 0:
                info[0] = bad
                info[1] = t_cur
                return NONFINITE, Q, SP
            if PLS is not None:
                _post_plasticity(PLS, SP, R, neuron_pop, cnt)
            continue
        if t == math.inf:
            break
        if pops >= max_events and t > t_cur:
            # stop only between instants (all inputs of an instant, its threshold tests
            # and plasticity are done), so that the run can be continued exactly
            status = MAX_EVENTS
            break
        t, seq, kind, a, b, c, fs = _pop_event(Q, src, lane_pf, SRC, RE, idx_addr, w_addr,
                                               proj_post_off, proj_post_pop, pop_off, ST,
                                               isdirty, w_mask, cnt)
        pops += 1
        t_cur = t
        if kind == DELIVER or kind == LANE:
            heap_row = kind == DELIVER
            # one delay group of one row (heap), or the rows of a lane event
            nrow_done = _ZERO
            for qi in range(_event_nrows(kind, a, b, RE)):
                pr, row, j0, end = _event_row(kind, a, b, qi, RE)
                if j0 == end:
                    continue
                # a lane event counts one pop per non-empty row (the first at the pop)
                cnt[C_POP] += nrow_done
                nrow_done = _ONE
                gend = end
                if heap_row and proj_delay[pr] < 0.0:
                    # this delay group ends where the delay changes; queue the next group
                    dl = d_l[pr]
                    dg = dl[j0]
                    gend = j0 + 1
                    while gend < end and dl[gend] == dg:
                        gend += 1
                    if gend < end:
                        _qpush(Q, cnt, c + dl[gend], DELIVER, a, gend, c)
                if proj_pre_off[pr] >= src_off:
                    cnt[C_SYN_SRC] += gend - j0
                else:
                    cnt[C_SYN_REC] += gend - j0
                p = proj_post_pop[pr]
                kp = _ZERO - 1
                if PLS is not None:
                    kp = np.int64(PLS[0][pr])
                    if kp >= 0 and PLS[2][kp, K_REWARD] != 0.0:
                        # reward-modulated weights drift between events: bring them to t first
                        reward_sync_row(PLS[2], kp, w_l[pr], PLS[8][kp], PLS[9], j0, gend, t)
                if P[p, P_FRAME] != 0.0:
                    mode = proj_mode[pr]
                    if proj_undriven[pr] != 0:
                        ndirty = _undriven_targets(P, p, t, j0, gend, proj_post_off[pr],
                                                   idx_addr[pr], w_addr[pr], mode, dirty, ndirty,
                                                   isdirty, ST, frame_tf[p], cnt,
                                                   heap_row or lane_pf[b] == 0, XC, w_mask[pr])
                    else:
                        jr = j0
                        while True:
                            ndirty, jr, ns, ts = _frame_targets(
                                P, p, t, jr, gend, proj_post_off[pr], idx_addr[pr], w_addr[pr],
                                mode, dirty, ndirty, isdirty, ST, TH, frame_tf[p], D, cnt,
                                w_mask[pr])
                            if jr >= gend:
                                break
                            # an external drive arrival before t made ns fire at ts
                            if not _has_room(Q, SP, pmax + 1, _ONE):
                                Q, SP = _make_room(Q, SP, pmax + 1, _ONE)
                            _spike(P, p, ns, ts, S, RE, Q, SP, cnt, XC)
                elif XC is not None:
                    ndirty = _general_targets(P, p, t, j0, gend, proj_post_off[pr], idx_l[pr],
                                              w_l[pr], dirty, ndirty, isdirty, S, cnt, w_mask[pr])
                if PLS is not None:
                    if kp >= 0:
                        # plasticity after delivery: the spike is transmitted with the weight
                        # it found, then depresses it (Song et al. 2000)
                        pre_update(PLS[2], kp, row, t, idx_l[pr], w_l[pr], PLS[3][kp], PLS[4][kp],
                                   PLS[8][kp], PLS[9], j0, gend, cnt, C_TRACE, C_WUPD)
            if heap_row:
                _prefetch_next(Q, _ONE, RE, idx_addr, w_addr, proj_post_off, proj_post_pop,
                               pop_off, ST, isdirty, w_mask)
            if fs >= 0:
                _next_source(fs, c, SRC, Q, cnt)
        elif kind == CAND:
            ndirty = _candidate(a, seq, t, P, pop_off, S, Q, cnt, dirty, ndirty, isdirty, XC)
        elif kind == SOURCE:
            cnt[C_SRC_SPIKES] += 1
            _emit(src_off + a, _pop_of(src_off + a, RE[13]), t, RE, Q, cnt)
            _next_source(a, c, SRC, Q, cnt)
        elif kind == SWEEP:
            for p in range(npop):
                if pop_drv_ptr[p + 1] > pop_drv_ptr[p]:
                    Q, SP = _drive_to(P, p, t, pop_off[p], pop_off[p + 1], dirty, isdirty, S, ST, D,
                                      RE, Q, SP, cnt, pmax, XC)
            _qpush(Q, cnt, t + sweep_dt, SWEEP, _ZERO, _ZERO, 0.0)
        elif kind == RENORM:
            # move every frame population's origin to t
            for p in range(npop):
                g = P[p, P_G]
                if P[p, P_FRAME] != 0.0:
                    dtf = t - frame_tf[p]
                    if g > 0.0:
                        f = math.exp(-g * dtf)
                        for n in range(pop_off[p], pop_off[p + 1]):
                            V[n] *= f
                    else:
                        # non-leaky: V = U + c (t - tf) + ...; move the origin to t
                        for n in range(pop_off[p], pop_off[p + 1]):
                            V[n] += P[p, P_C] * dtf
                    fe = math.exp(-P[p, P_SE] * dtf)
                    fi = math.exp(-P[p, P_SI] * dtf)
                    for n in range(pop_off[p], pop_off[p + 1]):
                        IE[n] *= fe
                        II[n] *= fi
                    frame_tf[p] = t
            _qpush(Q, cnt, t + renorm_dt, RENORM, _ZERO, _ZERO, 0.0)
        elif kind == SAMPLE:
            k = a
            for j in range(rec_ids.shape[0]):
                n = rec_ids[j]
                p = neuron_pop[n]
                if P[p, P_FRAME] != 0.0:
                    if pop_drv_ptr[p + 1] > pop_drv_ptr[p]:
                        Q, SP = _drive_to(P, p, t, n, n + 1, dirty, isdirty, S, ST, D, RE, Q, SP, cnt,
                                          pmax, XC)
                    v, ie, ii = _frame_state(P, p, n, t, S)
                    if _refractory(t, REF[n]):
                        v = P[p, P_VRESET]
                    samp_out[k, j, 0] = v
                    samp_out[k, j, 1] = ie
                    samp_out[k, j, 2] = ii
                elif XC is not None:
                    v, ie, ii = state_at(P, p, n, S, t)
                    samp_out[k, j, 0] = v
                    samp_out[k, j, 1] = ie
                    samp_out[k, j, 2] = ii
    # (no threshold tests are pending here: the loop leaves only after the flush above)
    if PLS is not None:
        _post_plasticity(PLS, SP, R, neuron_pop, cnt)
    if status == OK:
        # spikes of driven neurons up to t_end must be known when the run returns
        for p in range(npop):
            if pop_drv_ptr[p + 1] > pop_drv_ptr[p]:
                Q, SP = _drive_to(P, p, t_end, pop_off[p], pop_off[p + 1], dirty, isdirty, S, ST, D,
                                  RE, Q, SP, cnt, pmax, XC)
    else:
        info[1] = t_cur
    return status, Q, SP


@njit(cache=True, _nrt=False)
def _next_source(s, ts, SRC, Q, cnt):
    """Queue the spike after source s's spike at ts (ms): drawn lazily for a Poisson
    source, the next time of a spike train; a fused source's at its arrival time (kind
    FUSED, carrying the spike time)."""
    src_off, src_kind, src_rate, st_ptr, st_times, src_rng, src_pos, src_lane, src_dly = SRC
    if src_kind[s] == 0:
        k = src_pos[s] + 1
        src_pos[s] = k
        if k < st_ptr[s + 1]:
            tn = st_times[k]
            _queue_source(s, tn, SRC, Q, cnt)
    else:
        # next_exponential written out (same arithmetic): it takes the state array,
        # and this function is compiled without reference counting
        st, e = exp_step(src_rng[s])
        src_rng[s] = st
        tn = ts + e * (1.0 / src_rate[s])
        _queue_source(s, tn, SRC, Q, cnt)


@njit(cache=True, _nrt=False)
def _queue_source(s, ts, SRC, Q, cnt):
    """Queue source s's spike at ts (ms): at ts to be emitted, or, for a fused source,
    at its arrival time to be delivered."""
    if SRC[7][s] >= 0:
        _qpush(Q, cnt, ts + SRC[8][s], FUSED, s, _ZERO, ts)
    elif wheel_push(Q, s, ts, Q[7][0]):
        # on the source wheel (engine.queue), with the sequence number _qpush would give
        Q[7][0] += 1
        cnt[C_PUSH] += 1
    else:
        # beyond the wheel's horizon
        _qpush(Q, cnt, ts, SOURCE, s, _ZERO, ts)


@njit(cache=True)
def init_sources(SRC, Q, cnt, t0):
    """Queue the first spike of every source (spike trains: their first time >= t0)."""
    src_off, src_kind, src_rate, st_ptr, st_times, src_rng, src_pos, src_lane, src_dly = SRC
    for s in range(src_kind.shape[0]):
        if src_kind[s] == 0:
            k = st_ptr[s]
            if k < st_ptr[s + 1]:
                src_pos[s] = k
                _queue_source(s, st_times[k], SRC, Q, cnt)
        elif src_rate[s] > 0.0:
            ts = t0 + next_exponential(src_rng, s, src_rate[s])
            _queue_source(s, ts, SRC, Q, cnt)


@njit(cache=True)
def init_drives(drv_next, drv_rng, drv_rate, drv_base, drv_n, t0):
    """First arrival time of every neuron's external drive stream."""
    for d in range(drv_rate.shape[0]):
        for i in range(drv_n[d]):
            k = drv_base[d] + i
            drv_next[k] = t0 + next_exponential(drv_rng, k, drv_rate[d])


@njit(cache=True)
def init_candidates(P, neuron_pop, S, Q, cnt, XC):
    """Queue the spontaneous (bias-driven) crossing of every neuron that has one (``XC``:
    see ``run_kernel``)."""
    V, IE, II, TL, REF, CSEQ, CT, TGT, frame_tf, TH = S
    for n in range(neuron_pop.shape[0]):
        p = neuron_pop[n]
        vth = _vth(P, p, TH, n)
        if P[p, P_FRAME] != 0.0:
            TL[n] = math.inf
            if P[p, P_HASEXP] == 0.0:
                tc = _cross_frame(P[p, P_G], P[p, P_VINF], P[p, P_C], vth, V[n],
                                  frame_tf[p], REF[n])
            elif XC is not None:
                v, ie, ii = _frame_state(P, p, n, 0.0, S)
                tc, TL[n] = _cross_general(P[p, P_G], P[p, P_K], P[p, P_SE], P[p, P_SI],
                                           P[p, P_VREST], vth, P[p, P_VRESET], P[p, P_IBIAS],
                                           P[p, P_PSIE], P[p, P_PSII], v, ie, ii, 0.0, REF[n])
            else:
                tc = math.inf
        elif XC is not None:
            tc, _ = _cross_general(P[p, P_G], P[p, P_K], P[p, P_SE], P[p, P_SI], P[p, P_VREST],
                                vth, P[p, P_VRESET], P[p, P_IBIAS], P[p, P_PSIE], P[p, P_PSII],
                                V[n], IE[n], II[n], TL[n], REF[n])
        else:
            tc = math.inf
        _schedule(n, tc, S, Q, cnt)


@njit(cache=True)
def reschedule(P, neuron_pop, S, Q, cnt, n0, n1, t):
    """The thresholds of neurons n0..n1 changed at time t (between runs): find each
    one's next crossing from its exact state at t.  A neuron already at or above its
    new threshold (and not refractory) fires at t."""
    V, IE, II, TL, REF, CSEQ, CT, TGT, frame_tf, TH = S
    for n in range(n0, n1):
        p = neuron_pop[n]
        vth = _vth(P, p, TH, n)
        frame = P[p, P_FRAME] != 0.0
        if frame:
            v, ie, ii = _frame_state(P, p, n, t, S)
            TL[n] = math.inf
        else:
            v, ie, ii = state_at(P, p, n, S, t)
        if v >= vth and not _refractory(t, REF[n]):
            tc = t
        elif frame and P[p, P_HASEXP] == 0.0:
            tc = _cross_frame(P[p, P_G], P[p, P_VINF], P[p, P_C], vth, V[n], frame_tf[p], REF[n])
        else:
            tc, ceil = _cross_general(P[p, P_G], P[p, P_K], P[p, P_SE], P[p, P_SI],
                                      P[p, P_VREST], vth, P[p, P_VRESET], P[p, P_IBIAS],
                                      P[p, P_PSIE], P[p, P_PSII], v, ie, ii, t, REF[n])
            if frame:
                TL[n] = ceil
        _schedule(n, tc, S, Q, cnt)
