"""The event loop: exact, event-driven simulation of a run plan.

``run_loop`` pops events in (time, sequence) order (``engine.queue``) and hands each to
the module that owns it: rows to ``engine.deliver``, candidates and spikes to
``engine.threshold``, source spikes to ``engine.emit``, plasticity to
``eventsnn.plasticity``.  When simulated time moves past an instant, the neurons its
inputs marked are tested (``threshold.test_marked``): all inputs of an instant are
applied before any test.

The loop never allocates: before every step it checks that the queue and the spike
records have room for the most that step can add, and otherwise it stores its position
in the state's cursor and returns ``ROOM``; the driver (``run``) grows the arrays and
calls it again, and it continues where it stopped.  A step that can fire an unknown
number of neurons (a row into a driven population, a sweep, a sample, the end of a run)
checks before each spike, so it can stop in its middle too.  Why not grow inside:
Numba reference-counts every array a function holds with atomic instructions when the
function can replace them, and those waited for the cache misses in flight (measured
-16 % on a 2e5-neuron network without them); the loop and everything it calls are
compiled without reference counting (``_nrt=False``).

Emission windows.  A neuron's spike is not queued when it is found but kept in
``State.emitq`` until its window closes: a ``SWEEP`` event every ``Consts.window_dt``
(the smallest delay out of a population) applies the lazy drive of every driven neuron
with targets up to now, so that every spike before now is known (a drive arrival's
spike is found when its neuron is next touched, possibly after its time), then queues
the window's spikes in (time, neuron) order (``emit.emit_window``); their deliveries
are due at or after now.  The order of same-instant inputs into a neuron (the order of
their spikes' queueing) then depends neither on the order of an instant's threshold
tests nor on when the drive found a spike: the canonical order that a run split over
processes can reproduce.

Bookkeeping events: ``SWEEP`` (above); ``RENORM``
moves the frame origin of every frame population to now before its factors can
overflow; ``SAMPLE`` records the exact state of chosen neurons.

External Poisson drive of frame populations is not queued: every driven neuron owns a
random stream whose arrivals are applied, in time order and exactly, whenever the
neuron is touched (``deliver.frame_targets``).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..models import P_FRAME, P_G, P_C, P_SE, P_SI, P_TREF, P_VRESET, refractory
from ..plasticity import (K_REWARD, post_update, pre_jump, reward_pre_update, reward_sync_row,
                          sync_depress_row)
from .deliver import (SWEEP_ONLY, Row, frame_targets, general_targets, lane_prefetch,
                      prefetch_row, undriven_targets, PREFETCH_POP)
from .emit import (CAND, DELIVER, FUSED, LANE, RENORM, SAMPLE, SAMPLE_SEQ, SOURCE, SWEEP, emit,
                   emit_window, fused_lane, group_of, next_source, prefetch_wheel, qpush, qpush_n, row_count,
                   wake)
from .hints import load_float64, prefetch
from .queue import lane_pop, lane_room, next_event, pop, push, reserve, wheel_pop
from .state import (C_POP, C_PUSH, C_SRC_SPIKES, C_SYN_REC, C_SYN_SRC, COL_IE, COL_II, COL_REF, COL_V,
                    F_EC, F_ET, F_PH_T, F_TCUR, K_EA, K_EB, K_EFS, K_EJR, K_EKIND, K_EQI, K_ESRC, K_EV,
                    K_FJ, K_NDIRTY, K_PH_J, K_PH_K, K_PH_P, K_PHASE, K_POPS, K_XCHG, SpikeRecord, State)
from .threshold import (F_DONE, F_NONFINITE, F_SPIKE, F_WAKE, candidate, frame_state_of,
                        schedule, spike, state_at, test_marked)

# status codes of run_loop
OK, MAX_EVENTS, NONFINITE, ROOM, MAX_SPIKES, MAX_QUEUE, TWICE, EXCHANGE = 0, 1, 2, 3, 4, 5, 6, 7

# what a step of the loop leaves to it (np.int64: see emit.DELIVER)
_GO, _ROOM, _BAD, _TWICE = (np.int64(k) for k in range(4))

# phases the loop can stop in (cursor slot K_PHASE)
PH_NONE, PH_SWEEP, PH_SAMPLE, PH_END, PH_EMIT = (np.int64(k) for k in range(5))

_ZERO = np.int64(0)
_ONE = np.int64(1)


@njit(cache=True, _nrt=False)
def _has_room(S, need):
    """Room for ``need`` more heap events, one more recorded spike of a neuron and of a
    source, one more waiting spike, and one more event in every lane (a spike pushes at
    most one per lane)?"""
    Q = S.queue
    return Q.n[0] + need <= Q.t.shape[0] and S.spikes.count[0] < S.spikes.t.shape[0] \
        and S.src_spikes.count[0] < S.src_spikes.t.shape[0] \
        and S.emitq.count[0] < S.emitq.t.shape[0] and lane_room(Q, _ONE)


@njit(cache=True, _nrt=False)
def _event_nrows(kind, a, b, G):
    """Number of rows a popped delivery delivers: 1 for a DELIVER event, the projections
    of the lane's delay group for a lane event (payload a = (group << 32) | row, lane b)."""
    if kind == DELIVER:
        return _ONE
    gl = (a >> 32) * G.lane_delay.shape[0] + b
    return G.grp_lane_ptr[gl + 1] - G.grp_lane_ptr[gl]


@njit(cache=True, _nrt=False)
def _event_row(kind, a, b, qi, G):
    """(projection, row, first entry, end of the row) of row qi of a popped delivery: a
    DELIVER event's payload (a, b) = ((projection << 32) | row, first entry), or the
    qi-th projection of lane event (a, b).  An empty row has first == end."""
    row = a & 0xFFFFFFFF
    if kind == DELIVER:
        pr = a >> 32
        return pr, row, b, G.row_ptr[G.row_ptr_off[pr] + row + 1]
    pr = np.int64(G.grp_lane_proj[G.grp_lane_ptr[(a >> 32) * G.lane_delay.shape[0] + b] + qi])
    ir = G.row_ptr_off[pr] + row
    return pr, row, G.row_ptr[ir], G.row_ptr[ir + 1]


@njit(cache=True, _nrt=False)
def _prefetch_next(Q, targets, G, B, pops_, ST, isdirty):
    """Start loading what the heap's next event will touch, if it is a delivery into a
    large population: with ``targets`` False the start of its row (and its row pointer),
    with ``targets`` True its targets' state lines.  A row's work is a chain of cache
    misses (row pointer -> targets and weights -> target states); in a network much
    larger than the cache that latency, not arithmetic, bounds the delivery."""
    if Q.n[0] == 0 or Q.kind[0] != DELIVER:
        return
    a = Q.a[0]
    pr = a >> 32
    row = a & 0xFFFFFFFF
    p = G.proj_post_pop[pr]
    if pops_[p + 1] - pops_[p] <= PREFETCH_POP:
        return
    i = G.row_ptr_off[pr] + row
    j0 = Q.b[0]
    j1 = G.row_ptr[i + 1] if targets else j0
    if not targets:
        prefetch(G.row_ptr, i + 1)
    prefetch_row(ST, isdirty, Row(j0, j1, G.proj_post_off[pr], B.idx_addr[pr], B.w_addr[pr],
                                  B.w_mask[pr]), targets)


@njit(cache=True, _nrt=False)
def _drive_range(PN, G, DR, S, p, t, j, n1, pmax, xc):
    """Apply the lazy drive of neurons j..n1 - 1 of population p up to t (ms), firing those
    it carries over threshold.  Returns (_GO, n1) or, when room ran out before a spike,
    (_ROOM, the neuron to continue from)."""
    N = S.neurons
    while True:
        if not _has_room(S, pmax + 2):
            return _ROOM, j
        _, j, ns, ts = frame_targets(PN.P, p, t, Row(j, n1, _ZERO, _ZERO, _ZERO, _ZERO), SWEEP_ONLY,
                                     _ZERO, S.scratch, N, DR, S.drives, S.cnt, PN.pop_off)
        if j >= n1:
            return _GO, j
        spike(PN.P, p, ns, ts, N, G, S.queue, S.spikes, S.emitq, S.rec, S.cnt, xc)


@njit(cache=True, _nrt=False)
def _drive_pops(PN, G, DR, S, t, p, j, pmax, xc, window):
    """``_drive_range`` of every driven population (with ``window``, of those whose
    spikes wait for their window) from population p, neuron j on: (_GO, -, -) when
    done, else (_ROOM, p, j) to continue from."""
    npop = PN.pop_off.shape[0] - 1
    while p < npop:
        if DR.pop_drv_ptr[p + 1] > DR.pop_drv_ptr[p] and (not window or G.grp_buffer[p] != 0):
            # (the neurons this process simulates)
            code, j = _drive_range(PN, G, DR, S, p, t, max(j, PN.own[p, 0]), PN.own[p, 1], pmax, xc)
            if code != _GO:
                return code, p, j
        p += 1
        j = _ZERO
    return _GO, p, j


@njit(cache=True, _nrt=False)
def _sample(PL, S, t, a, j, xc):
    """Write the variables of probe a's neurons j.. at time t (ms), after applying their
    lazy drive, into the sample buffer: (_GO, -) or (_ROOM, the neuron to continue from)."""
    P = PL.pops.P
    pop_off = PL.pops.pop_off
    PR = PL.probes
    R = S.rec
    N = S.neurons
    ST = N.block
    i0 = PR.ptr[a]
    m = PR.ptr[a + 1] - i0
    vb = PR.vars[a]
    nv = (vb & 1) + ((vb >> 1) & 1) + ((vb >> 2) & 1) + ((vb >> 3) & 1)
    base = R.n[0]
    if base + m * nv > R.vals.shape[0]:
        raise RuntimeError("sample buffer full: room was not made (internal error)")
    while j < m:
        n = PR.ids[i0 + j]
        p = group_of(n, pop_off)
        v = ie = ii = 0.0
        if P[p, P_FRAME] != 0.0:
            if PL.drives.pop_drv_ptr[p + 1] > PL.drives.pop_drv_ptr[p]:
                code, _ = _drive_range(PL.pops, PL.graph, PL.drives, S, p, t, n, n + 1,
                                       PL.consts.pmax, xc)
                if code != _GO:
                    return code, j
            v, ie, ii = frame_state_of(P, p, n, t, N)
            if refractory(t, ST[n, COL_REF]):
                v = P[p, P_VRESET]
            elif N.adapt[p] == 2:
                v += N.voff[n]
        elif xc is not None:
            v, ie, ii = state_at(P, p, n, ST, t)
            if N.adapt[p] == 2:
                v += N.voff[n]
        o = base + j * nv
        if (vb & 1) != 0:
            R.vals[o] = v
            o += 1
        if (vb & 2) != 0:
            R.vals[o] = ie
            o += 1
        if (vb & 4) != 0:
            R.vals[o] = ii
            o += 1
        if (vb & 8) != 0:
            R.vals[o] = N.theta[n] + N.voff[n]
        j += 1
    return _GO, j


@njit(cache=True, _nrt=False)
def _sample_start(S, a, b):
    """Note that sample b of probe a is being taken (its values follow)."""
    R = S.rec
    e = R.n[1]
    if e >= R.ev.shape[0]:
        raise RuntimeError("sample buffer full: room was not made (internal error)")
    R.ev[e, 0] = a
    R.ev[e, 1] = b


@njit(cache=True, _nrt=False)
def _sample_done(PL, S):
    """Close the sample being taken and queue the probe's next one, if any.  A probe's
    events share one sequence number below every other event's, so all samples of an
    instant come first in it (left limits)."""
    PR = PL.probes
    R = S.rec
    e = R.n[1]
    a = R.ev[e, 0]
    b = R.ev[e, 1] + 1
    vb = PR.vars[a]
    nv = (vb & 1) + ((vb >> 1) & 1) + ((vb >> 2) & 1) + ((vb >> 3) & 1)
    R.n[0] += (PR.ptr[a + 1] - PR.ptr[a]) * nv
    R.n[1] = e + 1
    if PR.dt[a] > 0.0:
        tn = PR.start[a] + b * PR.dt[a]
        if not tn <= PR.stop[a]:
            return
    else:
        if PR.tptr[a] + b >= PR.tptr[a + 1]:
            return
        tn = PR.times[PR.tptr[a] + b]
    push(S.queue, tn, SAMPLE_SEQ + a, SAMPLE, a, b, 0.0)
    S.cnt[C_PUSH] += PL.sources.share[0]


@njit(cache=True, _nrt=False)
def _close_window(PL, S, t, info):
    """The end at t (ms) of an emission window, after its sweep: queue its spikes
    (``emit.emit_window``) and the next window's end.  OK, or ROOM (phase PH_EMIT) to
    be called again when the queue has room for all of them.  A partitioned run first
    returns EXCHANGE (phase PH_EMIT, info[1] = t): the driver adds the other processes'
    spikes of the window to ``S.emitq``, sets cursor slot K_XCHG and calls again."""
    EB = S.emitq
    Q = S.queue
    ci = S.cursor.i
    if PL.consts.ranks > 1 and ci[K_XCHG] == 0:
        ci[K_PHASE] = PH_EMIT
        S.cursor.f[F_PH_T] = t
        info[1] = t
        return EXCHANGE
    m = EB.count[0]
    pmax = PL.consts.pmax
    if Q.n[0] + m * pmax + 1 > Q.t.shape[0] or not lane_room(Q, m):
        ci[K_PHASE] = PH_EMIT
        S.cursor.f[F_PH_T] = t
        info[2] = m * pmax + 1
        info[3] = m
        return ROOM
    emit_window(EB, t, PL.graph, Q, S.cnt)
    qpush_n(Q, S.cnt, PL.sources.share[0], t + PL.consts.window_dt, SWEEP, _ZERO, _ZERO, 0.0)
    ci[K_PHASE] = PH_NONE
    ci[K_XCHG] = 0
    return OK


@njit(cache=True, _nrt=False)
def _renorm(P, own, N, t):
    """Move every frame population's origin to t (ms) (its neurons this process
    simulates: ``own``, global id ranges)."""
    ST = N.block
    for p in range(P.shape[0]):
        if P[p, P_FRAME] != 0.0:
            g = P[p, P_G]
            dtf = t - N.tf[p]
            if g > 0.0:
                f = math.exp(-g * dtf)
                for n in range(own[p, 0], own[p, 1]):
                    ST[n, COL_V] *= f
            else:
                # non-leaky: V = U + c (t - tf) + ...; move the origin to t
                for n in range(own[p, 0], own[p, 1]):
                    ST[n, COL_V] += P[p, P_C] * dtf
            fe = math.exp(-P[p, P_SE] * dtf)
            fi = math.exp(-P[p, P_SI] * dtf)
            for n in range(own[p, 0], own[p, 1]):
                ST[n, COL_IE] *= fe
                ST[n, COL_II] *= fi
            N.tf[p] = t


@njit(cache=True, _nrt=False, inline="always")
def _post_plasticity(PL, B, S, pls):
    """Potentiation for every spike recorded since the last call.

    Called right after each instant's threshold tests: neurons that are targets of
    plastic projections spike only there, after all inputs of their instant, so every
    presynaptic arrival at the spike time has already updated its trace."""
    PI, TR = pls.plan, pls.state
    pop_off = PL.pops.pop_off
    G = PL.graph
    SP = S.spikes
    for i in range(TR.seen[0], SP.count[0]):
        n = SP.n[i]
        t = SP.t[i]
        p = group_of(n, pop_off)
        for q in range(PI.pop_pl_ptr[p], PI.pop_pl_ptr[p + 1]):
            k = PI.pop_pl[q]
            pr = PI.pl_proj[k]
            post_update(PI.PL, PI, k, TR.learn, n - G.proj_post_off[pr], t, G.row_ptr,
                        G.row_ptr_off[pr], B.w_addr[pr], TR, pls.ring, S.cnt)
    RC = S.rec
    if RC.mode[0] == 2:
        # drop the spikes that were kept only for the rules read above
        w = TR.seen[0]
        for i in range(TR.seen[0], SP.count[0]):
            n = SP.n[i]
            t = SP.t[i]
            if (RC.mask[n] & 1) != 0 and RC.win[0] <= t <= RC.win[1]:
                SP.n[w] = n
                SP.t[w] = t
                w += 1
        SP.count[0] = w
    TR.seen[0] = SP.count[0]


@njit(cache=True, _nrt=False, inline="always")
def _rows(PL, B, S, t, kind, a, b, c, qi0, jr, pf_later, xc, pls):
    """Deliver the rows of a popped delivery event (kind DELIVER or LANE, payload a, b,
    spike time c) from row qi on (entry jr of it, -1: the row has not started).
    Returns (_GO, -, -) when done, else (_ROOM, qi, jr) to continue from
    (a drive arrival fired a target and room ran out)."""
    P = PL.pops.P
    pop_off = PL.pops.pop_off
    G = PL.graph
    N = S.neurons
    ST = N.block
    Q = S.queue
    SC = S.scratch
    cnt = S.cnt
    pmax = PL.consts.pmax
    ndirty = S.cursor.i[K_NDIRTY]
    heap_row = kind == DELIVER
    qi = qi0
    for qi in range(qi0, _event_nrows(kind, a, b, G)):
        pr, row, j0, end = _event_row(kind, a, b, qi, G)
        if j0 == end:
            jr = _ZERO - 1
            continue
        gend = end
        wa = B.w_addr[pr]
        if heap_row and G.proj_delay[pr] < 0.0:
            # this delay group ends where the delay changes
            da = B.d_addr[pr]
            dg = load_float64(da, j0)
            gend = j0 + 1
            while gend < end and load_float64(da, gend) == dg:
                gend += 1
            if jr < 0 and gend < end:
                qpush(Q, cnt, c + load_float64(da, gend), DELIVER, a, gend, c)
        kp = _ZERO - 1
        fused = False
        rewarded = False
        if pls is not None:
            kp = np.int64(pls.plan.proj_pl[pr])
            if kp >= 0 and pls.state.learn[kp] != 0.0:
                # pair and triplet rules learning: the delivery reads the weights brought
                # up to t from the row buffer (sync_depress_row), also when it resumes
                # the row; reward rules learning feed their eligibilities afterwards
                rewarded = pls.plan.PL[kp, K_REWARD] != 0.0
                fused = not rewarded
        wd = wa
        if fused:
            wd = pls.wbuf_addr - 8 * j0
        if jr < 0:
            # one pop per row with synapses (a heap row's, or one of a lane event's)
            cnt[C_POP] += row_count(G, pr, row)
            if G.proj_pre_off[pr] >= PL.sources.off[0]:
                cnt[C_SYN_SRC] += gend - j0
            else:
                cnt[C_SYN_REC] += gend - j0
            if pls is not None and kp >= 0:
                TR = pls.state
                PI = pls.plan
                if PI.PL[kp, K_REWARD] != 0.0:
                    # reward-modulated weights drift between events: bring them to t first
                    reward_sync_row(PI.PL, kp, TR.learn, wa, TR.elig, PI.elig_off[kp], TR.rw,
                                    j0, gend, t)
                elif fused:
                    # the potentiations the synapses owe to postsynaptic spikes before t,
                    # into the row buffer; the weights keep them and this depression
                    sync_depress_row(PI.PL, kp, row, t, B.idx_addr[pr], wa, TR, pls.ring,
                                     (PI.pre_off[kp], PI.post_off[kp]), j0, gend, pls.wbuf, cnt)
            jr = j0
        p = G.proj_post_pop[pr]
        row_ = Row(jr, gend, G.proj_post_off[pr], B.idx_addr[pr], wd, B.w_mask[pr])
        if P[p, P_FRAME] != 0.0:
            mode = B.proj_mode[pr]
            if B.proj_undriven[pr] != 0:
                ndirty = undriven_targets(P, p, t, row_, mode, ndirty, SC, ST, N.tf[p], cnt,
                                          heap_row or G.lane_pf[b] == 0, xc)
            else:
                while True:
                    # the targets' drive may fire one of them: room for its spike first
                    # (the kernel stops at the arrival that crossed, which must fire next)
                    if not _has_room(S, pmax + 2):
                        S.cursor.i[K_NDIRTY] = ndirty
                        return _ROOM, qi, jr
                    ndirty, jr, ns, ts = frame_targets(P, p, t, row_, mode, ndirty, SC, N,
                                                       PL.drives, S.drives, cnt, pop_off)
                    if jr >= gend:
                        break
                    # an external drive arrival before t made ns fire at ts
                    spike(P, p, ns, ts, N, G, Q, S.spikes, S.emitq, S.rec, cnt, xc)
                    row_ = Row(jr, gend, G.proj_post_off[pr], B.idx_addr[pr], wd, B.w_mask[pr])
        elif xc is not None:
            ndirty = general_targets(P, p, t, row_, ndirty, SC, ST, cnt)
        if pls is not None and kp >= 0:
            # plasticity after delivery: the spike is transmitted with the weight it
            # found, then depresses it (Song et al. 2000)
            PI = pls.plan
            if rewarded:
                reward_pre_update(PI.PL, kp, row, t, B.idx_addr[pr], pls.state,
                                  (PI.pre_off[kp], PI.post_off[kp]), PI.elig_off[kp], j0, gend, cnt,
                                  row_count(G, pr, row))
            else:
                pre_jump(PI.PL, kp, row, t, pls.state, (PI.pre_off[kp], PI.post_off[kp]), cnt,
                         row_count(G, pr, row))
        jr = _ZERO - 1
    S.cursor.i[K_NDIRTY] = ndirty
    if heap_row:
        _prefetch_next(Q, _ONE, G, B, pop_off, ST, SC.isdirty)
    elif pf_later:
        # the lane's look-ahead loads, after this event's rows: issued before them, the
        # next row's ~100 state-line misses took the line-fill buffers that this row's
        # own loads (from L2) then waited for; after them they overlap the following
        # events (measured: -7 % on the 10^6 case)
        lane_prefetch(Q, b, G, B, ST)
    return _GO, qi, jr


@njit(cache=True, _nrt=False, inline="always")
def _flush(PL, S, t_cur, j, xc):
    """The threshold tests of the instant t_cur, from entry j of the marked list:
    (_GO, -) when done, (_ROOM, j) to continue from, (_BAD, j) (non-finite state) or
    (_TWICE, j) (a neuron without refractory period would fire twice at t_cur)."""
    P = PL.pops.P
    pop_off = PL.pops.pop_off
    N = S.neurons
    ndirty = S.cursor.i[K_NDIRTY]
    pmax = PL.consts.pmax
    while True:
        if not _has_room(S, pmax + 1):
            return _ROOM, j
        j, act, tc = test_marked(P, pop_off, t_cur, S.scratch, j, ndirty, N, S.cnt, xc)
        if act == F_DONE:
            return _GO, j
        n = S.scratch.dirty[j]
        if act == F_NONFINITE:
            return _BAD, j
        if act == F_SPIKE:
            p = group_of(n, pop_off)
            if N.block[n, COL_REF] == t_cur and P[p, P_TREF] == 0.0:
                # it fired at t_cur already: its interspike interval is below float64
                # resolution, and firing again would never end the instant
                return _TWICE, j
            spike(P, p, n, t_cur, N, PL.graph, S.queue, S.spikes, S.emitq, S.rec, S.cnt, xc)
        elif act == F_WAKE:
            wake(n, tc, N.block, N.cseq, S.queue, S.cnt)
        else:
            schedule(n, tc, N.block, N.cseq, S.queue, S.cnt)
        j += 1


@njit(cache=True, _nrt=False)
def _resume(PL, B, S, info, xc, pls):
    """Continue the step that stopped for room or an exchange (``ROOM`` or ``EXCHANGE``
    again if it must stop again)."""
    G = PL.graph
    ci = S.cursor.i
    cf = S.cursor.f
    pmax = PL.consts.pmax
    if ci[K_EV] != 0:
        code, qi, jr = _rows(PL, B, S, cf[F_ET], ci[K_EKIND], ci[K_EA], ci[K_EB], cf[F_EC],
                             ci[K_EQI], ci[K_EJR], ci[K_ESRC] >= 0 and G.lane_pf[ci[K_ESRC]] != 0, xc, pls)
        if code != _GO:
            return _stop_event(ci, info, pmax, qi, jr)
        ci[K_EV] = 0
        if ci[K_EFS] >= 0:
            next_source(ci[K_EFS], cf[F_EC], PL.sources, S.sources, S.queue, S.src_spikes, S.cnt)
    elif ci[K_PHASE] == PH_SWEEP:
        code, p, j = _drive_pops(PL.pops, G, PL.drives, S, cf[F_PH_T], ci[K_PH_P], ci[K_PH_J],
                                 pmax, xc, True)
        if code != _GO:
            return _stop_phase(ci, info, pmax, PH_SWEEP, p, j)
        return _close_window(PL, S, cf[F_PH_T], info)
    elif ci[K_PHASE] == PH_EMIT:
        return _close_window(PL, S, cf[F_PH_T], info)
    elif ci[K_PHASE] == PH_SAMPLE:
        code, j = _sample(PL, S, cf[F_PH_T], ci[K_PH_K], ci[K_PH_J], xc)
        if code != _GO:
            return _stop_phase(ci, info, pmax, PH_SAMPLE, ci[K_PH_K], j)
        _sample_done(PL, S)
        ci[K_PHASE] = PH_NONE
    return OK


@njit(cache=True, _nrt=False, inline="always")
def _pop_next(Q, src, PL, B, S):
    """Pop the next event from lane ``src`` (>= 0), the source wheel (-2) or the heap,
    count it, and start loading what the coming steps will touch (the wheel's next
    source, the heap's next candidate or row).  A fused source's spike comes back as
    the lane event that delivers it.  Returns (t, seq, kind, a, b, c, fs), fs the fused
    source (-1 if the event was not one)."""
    G = PL.graph
    SRC = PL.sources
    if src >= 0:
        t, seq, a = lane_pop(Q, src)
        kind = LANE
        b = src
        c = 0.0
    elif src == -2:
        # a source spike, or a fused source's arrival, from the source wheel (as queued
        # by emit.queue_source)
        t, seq, a = wheel_pop(Q)
        b = _ZERO
        if SRC.lane[a] >= 0:
            kind = FUSED
            c = Q.w_c[a]
        else:
            kind = SOURCE
            c = t
        prefetch_wheel(Q, SRC, S.sources, G)
    else:
        t, seq, kind, a, b, c = pop(Q)
        if Q.n[0] > 0 and Q.kind[0] == CAND:
            prefetch(S.neurons.block, Q.a[0])        # the next candidate's state line
    # pops: a delivery's are counted per row (``_rows``); what every process of a
    # partitioned run does alike, by rank 0 (``Sources.share``)
    fs = _ZERO - 1
    if kind == CAND:
        S.cnt[C_POP] += 1
    elif kind == FUSED:
        fs = a
        S.cnt[C_POP] += SRC.fused_pop[a]
        a, b = fused_lane(a, SRC, G)
        kind = LANE
        S.cnt[C_SRC_SPIKES] += SRC.share[0]
    elif kind != LANE and kind != DELIVER:
        S.cnt[C_POP] += SRC.share[0]
    if kind == DELIVER:
        _prefetch_next(Q, _ZERO, G, B, PL.pops.pop_off, S.neurons.block, S.scratch.isdirty)
    return t, seq, kind, a, b, c, fs


@njit(cache=True, _nrt=False)
def _bookkeeping(PL, S, t, kind, a, b, info, xc):
    """A SWEEP, RENORM or SAMPLE event at t (see the module docstring); OK, ROOM or
    EXCHANGE (``_close_window``)."""
    ci = S.cursor.i
    cf = S.cursor.f
    pmax = PL.consts.pmax
    if kind == SWEEP:
        cf[F_PH_T] = t
        code, p, j = _drive_pops(PL.pops, PL.graph, PL.drives, S, t, _ZERO, _ZERO, pmax, xc, True)
        if code != _GO:
            return _stop_phase(ci, info, pmax, PH_SWEEP, p, j)
        return _close_window(PL, S, t, info)
    elif kind == RENORM:
        _renorm(PL.pops.P, PL.pops.own, S.neurons, t)
        qpush_n(S.queue, S.cnt, PL.sources.share[0], t + PL.consts.renorm_dt, RENORM, _ZERO, _ZERO, 0.0)
    elif kind == SAMPLE:
        cf[F_PH_T] = t
        _sample_start(S, a, b)
        code, j = _sample(PL, S, t, a, _ZERO, xc)
        if code != _GO:
            return _stop_phase(ci, info, pmax, PH_SAMPLE, a, j)
        _sample_done(PL, S)
    return OK


@njit(cache=True, _nrt=False)
def _end_of_run(PL, B, S, t_end, info, xc, pls):
    """The end of a run at t_end: potentiation of the last spikes, then the lazy drive of
    every driven neuron up to t_end (its spikes must be known when the run returns);
    OK or ROOM (the drive then continues from the cursor)."""
    ci = S.cursor.i
    if ci[K_PHASE] != PH_END:
        if pls is not None:
            _post_plasticity(PL, B, S, pls)
        ci[K_PH_P] = 0
        ci[K_PH_J] = 0
    code, p, j = _drive_pops(PL.pops, PL.graph, PL.drives, S, t_end, ci[K_PH_P], ci[K_PH_J],
                             PL.consts.pmax, xc, False)
    if code != _GO:
        return _stop_phase(ci, info, PL.consts.pmax, PH_END, p, j)
    ci[K_PHASE] = PH_NONE
    return OK


@njit(cache=True, _nrt=False)
def run_loop(PL, B, S, t_end, limits, info, xc, pls):
    """Process every event with time <= t_end (ms), continuing from the cursor.

    Returns a status: OK; MAX_EVENTS, MAX_SPIKES or MAX_QUEUE when a guard of
    ``limits`` (int64: queue pops in this call, spikes in the record, heap events plus
    lane capacity plus spikes waiting for their window) was reached, the run stopped between instants (info[1]: the time
    reached); NONFINITE or TWICE (info: the neuron and the time) or ROOM (info[2]: heap events
    to make room for, info[3]: spikes): the driver grows the arrays and calls again;
    EXCHANGE (partitioned runs, at the end info[1] of every emission window: see
    ``_close_window``).

    ``xc`` is None for networks of delta-synapse frame populations only and ``pls``
    None for networks without plasticity: Numba then prunes those branches, so their
    kernels are not compiled for such networks (about 4 and 3 s of cold start).  ``pls``
    is a ``PlasticRun``.
    """
    P = PL.pops.P
    pop_off = PL.pops.pop_off
    G = PL.graph
    SRC = PL.sources
    Q = S.queue
    cnt = S.cnt
    ci = S.cursor.i
    cf = S.cursor.f
    pmax = PL.consts.pmax
    t_cur = cf[F_TCUR]
    code = _resume(PL, B, S, info, xc, pls)
    if code != OK:
        return code
    while ci[K_PHASE] != PH_END:
        if not _has_room(S, pmax + 2):
            info[2] = pmax + 2
            info[3] = 1
            return ROOM
        t, src = next_event(Q)
        if t > t_end:
            t = math.inf
        if ci[K_NDIRTY] > 0 and t > t_cur:
            # the instant t_cur is complete: test thresholds.  This may queue events at
            # or before t_end (deliveries, candidates), so look again afterwards.
            code, j = _flush(PL, S, t_cur, ci[K_FJ], xc)
            if code == _ROOM:
                ci[K_FJ] = j
                info[2] = pmax + 1
                info[3] = 1
                return ROOM
            ci[K_NDIRTY] = 0
            ci[K_FJ] = 0
            if code == _BAD or code == _TWICE:
                info[0] = S.scratch.dirty[j]
                info[1] = t_cur
                return NONFINITE if code == _BAD else TWICE
            if pls is not None:
                _post_plasticity(PL, B, S, pls)
            continue
        if t == math.inf:
            break
        if t > t_cur and (ci[K_POPS] >= limits[0] or S.spikes.count[0] >= limits[1]
                          or Q.n[0] + Q.lane_t.shape[0] + S.emitq.count[0] >= limits[2]):
            # the run's guards stop it only between instants (all inputs of an instant,
            # its threshold tests and plasticity are done), so that it can be continued
            # exactly
            info[1] = t_cur
            if ci[K_POPS] >= limits[0]:
                return MAX_EVENTS
            return MAX_SPIKES if S.spikes.count[0] >= limits[1] else MAX_QUEUE
        t, seq, kind, a, b, c, fs = _pop_next(Q, src, PL, B, S)
        ci[K_POPS] += 1
        t_cur = t
        cf[F_TCUR] = t
        if kind == DELIVER or kind == LANE:
            code, qi, jr = _rows(PL, B, S, t, kind, a, b, c, _ZERO, _ZERO - 1,
                                 src >= 0 and G.lane_pf[src] != 0, xc, pls)
            if code != _GO:
                ci[K_EV] = 1
                ci[K_EKIND] = kind
                ci[K_EA] = a
                ci[K_EB] = b
                ci[K_ESRC] = src
                ci[K_EFS] = fs
                cf[F_ET] = t
                cf[F_EC] = c
                return _stop_event(ci, info, pmax, qi, jr)
            if fs >= 0:
                next_source(fs, c, SRC, S.sources, Q, S.src_spikes, cnt)
        elif kind == CAND:
            ci[K_NDIRTY] = candidate(a, seq, t, P, pop_off, S.neurons, Q, cnt, S.scratch, ci[K_NDIRTY],
                                     xc)
        elif kind == SOURCE:
            cnt[C_SRC_SPIKES] += SRC.share[0]
            emit(SRC.off[0] + a, group_of(SRC.off[0] + a, G.grp_off), t, G, Q, cnt)
            next_source(a, c, SRC, S.sources, Q, S.src_spikes, cnt)
        else:
            code = _bookkeeping(PL, S, t, kind, a, b, info, xc)
            if code != OK:
                return code
    # (no threshold tests are pending here: the loop leaves only after the flush above)
    return _end_of_run(PL, B, S, t_end, info, xc, pls)


@njit(cache=True, _nrt=False)
def _stop_event(ci, info, pmax, qi, jr):
    """Keep the position in a row event and ask for room for one more spike."""
    ci[K_EQI] = qi
    ci[K_EJR] = jr
    info[2] = pmax + 2
    info[3] = 1
    return ROOM


@njit(cache=True, _nrt=False)
def _stop_phase(ci, info, pmax, phase, p, j):
    """Keep the position in a sweep, a sample or the end of a run (p: population or
    sample, j: neuron or sampled neuron) and ask for room for one more spike."""
    ci[K_PHASE] = phase
    if phase == PH_SAMPLE:
        ci[K_PH_K] = p
    else:
        ci[K_PH_P] = p
    ci[K_PH_J] = j
    info[2] = pmax + 2
    info[3] = 1
    return ROOM


# ------------------------------------------------------------------------- driver
def grow_record(rec: SpikeRecord, need: int) -> SpikeRecord:
    """``rec`` itself if it has room for ``need`` more spikes, else a copy twice as large."""
    i = int(rec.count[0])
    if i + need <= rec.t.shape[0]:
        return rec
    new = max(2 * rec.t.shape[0], i + need, 1024)
    t = np.empty(new)
    t[:i] = rec.t[:i]
    n = np.empty(new, np.int64)
    n[:i] = rec.n[:i]
    return SpikeRecord(t, n, rec.count)


def grow(S: State, need: int, nspk: int) -> State:
    """The state with room for ``need`` more heap events, ``nspk`` more spikes of neurons
    and of sources, and ``nspk`` more events in every lane (arrays grown by doubling)."""
    return S._replace(queue=reserve(S.queue, need, nspk), spikes=grow_record(S.spikes, nspk),
                      src_spikes=grow_record(S.src_spikes, nspk), emitq=grow_record(S.emitq, nspk))
